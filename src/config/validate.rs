//! Raw strings -> a typed [`Config`], collecting *every* problem on the way.
//!
//! A bad optional value is recorded and replaced by its default so checking can
//! go on; a missing required one makes its part `None`. Only when no problem was
//! recorded is a `Config` built.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use http::HeaderName;

use super::reader::{ConfigError, Problem, Reader};
use super::source::Raw;
use super::ProviderKind;
use super::{
    file, identity_jwt, parse, tls, BearerConfig, ClientAuth, Config, CookieConfig,
    IdentityHeaders, Limits, LogFormat, ProviderConfig, SessionConfig, Timeouts,
};
use crate::secret::Secret;

/// Validates the merged layers; `problems` holds those found while loading.
pub(crate) fn build(raw: &Raw, problems: Vec<Problem>) -> Result<Config, ConfigError> {
    let mut r = Reader::new(raw, problems);
    let default_listen = vec![
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 4180)),
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 4180)),
    ];
    let listen = r.list("listen", default_listen, parse::socket_addr);
    if listen.is_empty() && r.items("listen").is_some_and(|i| i.is_empty()) {
        r.problem("listen", "needs at least one address", Some(""));
    }
    let upstream = r.required("upstream", parse::upstream_url);
    let proxy_prefix = r.or("proxy-prefix", "/oauth2".into(), parse::prefix);
    let ping_path = r.or("ping-path", "/ping".into(), parse::path);
    let ready_path = r.or("ready-path", "/ready".into(), parse::path);
    if ping_path == ready_path {
        r.problem(
            "ready-path",
            "must differ from ping-path",
            Some(&ready_path),
        );
    }
    let allowed_redirect_domains = r.list(
        "allowed-redirect-domains",
        Vec::new(),
        parse::redirect_domain,
    );
    let trusted_proxies = r.list("trusted-proxies", Vec::new(), parse::network);
    let authz = super::routes::policy(&mut r, raw.routes.clone());
    let providers = super::providers::read(
        &raw.providers,
        raw,
        &proxy_prefix,
        &mut r.problems,
        provider,
    );
    let provider = provider(&mut r, &proxy_prefix);
    let cookie = cookie(&mut r);
    let session = session(&mut r);
    let headers = headers(&mut r);
    let forward_auth = super::forward_auth::read(&mut r);
    let redirect_url = provider.as_ref().map(|p| &p.redirect_url);
    let identity_jwt = identity_jwt::settings(&mut r, upstream.as_ref(), redirect_url);
    let alb = super::alb::settings(&mut r);
    let metrics_address = r.optional("metrics-address", parse::socket_addr);
    let log_format = r.or("log-format", LogFormat::Pretty, parse::log_format);
    let (tls, upstream_ca) = tls::files(&mut r);
    let pass_host_header = r.or("pass-host-header", true, parse::boolean);
    let h2c = r.or("h2c", false, parse::boolean);
    let timeouts = timeouts(&mut r);
    let limits = limits(&mut r);
    match (upstream, provider) {
        (Some(upstream), Some(provider)) if r.problems.is_empty() => Ok(Config {
            listen,
            upstream,
            provider,
            providers,
            cookie,
            session,
            allowed_redirect_domains,
            trusted_proxies,
            authz,
            proxy_prefix,
            ping_path,
            ready_path,
            headers,
            forward_auth,
            identity_jwt,
            alb,
            metrics_address,
            log_format,
            tls,
            upstream_ca,
            pass_host_header,
            h2c,
            timeouts,
            limits,
        }),
        _ => Err(ConfigError(r.problems)),
    }
}

