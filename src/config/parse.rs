//! Parsers from one raw string to one typed value. Each error is the "what is
//! wrong" part of a problem line; the caller adds the setting name and the value.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use url::{Host, Url};

use super::ProviderKind;
use crate::authz::parse_domain;

pub(crate) type Parsed<T> = Result<T, String>;

/// `true`/`false`/`1`/`0`/`yes`/`no`, any case.
pub(crate) fn boolean(s: &str) -> Parsed<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("must be true/false/1/0/yes/no".into()),
    }
}

/// `90s`, `30m`, `12h`, `7d`, `500ms` or plain seconds; never zero.
pub(crate) fn duration(s: &str) -> Parsed<Duration> {
    const WHAT: &str = "must be a duration like 90s, 30m, 12h, 7d or plain seconds";
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| WHAT.to_string())?;
    let ms_per_unit = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(WHAT.into()),
    };
    let ms = n.checked_mul(ms_per_unit).ok_or("is too large")?;
    if ms == 0 {
        return Err("must be more than zero".into());
    }
    Ok(Duration::from_millis(ms))
}

/// Plain bytes or with a binary unit: `16KiB`, `256 MiB`, `1G` (K, M, G are binary too); never zero.
pub(crate) fn bytes(s: &str) -> Parsed<u64> {
    const WHAT: &str = "must be a size like 16KiB, 256MiB, 1GiB or plain bytes";
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| WHAT.to_string())?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return Err(WHAT.into()),
    };
    let value = n.checked_mul(1u64 << shift).ok_or("is too large")?;
    if value == 0 {
        return Err("must be more than zero".into());
    }
    Ok(value)
}

/// A size that must fit in memory addressing.
pub(crate) fn byte_count(s: &str) -> Parsed<usize> {
    usize::try_from(bytes(s)?).map_err(|_| "is too large".into())
}

/// A whole number of at least one.
pub(crate) fn count(s: &str) -> Parsed<usize> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("must be a whole number".into()),
    }
}

/// Any non-empty text, trimmed.
pub(crate) fn text(s: &str) -> Parsed<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(s.to_string())
}

/// An absolute `http`/`https` URL with a host and no fragment.
pub(crate) fn http_url(s: &str) -> Parsed<Url> {
    let url = Url::parse(s.trim()).map_err(|e| format!("must be an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".into());
    }
    Ok(url)
}

/// A URL to forward to: no query either, the request brings its own.
pub(crate) fn upstream_url(s: &str) -> Parsed<Url> {
    let url = http_url(s)?;
    if url.query().is_some() {
        return Err("must not have a ?query".into());
    }
    Ok(url)
}

