//! [`Settings`] (text, merged from every layer) -> a typed [`Config`], or
//! every problem at once: each check records its problem and checking goes on.

use std::path::Path;

use http::HeaderName;

use super::check::{check, Checker};
use super::problem::Problem;
use super::settings::Settings;
use super::{alb, forward_auth, parse, pem_files, policy, provider, secret_files, store};
use super::{Config, CookieConfig, IdentityHeaders, Limits, SessionConfig, Timeouts};
use crate::authz::parse_domain;
use crate::secret::Secret;

/// Checks every setting; a `Config` only when nothing is wrong.
pub fn validate(s: &Settings) -> Result<Config, Vec<Problem>> {
    let mut c = Checker::new(Vec::new());
    let listen = check!(c.list(s.listen, parse::socket_addr));
    if s.listen.is_empty() {
        c.problem("listen", "needs at least one address", Some(""));
    }
    let upstream = check!(c.required(s.upstream, parse::upstream_url));
    let proxy_prefix = check!(c.value(s.proxy_prefix, parse::prefix));
    let ping_path = check!(c.value(s.ping_path, parse::path));
    let ready_path = check!(c.value(s.ready_path, parse::path));
    if !ping_path.is_empty() && ping_path == ready_path {
        c.problem(
            "ready_path",
            "must differ from ping-path",
            Some(&ready_path),
        );
    }
    let allowed_redirect_domains =
        check!(c.list(s.allowed_redirect_domains, parse::redirect_domain));
    let trusted_proxies = check!(c.list(s.trusted_proxies, parse::network));
    let authz = policy::policy(&mut c, s);
    let providers = provider::tables(&mut c.problems, &s.providers, &s.provider, &proxy_prefix);
    let provider = provider::provider(&mut c, &s.provider, &proxy_prefix);
    let cookie = cookie(&mut c, s);
    let session = session(&mut c, s);
    let headers = headers(&mut c, s);
    let forward_auth = forward_auth::read(&mut c, s);
    let redirect_url = provider.as_ref().map(|p| &p.redirect_url);
    let identity_jwt = pem_files::identity_jwt(&mut c, s, upstream.as_ref(), redirect_url);
    let alb = alb::settings(&mut c, s);
    let metrics_address = check!(c.optional(s.metrics_address, parse::socket_addr));
    let log_format = check!(c.parse(s.log_format, parse::log_format));
    let (tls, upstream_ca) = pem_files::tls(&mut c, s);
    let pass_host_header = check!(c.value(s.pass_host_header, parse::boolean));
    let h2c = check!(c.value(s.h2c, parse::boolean));
    let timeouts = timeouts(&mut c, s);
    let limits = limits(&mut c, s);
    match (upstream, provider, headers, log_format) {
        (Some(upstream), Some(provider), Some(headers), Some(log_format))
            if c.problems.is_empty() =>
        {
            Ok(Config {
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
                warnings: Vec::new(),
                clock: crate::clock::Clock::default(),
            })
        }
        _ => Err(c.problems),
    }
}

/// Cookie secrets must be at least this long: they key the session cookie's sealing.
const MIN_SECRET_BYTES: usize = 32;

/// How to make a good cookie secret, for the messages about short ones.
const MAKE_ONE: &str = "make one with: openssl rand -base64 48";

fn cookie_secrets(c: &mut Checker, s: &Settings) -> Vec<Secret<Vec<u8>>> {
    let mut secrets = Vec::new();
    for secret in &s.cookie_secret {
        if secret.expose().len() < MIN_SECRET_BYTES {
            let message = format!("must be at least {MIN_SECRET_BYTES} bytes ({MAKE_ONE})");
            c.secret_problem("cookie_secret", message);
        }
        secrets.push(secret.expose().clone().into_bytes());
    }
    for path in &s.cookie_secret_file {
        match secret_files::read_lines(Path::new(path)) {
            Ok(lines) if lines.iter().any(|l| l.len() < MIN_SECRET_BYTES) => {
                let message = format!(
                    "every secret in the file must be at least {MIN_SECRET_BYTES} bytes ({MAKE_ONE})"
                );
                c.problem("cookie_secret_file", message, Some(path));
            }
            Ok(lines) => secrets.extend(lines),
            Err(message) => c.problem("cookie_secret_file", message, Some(path)),
        }
    }
    if s.cookie_secret.is_empty() && s.cookie_secret_file.is_empty() {
        let message = "is required but not set (or set cookie-secret-file)";
        c.problem("cookie_secret", message, None);
    }
    secrets.into_iter().map(Secret::new).collect()
}