fn provider(r: &mut Reader, proxy_prefix: &str) -> Option<ProviderConfig> {
    let issuer = r.required("issuer-url", parse::issuer);
    let discovery_url = r.optional("discovery-url", parse::http_url);
    let kind = r.optional("provider", parse::provider);
    let client_id = r.required("client-id", parse::text);
    let client_auth = client_auth(r);
    let redirect_url = r.required("redirect-url", parse::http_url);
    let sign_out_url = r.optional("sign-out-url", parse::http_url);
    let scope = r.or("scope", "openid email profile".into(), parse::scope);
    let identity_provider = r.optional("identity-provider", parse::text);
    let allow_unverified_email = r.or("allow-unverified-email", false, parse::boolean);
    let groups_claim = r.optional("groups-claim", parse::text);
    let bearer_enabled = r.or("bearer-tokens", true, parse::boolean);
    let api_client_ids = r.list("api-client-ids", Vec::new(), parse::text);
    let api_scopes = r.list("api-scopes", Vec::new(), parse::text);
    let (issuer, client_id, redirect_url) = (issuer?, client_id?, redirect_url?);
    // Respect a path in the issuer (Cognito's pool id, Keycloak's realm); no double slash.
    let discovery_default = format!(
        "{}/.well-known/openid-configuration",
        issuer.as_str().trim_end_matches('/')
    );
    let discovery_url =
        discovery_url.or_else(|| r.check("discovery-url", &discovery_default, parse::http_url))?;
    let origin = redirect_url.origin().ascii_serialization();
    let sign_out_default = format!("{origin}{proxy_prefix}/signed_out");
    let sign_out_url =
        sign_out_url.or_else(|| r.check("sign-out-url", &sign_out_default, parse::http_url))?;
    let kind = kind.unwrap_or_else(|| parse::detect_provider(&issuer));
    let groups_claim = groups_claim.unwrap_or_else(|| match kind {
        ProviderKind::Cognito => "cognito:groups".into(),
        ProviderKind::Oidc => "groups".into(),
    });
    Some(ProviderConfig {
        name: super::DEFAULT_PROVIDER.into(),
        display_name: "Sign in".into(),
        hosts: Vec::new(),
        path_prefixes: Vec::new(),
        kind,
        groups_claim,
        issuer,
        discovery_url,
        client_auth: client_auth?,
        redirect_url,
        sign_out_url,
        scope,
        identity_provider,
        allow_unverified_email,
        bearer: BearerConfig {
            enabled: bearer_enabled,
            client_ids: if api_client_ids.is_empty() {
                vec![client_id.clone()]
            } else {
                api_client_ids
            },
            scopes: api_scopes,
        },
        client_id,
    })
}

/// The client secret, inline or from its file; neither means a public client.
fn client_auth(r: &mut Reader) -> Option<ClientAuth> {
    if let Some(secret) = r.optional("client-secret", parse::text) {
        return Some(ClientAuth::Secret(Secret::new(secret)));
    }
    let path = r.optional("client-secret-file", parse::text);
    let Some(path) = path else {
        return Some(ClientAuth::None);
    };
    let text = file::read_secret(&path)
        .and_then(|b| String::from_utf8(b).map_err(|_| "the file is not UTF-8".into()));
    match text {
        Ok(secret) => Some(ClientAuth::Secret(Secret::new(secret))),
        Err(message) => {
            r.problem("client-secret-file", message, Some(&path));
            None
        }
    }
}

/// Cookie secrets must be at least this long: they key the session cookie's sealing.
const MIN_SECRET_BYTES: usize = 32;

fn cookie_secrets(r: &mut Reader) -> Vec<Secret<Vec<u8>>> {
    let inline = r.items("cookie-secret");
    let files = r.items("cookie-secret-file");
    let mut secrets = Vec::new();
    for s in inline.iter().flatten() {
        if s.len() < MIN_SECRET_BYTES {
            r.problem(
                "cookie-secret",
                format!("must be at least {MIN_SECRET_BYTES} bytes"),
                Some(s),
            );
        }
        secrets.push(s.clone().into_bytes());
    }
    for path in files.iter().flatten() {
        match file::read_secret_lines(path) {
            Ok(lines) if lines.iter().any(|l| l.len() < MIN_SECRET_BYTES) => {
                let message =
                    format!("every secret in the file must be at least {MIN_SECRET_BYTES} bytes");
                r.problem("cookie-secret-file", message, Some(path));
            }
            Ok(lines) => secrets.extend(lines),
            Err(message) => r.problem("cookie-secret-file", message, Some(path)),
        }
    }
    if inline.iter().chain(files.iter()).all(Vec::is_empty) {
        r.problem(
            "cookie-secret",
            "is required but not set (or set cookie-secret-file)",
            None,
        );
    }
    secrets.into_iter().map(Secret::new).collect()
}

