//! What `mock-cognito` tells a developer on start: the pool's URLs, the client
//! and its secret, the users, and a sidecar command line that works pasted.

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use super::cli::MockArgs;
use super::{MockClient, MockConfig, MockHandle};

/// The sidecar's callback under its default `/oauth2` prefix.
pub(crate) fn callback_of(sidecar: &url::Url) -> String {
    let mut url = sidecar.clone();
    url.set_path("/oauth2/callback");
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The sidecar's default sign-out URL is `<prefix>/signed_out` beside its
/// `<prefix>/callback`: allow it for every such callback, so sign-out works
/// without anyone registering it.
pub(crate) fn allow_default_sign_out(client: &mut MockClient) {
    let defaults: Vec<String> = client
        .callback_urls
        .iter()
        .filter_map(|cb| cb.strip_suffix("/callback"))
        .map(|prefix| format!("{prefix}/signed_out"))
        .collect();
    for url in defaults {
        if !client.logout_urls.contains(&url) {
            client.logout_urls.push(url);
        }
    }
}

/// Everything printed on start.
pub(crate) fn describe(handle: &MockHandle, config: &MockConfig, args: &MockArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "mock Cognito user pool {} is up", handle.pool_id());
    let _ = writeln!(out, "  hosted domain: {}", handle.base_url());
    let _ = writeln!(out, "  issuer:        {}", handle.issuer());
    let _ = writeln!(out, "  discovery:     {}", handle.discovery_url());
    let _ = writeln!(out, "  jwks:          {}", handle.jwks_url());
    for client in &config.clients {
        let secret = client.client_secret.as_deref().unwrap_or("(public client)");
        let _ = writeln!(out, "  app client:    {}", client.client_id);
        let _ = writeln!(out, "    secret:      {secret}");
        let _ = writeln!(out, "    callbacks:   {}", client.callback_urls.join(", "));
        let _ = writeln!(out, "    sign-outs:   {}", client.logout_urls.join(", "));
    }
    for user in &config.users {
        let email = match (&user.email, user.email_verified) {
            (Some(e), true) => format!("{e}, verified"),
            (Some(e), false) => format!("{e}, not verified"),
            (None, _) => "no email".into(),
        };
        let groups = match user.groups.is_empty() {
            true => "none".to_string(),
            false => user.groups.join(" | "),
        };
        let _ = writeln!(
            out,
            "  user:          {} / {}   ({email}; groups: {groups})",
            user.username, user.password,
        );
    }
    if let Some(command) = sidecar_command(handle, config, args) {
        let _ = writeln!(
            out,
            "\nRun a sidecar against it (paste into another terminal; --upstream is your app):\n"
        );
        let _ = writeln!(out, "{command}\n");
    }
    out
}

/// `cognito-sidecar --flag value \` lines for the first app client.
fn sidecar_command(handle: &MockHandle, config: &MockConfig, args: &MockArgs) -> Option<String> {
    let client = config.clients.first()?;
    let redirect = match &args.sidecar_url {
        Some(url) => callback_of(url),
        None => client.callback_urls.first()?.clone(),
    };
    let redirect_url = url::Url::parse(&redirect).ok()?;
    let mut flags: Vec<(&str, String)> = Vec::new();
    if let (Some("localhost"), Some(port)) = (
        redirect_url.host_str(),
        redirect_url.port_or_known_default(),
    ) {
        flags.push(("--listen", format!("127.0.0.1:{port}")));
    }
    flags.push(("--upstream", args.sidecar_upstream.clone()));
    flags.push(("--provider", "cognito".into()));
    flags.push(("--issuer-url", handle.issuer()));
    flags.push(("--discovery-url", handle.discovery_url()));
    flags.push(("--client-id", client.client_id.clone()));
    if let Some(secret) = &client.client_secret {
        flags.push(("--client-secret", secret.clone()));
    }
    flags.push(("--redirect-url", redirect));
    flags.push(("--cookie-secret", cookie_secret()));
    if redirect_url.scheme() == "http" {
        flags.push(("--cookie-secure", "false".into()));
    }
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .filter(|p| !p.contains(char::is_whitespace))
        .unwrap_or_else(|| "cognito-sidecar".into());
    let lines: Vec<String> = flags
        .iter()
        .map(|(flag, value)| format!("    {flag} {value}"))
        .collect();
    Some(format!("  {program} \\\n{}", lines.join(" \\\n")))
}

/// A fresh cookie secret (48 random bytes) for the printed command.
fn cookie_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sign_out_sits_beside_each_callback() {
        let mut client = MockClient {
            callback_urls: vec![
                "https://app.example.com/auth/callback".into(),
                "myapp://done".into(),
            ],
            logout_urls: vec!["https://app.example.com/auth/signed_out".into()],
            ..MockClient::default()
        };
        allow_default_sign_out(&mut client);
        assert_eq!(
            client.logout_urls,
            ["https://app.example.com/auth/signed_out"]
        );
        let url = url::Url::parse("http://localhost:5000/x?y#z").unwrap();
        assert_eq!(callback_of(&url), "http://localhost:5000/oauth2/callback");
    }
}