fn cookie(c: &mut Checker, s: &Settings) -> CookieConfig {
    let secrets = cookie_secrets(c, s);
    let secure = check!(c.parse(s.cookie_secure, parse::boolean)).unwrap_or(true);
    let name = check!(c.value(s.cookie_name, parse::cookie_name));
    let domain = check!(c.optional(s.cookie_domain, parse_domain));
    // Browsers drop prefixed cookies that break the prefix's rules.
    if name.starts_with("__Host-") && domain.is_some() {
        let message = "a __Host- cookie cannot have a cookie-domain";
        c.problem("cookie_name", message, Some(&name));
    }
    if (name.starts_with("__Host-") || name.starts_with("__Secure-")) && !secure {
        let message = "a __Host-/__Secure- cookie needs cookie-secure";
        c.problem("cookie_name", message, Some(&name));
    }
    CookieConfig {
        name,
        secrets,
        secure,
        domain,
    }
}

fn session(c: &mut Checker, s: &Settings) -> SessionConfig {
    SessionConfig {
        ttl: check!(c.value(s.session_ttl, parse::duration)),
        idle_timeout: check!(c.value(s.session_idle_timeout, parse::duration)),
        refresh_interval: check!(c.value(s.session_refresh_interval, parse::duration)),
        max_bytes: check!(c.value(s.session_max_bytes, parse::bytes)),
        max_per_user: check!(c.value(s.sessions_per_user, parse::count)),
        backend: store::backend(c, s),
    }
}

/// The identity headers, each distinct from the others.
fn headers(c: &mut Checker, s: &Settings) -> Option<IdentityHeaders> {
    let named = [
        ("header_email", &s.header_email),
        ("header_name", &s.header_name),
        ("header_sub", &s.header_sub),
        ("header_groups", &s.header_groups),
        ("header_username", &s.header_username),
        ("identity_jwt_header", &s.identity_jwt_header),
    ]
    .map(|(name, text)| (name, c.parse(name, text, parse::header_name)));
    for (i, (name, value)) in named.iter().enumerate() {
        let Some(value) = value else { continue };
        let same = named[..i].iter().find(|(_, v)| v.as_ref() == Some(value));
        if let Some((other, _)) = same {
            let message = format!("must differ from {}", other.replace('_', "-"));
            c.problem(name, message, Some(value.as_str()));
        }
    }
    let [email, name, sub, groups, username, jwt]: [Option<HeaderName>; 6] = named.map(|(_, v)| v);
    Some(IdentityHeaders {
        email: email?,
        name: name?,
        sub: sub?,
        groups: groups?,
        username: username?,
        jwt: jwt?,
    })
}

fn timeouts(c: &mut Checker, s: &Settings) -> Timeouts {
    let d = parse::duration;
    Timeouts {
        idp_connect: check!(c.value(s.idp_connect_timeout, d)),
        idp_total: check!(c.value(s.idp_timeout, d)),
        upstream_connect: check!(c.value(s.upstream_connect_timeout, d)),
        upstream_headers: check!(c.value(s.upstream_timeout, d)),
        client_header_read: check!(c.value(s.client_header_timeout, d)),
        idle_keepalive: check!(c.value(s.idle_timeout, d)),
        shutdown_grace: check!(c.value(s.shutdown_grace, d)),
    }
}

fn limits(c: &mut Checker, s: &Settings) -> Limits {
    Limits {
        max_request_header_bytes: check!(c.value(s.max_header_bytes, parse::byte_count)),
        max_connections: check!(c.value(s.max_connections, parse::count)),
        workers: check!(c.optional(s.workers, parse::count)).unwrap_or_else(cores),
        max_idp_body_bytes: check!(c.value(s.max_idp_body_bytes, parse::byte_count)),
        max_pending_logins: check!(c.value(s.max_pending_logins, parse::count)),
    }
}