/// The issuer: https, or http on a loopback host (local testing only). An
/// issuer has no query or fragment (OpenID Connect Discovery 1.0, section 2).
pub(crate) fn issuer(s: &str) -> Parsed<Url> {
    let url = upstream_url(s)?;
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(
            "must be https:// (http:// is allowed only for localhost, 127.0.0.0/8 and ::1)".into(),
        );
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Cognito issuers live on `cognito-idp.<region>.amazonaws.com`.
pub(crate) fn detect_provider(issuer: &Url) -> ProviderKind {
    let host = issuer.host_str().unwrap_or_default();
    if host.starts_with("cognito-idp.") || host.starts_with("issuer-cognito-idp.") {
        ProviderKind::Cognito
    } else {
        ProviderKind::Oidc
    }
}

pub(crate) fn provider(s: &str) -> Parsed<ProviderKind> {
    match s.trim().to_ascii_lowercase().as_str() {
        "cognito" => Ok(ProviderKind::Cognito),
        "oidc" => Ok(ProviderKind::Oidc),
        _ => Err("must be cognito or oidc".into()),
    }
}

pub(crate) fn log_format(s: &str) -> Parsed<super::LogFormat> {
    match s.trim().to_ascii_lowercase().as_str() {
        "pretty" | "text" => Ok(super::LogFormat::Pretty),
        "json" => Ok(super::LogFormat::Json),
        _ => Err("must be pretty or json".into()),
    }
}

/// A forward-auth success status: 200 or 202.
pub(crate) fn ok_status(s: &str) -> Parsed<http::StatusCode> {
    match s.trim() {
        "202" => Ok(http::StatusCode::ACCEPTED),
        "200" => Ok(http::StatusCode::OK),
        _ => Err("must be 202 or 200".into()),
    }
}

/// `IP:port`, e.g. `0.0.0.0:4180` or `[::1]:4180`.
pub(crate) fn socket_addr(s: &str) -> Parsed<SocketAddr> {
    SocketAddr::from_str(s.trim())
        .map_err(|_| "must be IP:port, e.g. 0.0.0.0:4180 or [::]:4180".into())
}

/// A CIDR network; a bare address means just that host (/32 or /128).
pub(crate) fn network(s: &str) -> Parsed<IpNet> {
    let s = s.trim();
    if let Ok(ip) = IpAddr::from_str(s) {
        return Ok(IpNet::from(ip));
    }
    IpNet::from_str(s)
        .map(|n| n.trunc())
        .map_err(|_| "must be an IP address or CIDR network".into())
}

/// Space-separated scopes; `openid` is what makes it OpenID Connect.
pub(crate) fn scope(s: &str) -> Parsed<String> {
    let scopes: Vec<&str> = s.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        return Err("must contain openid".into());
    }
    if scopes
        .iter()
        .any(|sc| sc.chars().any(|c| c == '"' || c == '\\' || c.is_control()))
    {
        return Err("must hold only printable characters other than \" and \\".into());
    }
    Ok(scopes.join(" "))
}

/// An absolute path for a sidecar endpoint.
pub(crate) fn path(s: &str) -> Parsed<String> {
    let s = s.trim();
    if !s.starts_with('/') || s.starts_with("//") {
        return Err("must start with a single /".into());
    }
    if s.chars()
        .any(|c| matches!(c, '?' | '#' | '%' | '\\') || c.is_whitespace() || c.is_control())
    {
        return Err("must be a plain path without ?, #, %, \\ or spaces".into());
    }
    Ok(s.to_string())
}

/// The prefix of the sidecar's own routes: a path without a trailing slash.
pub(crate) fn prefix(s: &str) -> Parsed<String> {
    let p = path(s)?;
    if p.ends_with('/') {
        return Err("must not end with / (use e.g. /oauth2)".into());
    }
    Ok(p)
}

pub(crate) fn header_name(s: &str) -> Parsed<HeaderName> {
    HeaderName::from_str(s.trim()).map_err(|_| "must be a valid HTTP header name".into())
}

/// An `allowed-redirect-domains` entry: a [`parse_domain`] host, optionally with `:port`
/// (the redirect policy matches ports exactly, so non-default ports need it).
pub(crate) fn redirect_domain(s: &str) -> Parsed<String> {
    let s = s.trim();
    let Some((host, port)) = s.rsplit_once(':') else {
        return parse_domain(s);
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(format!("{}:{p}", parse_domain(host)?)),
        _ => Err(
            "must be a host name like example.com or .example.com, with an optional :port".into(),
        ),
    }
}