fn cookie(r: &mut Reader) -> CookieConfig {
    let secrets = cookie_secrets(r);
    let secure = r.or("cookie-secure", true, parse::boolean);
    let name = r.or("cookie-name", "_cognito_sidecar".into(), parse::cookie_name);
    let domain = r.optional("cookie-domain", parse::domain);
    // Browsers drop prefixed cookies that break the prefix's rules.
    if name.starts_with("__Host-") && domain.is_some() {
        r.problem(
            "cookie-name",
            "a __Host- cookie cannot have a cookie-domain",
            Some(&name),
        );
    }
    if (name.starts_with("__Host-") || name.starts_with("__Secure-")) && !secure {
        r.problem(
            "cookie-name",
            "a __Host-/__Secure- cookie needs cookie-secure",
            Some(&name),
        );
    }
    CookieConfig {
        name,
        secrets,
        secure,
        domain,
    }
}

fn session(r: &mut Reader) -> SessionConfig {
    SessionConfig {
        ttl: r.or("session-ttl", hours(12), parse::duration),
        idle_timeout: r.or("session-idle-timeout", hours(1), parse::duration),
        refresh_interval: r.or("session-refresh-interval", hours(1), parse::duration),
        max_bytes: r.or("session-max-bytes", 256 << 20, parse::bytes),
        max_per_user: r.or("sessions-per-user", 10, parse::count),
        backend: super::store::backend(r),
    }
}

fn headers(r: &mut Reader) -> IdentityHeaders {
    let mut header = |name: &str, default: &'static str| {
        r.or(name, HeaderName::from_static(default), parse::header_name)
    };
    let h = IdentityHeaders {
        email: header("header-email", "x-user-email"),
        name: header("header-name", "x-user-name"),
        sub: header("header-sub", "x-user-sub"),
        groups: header("header-groups", "x-user-groups"),
        username: header("header-username", "x-user-username"),
        jwt: header("identity-jwt-header", "x-sidecar-identity"),
    };
    let named = [
        ("header-email", &h.email),
        ("header-name", &h.name),
        ("header-sub", &h.sub),
        ("header-groups", &h.groups),
        ("header-username", &h.username),
        ("identity-jwt-header", &h.jwt),
    ];
    for (i, (name, value)) in named.iter().enumerate() {
        if let Some((other, _)) = named[..i].iter().find(|(_, v)| v == value) {
            r.problem(
                name,
                format!("must differ from {other}"),
                Some(value.as_str()),
            );
        }
    }
    h
}

fn timeouts(r: &mut Reader) -> Timeouts {
    Timeouts {
        idp_connect: r.or("idp-connect-timeout", secs(5), parse::duration),
        idp_total: r.or("idp-timeout", secs(15), parse::duration),
        upstream_connect: r.or("upstream-connect-timeout", secs(5), parse::duration),
        upstream_headers: r.or("upstream-timeout", secs(60), parse::duration),
        client_header_read: r.or("client-header-timeout", secs(10), parse::duration),
        idle_keepalive: r.or("idle-timeout", secs(60), parse::duration),
        shutdown_grace: r.or("shutdown-grace", secs(10), parse::duration),
    }
}

fn limits(r: &mut Reader) -> Limits {
    Limits {
        max_request_header_bytes: r.or("max-header-bytes", 16 << 10, parse::byte_count),
        max_connections: r.or("max-connections", 10_000, parse::count),
        workers: r.or("workers", cores(), parse::count),
        max_idp_body_bytes: r.or("max-idp-body-bytes", 1 << 20, parse::byte_count),
        max_pending_logins: r.or("max-pending-logins", 5, parse::count),
    }
}

/// One worker per core the process may use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