/// One worker per core the process may use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::ClientAuth;
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    /// A minimal valid configuration plus `extra` (which replaces keys it names).
    pub(in crate::config) fn load(extra: &[(&str, &str)]) -> Result<Config, Vec<Problem>> {
        let mut pairs = vec![
            ("upstream", "http://127.0.0.1:8080"),
            ("issuer_url", "https://idp.example.com/realms/a/"),
            ("client_id", "client"),
            ("redirect_url", "https://app.example.com/oauth2/callback"),
            ("cookie_secret", SECRET),
        ];
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend_from_slice(extra);
        validate(&Settings::from_pairs(&pairs))
    }

    /// Each problem of a minimal configuration plus `extra`, as its line.
    pub(in crate::config) fn lines(extra: &[(&str, &str)]) -> Vec<String> {
        load(extra)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn control_characters_in_values_are_escaped() {
        assert_eq!(
            lines(&[("cookie_name", "a\nb")]),
            [
                r#"cookie-name: must be a cookie name (letters, digits and !#$%&'*+-.^_`|~) (got "a\nb")"#
            ]
        );
    }

    #[test]
    fn secrets_are_redacted_in_problems() {
        assert_eq!(
            lines(&[("cookie_secret", "short-hunter2")]),
            [
                r#"cookie-secret: must be at least 32 bytes (make one with: openssl rand -base64 48) (got "[redacted]")"#
            ]
        );
    }

    #[test]
    fn discovery_and_sign_out_defaults_follow_issuer_and_redirect() {
        let c = load(&[("proxy_prefix", "/auth")]).unwrap();
        let disc = "https://idp.example.com/realms/a/.well-known/openid-configuration";
        assert_eq!(c.provider.discovery_url.as_str(), disc);
        assert_eq!(
            c.provider.sign_out_url.as_str(),
            "https://app.example.com/auth/signed_out"
        );
        let c = load(&[("issuer_url", "https://idp.example.com")]).unwrap();
        assert_eq!(
            c.provider.discovery_url.as_str(),
            "https://idp.example.com/.well-known/openid-configuration"
        );
    }

    #[test]
    fn a_list_set_to_nothing_replaces_the_default() {
        assert_eq!(
            lines(&[("listen", " , ")]),
            [r#"listen: needs at least one address (got "")"#]
        );
        let c = load(&[("listen", "127.0.0.1:1, [::1]:2")]).unwrap();
        assert_eq!(
            c.listen,
            ["127.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()]
        );
    }

    #[test]
    fn blank_optional_means_unset_and_blank_required_is_missing() {
        let c = load(&[("cookie_domain", ""), ("client_secret", " ")]).unwrap();
        assert!(c.cookie.domain.is_none());
        assert!(matches!(c.provider.client_auth, ClientAuth::None));
        assert_eq!(
            lines(&[("client_id", "  ")]),
            ["client-id: is required but not set"]
        );
        assert_eq!(
            lines(&[("cookie_secret", ",")]),
            ["cookie-secret: is required but not set (or set cookie-secret-file)"]
        );
    }

    #[test]
    fn identity_headers_must_be_distinct() {
        assert_eq!(
            lines(&[("header_sub", "X-User-Email")]),
            [r#"header-sub: must differ from header-email (got "x-user-email")"#]
        );
    }

    #[test]
    fn prefixed_cookie_names_obey_browser_rules() {
        assert_eq!(
            lines(&[
                ("cookie_name", "__Host-s"),
                ("cookie_domain", "example.com")
            ]),
            [r#"cookie-name: a __Host- cookie cannot have a cookie-domain (got "__Host-s")"#]
        );
        assert_eq!(
            lines(&[("cookie_name", "__Secure-s"), ("cookie_secure", "no")]),
            [r#"cookie-name: a __Host-/__Secure- cookie needs cookie-secure (got "__Secure-s")"#]
        );
        assert!(load(&[("cookie_name", "__Host-s")]).is_ok());
    }

    #[test]
    fn ping_and_ready_must_differ() {
        assert_eq!(
            lines(&[("ready_path", "/ping")]),
            [r#"ready-path: must differ from ping-path (got "/ping")"#]
        );
    }
}