/// A cookie name: an RFC 6265 token.
pub(crate) fn cookie_name(s: &str) -> Parsed<String> {
    let s = s.trim();
    let separator = |c: char| "()<>@,;:\\\"/[]?={} \t".contains(c);
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_graphic() && !separator(c)) {
        return Err("must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "1", "yes", "Yes"] {
            assert_eq!(boolean(t), Ok(true), "{t}");
        }
        for f in ["false", "0", "no", "NO"] {
            assert_eq!(boolean(f), Ok(false), "{f}");
        }
        assert!(boolean("on").is_err());
        assert!(boolean("").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in [
            "",
            "s",
            "0",
            "0s",
            "1.5h",
            "-1s",
            "10y",
            "h10",
            "99999999999999999999d",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes("16KiB"), Ok(16 * 1024));
        assert_eq!(bytes("256 MiB"), Ok(256 << 20));
        assert_eq!(bytes("1G"), Ok(1 << 30));
        assert_eq!(bytes("123"), Ok(123));
        for bad in ["", "0", "1KB", "1.5MiB", "MiB", "99999999999999999999"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(count("10"), Ok(10));
        assert!(count("0").is_err());
        assert!(count("ten").is_err());
    }

    #[test]
    fn issuer_is_https_unless_loopback() {
        assert!(issuer("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc").is_ok());
        for ok in [
            "http://localhost:9000",
            "http://127.0.0.1:1/x",
            "http://127.8.9.1",
            "http://[::1]:8080",
        ] {
            assert!(issuer(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "ftp://localhost",
        ] {
            assert!(issuer(bad).is_err(), "{bad}");
        }
        assert!(issuer("https://idp.example.com/?x=1").is_err());
        assert!(issuer("https://idp.example.com/#f").is_err());
    }

    #[test]
    fn provider_detection_by_host() {
        let kind = |s: &str| detect_provider(&Url::parse(s).unwrap());
        assert_eq!(
            kind("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x"),
            ProviderKind::Cognito
        );
        assert_eq!(
            kind("https://issuer-cognito-idp.us-east-1.amazonaws.com/x"),
            ProviderKind::Cognito
        );
        assert_eq!(kind("https://accounts.google.com"), ProviderKind::Oidc);
        assert_eq!(
            kind("https://evil.com/cognito-idp.us-east-1.amazonaws.com"),
            ProviderKind::Oidc
        );
        assert_eq!(provider("Cognito"), Ok(ProviderKind::Cognito));
        assert!(provider("okta").is_err());
    }

    #[test]
    fn urls() {
        assert!(http_url("https://app.example.com/oauth2/callback").is_ok());
        for bad in [
            "/relative",
            "mailto:a@b",
            "https://u:p@x.com/",
            "https://x.com/#frag",
            "x.com",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
        assert!(upstream_url("http://127.0.0.1:8080/base").is_ok());
        assert!(upstream_url("http://127.0.0.1:8080/?a=b").is_err());
    }

    #[test]
    fn networks_and_addresses() {
        assert_eq!(network("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(network("::1").unwrap().to_string(), "::1/128");
        assert_eq!(network("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert!(network("10.0.0.0/33").is_err());
        assert!(network("example.com").is_err());
        assert!(socket_addr("[::]:4180").is_ok());
        assert!(socket_addr("localhost:4180").is_err());
    }

    #[test]
    fn scopes_paths_names() {
        assert_eq!(scope(" openid  email "), Ok("openid email".into()));
        assert!(scope("email profile").is_err());
        assert!(scope("openidx").is_err());
        assert_eq!(prefix("/oauth2"), Ok("/oauth2".into()));
        for bad in ["oauth2", "/oauth2/", "/", "//x", "/a b", "/a?b"] {
            assert!(prefix(bad).is_err(), "{bad}");
        }
        assert!(path("/ping").is_ok());
        assert!(header_name("X-User-Email").is_ok());
        assert!(header_name("X User").is_err());
        assert_eq!(parse_domain(".Example.COM"), Ok(".example.com".into()));
        for bad in [
            "",
            ".",
            "a..b",
            "-a.com",
            "a_b.com",
            "a.com:80",
            "https://a.com",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(
            redirect_domain(".Example.com:8443"),
            Ok(".example.com:8443".into())
        );
        assert_eq!(
            redirect_domain("app.example.com"),
            Ok("app.example.com".into())
        );
        for bad in [
            "a.com:",
            "a.com:0",
            "a.com:x",
            "a.com:70000",
            ":443",
            "a_b.com:80",
        ] {
            assert!(redirect_domain(bad).is_err(), "{bad}");
        }
        assert!(cookie_name("_cognito_sidecar").is_ok());
        assert!(cookie_name("a;b").is_err());
        assert!(cookie_name("a b").is_err());
    }
}