fn hours(n: u64) -> std::time::Duration {
    secs(n * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("upstream", "http://127.0.0.1:8080"),
            ("issuer-url", "https://idp.example.com/realms/a/"),
            ("client-id", "client"),
            ("redirect-url", "https://app.example.com/oauth2/callback"),
            ("cookie-secret", SECRET),
        ]
    }

    fn load(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = minimal();
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend_from_slice(extra);
        build(&Raw::from_pairs(&pairs), Vec::new())
    }

    fn lines(extra: &[(&'static str, &'static str)]) -> Vec<String> {
        load(extra)
            .unwrap_err()
            .to_string()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn control_characters_in_values_are_escaped() {
        let got = lines(&[("cookie-name", "a\nb")]);
        assert_eq!(
            got,
            vec![
                r#"cookie-name: must be a cookie name (letters, digits and !#$%&'*+-.^_`|~) (got "a\nb")"#
            ]
        );
    }

    #[test]
    fn secrets_are_redacted_in_problems() {
        let got = lines(&[("cookie-secret", "short-hunter2")]);
        assert_eq!(
            got,
            vec![r#"cookie-secret: must be at least 32 bytes (got "[redacted]")"#]
        );
    }

    #[test]
    fn discovery_and_sign_out_defaults_follow_issuer_and_redirect() {
        let c = load(&[("proxy-prefix", "/auth")]).unwrap();
        let disc = "https://idp.example.com/realms/a/.well-known/openid-configuration";
        assert_eq!(c.provider.discovery_url.as_str(), disc);
        assert_eq!(
            c.provider.sign_out_url.as_str(),
            "https://app.example.com/auth/signed_out"
        );
        let c = load(&[("issuer-url", "https://idp.example.com")]).unwrap();
        assert_eq!(
            c.provider.discovery_url.as_str(),
            "https://idp.example.com/.well-known/openid-configuration"
        );
    }

    #[test]
    fn an_empty_list_replaces_the_default() {
        assert!(load(&[("trusted-proxies", "")])
            .unwrap()
            .trusted_proxies
            .is_empty());
        assert_eq!(
            lines(&[("listen", " , ")]),
            vec![r#"listen: needs at least one address (got "")"#]
        );
        let c = load(&[("listen", "127.0.0.1:1, [::1]:2")]).unwrap();
        assert_eq!(
            c.listen,
            vec!["127.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()]
        );
    }

    #[test]
    fn empty_optional_means_unset_and_empty_required_is_missing() {
        let c = load(&[("cookie-domain", ""), ("client-secret", "")]).unwrap();
        assert!(c.cookie.domain.is_none());
        assert!(matches!(c.provider.client_auth, ClientAuth::None));
        assert_eq!(
            lines(&[("client-id", "  ")]),
            vec!["client-id: is required but not set"]
        );
        assert_eq!(
            lines(&[("cookie-secret", ",")]),
            vec!["cookie-secret: is required but not set (or set cookie-secret-file)"]
        );
    }

    #[test]
    fn identity_headers_must_be_distinct() {
        let got = lines(&[("header-sub", "X-User-Email")]);
        assert_eq!(
            got,
            vec![r#"header-sub: must differ from header-email (got "x-user-email")"#]
        );
    }

    #[test]
    fn prefixed_cookie_names_obey_browser_rules() {
        let got = lines(&[
            ("cookie-name", "__Host-s"),
            ("cookie-domain", "example.com"),
        ]);
        assert_eq!(
            got,
            vec![r#"cookie-name: a __Host- cookie cannot have a cookie-domain (got "__Host-s")"#]
        );
        let got = lines(&[("cookie-name", "__Secure-s"), ("cookie-secure", "no")]);
        assert_eq!(
            got,
            vec![
                r#"cookie-name: a __Host-/__Secure- cookie needs cookie-secure (got "__Secure-s")"#
            ]
        );
        assert!(load(&[("cookie-name", "__Host-s")]).is_ok());
    }

    #[test]
    fn ping_and_ready_must_differ() {
        assert_eq!(
            lines(&[("ready-path", "/ping")]),
            vec![r#"ready-path: must differ from ping-path (got "/ping")"#]
        );
    }
}
