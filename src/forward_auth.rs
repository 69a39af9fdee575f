//! `/oauth2/auth`: forward authentication for ingress controllers (ingress-nginx
//! `auth-url`, Traefik ForwardAuth, Envoy `ext_authz`). Answers only: it never
//! proxies, and without a session it answers 401 (to prevent redirect loops in
//! sub-request setups) unless Traefik mode redirects browser navigations.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, Method, Response};

use crate::authz::Target;
use crate::body::{self, Body};
use crate::config::Config;
use crate::flow::Flow;
use crate::http::respond::{no_store, ClientKind, Reject};
use crate::identity_jwt::IdentitySigner;
use crate::proxy::headers::set_identity_headers;
use crate::proxy::trusted;

const AUTH_REQUEST_EMAIL: HeaderName = HeaderName::from_static("x-auth-request-email");
const AUTH_REQUEST_USER: HeaderName = HeaderName::from_static("x-auth-request-user");
const AUTH_REQUEST_GROUPS: HeaderName = HeaderName::from_static("x-auth-request-groups");
const AUTH_REQUEST_USERNAME: HeaderName =
    HeaderName::from_static("x-auth-request-preferred-username");

/// Per-request rules from the auth URL's query
/// (`?allowed_groups=a,b&allowed_emails=x@y&allowed_email_domains=z`), ANDed
/// with the configured route and global rules.
pub use crate::authz::Rules;

/// The original request as a trusted proxy reports it (method, host, path),
/// for matching `[[route]]` tables; `None` when no trusted proxy said.
pub fn original_target(
    headers: &HeaderMap,
    method: &Method,
    peer: SocketAddr,
    config: &Config,
) -> Option<Target> {
    let url = original_url(headers, peer, config)?;
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (Some(rest[..end].to_string()), rest[end..].to_string())
        }
        None => {
            let host = headers
                .get("x-forwarded-host")
                .and_then(|v| v.to_str().ok());
            (host.map(str::to_string), url)
        }
    };
    let method = original_method(headers, method, true);
    Some(Target::new(&method, host.as_deref(), &path))
}

/// The URL the user asked for, as the ingress reports it; believed only from
/// trusted proxies.
pub fn original_url(headers: &HeaderMap, peer: SocketAddr, config: &Config) -> Option<String> {
    if !trusted(peer.ip(), &config.trusted_proxies) {
        return None;
    }
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(url) = get("x-original-url") {
        return Some(url.to_string());
    }
    let uri = get("x-forwarded-uri")?;
    match (get("x-forwarded-proto"), get("x-forwarded-host")) {
        (Some(proto), Some(host)) => Some(format!("{proto}://{host}{uri}")),
        _ => Some(uri.to_string()),
    }
}

/// The method of the original request (Traefik's `X-Forwarded-Method`,
/// ingress-nginx's `X-Original-Method`), else ours.
fn original_method(headers: &HeaderMap, method: &Method, peer_trusted: bool) -> Method {
    headers
        .get("x-forwarded-method")
        .or_else(|| headers.get("x-original-method"))
        .filter(|_| peer_trusted)
        .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
        .unwrap_or_else(|| method.clone())
}

pub async fn check(
    flow: &Flow,
    config: &Config,
    signer: Option<&IdentitySigner>,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    peer: SocketAddr,
) -> Result<Response<Body>, Reject> {
    // Without a trusted original URL only unrestricted providers count.
    let target = original_target(headers, method, peer, config);
    let choices = match &target {
        Some(target) => flow.providers().choices(target),
        None => flow
            .providers()
            .choices(&crate::authz::Target::new(method, None, "/")),
    };
    let principal = flow
        .principal(headers, &choices)
        .await
        .map_err(Reject::from)?;
    let Some(principal) = principal else {
        let rd = original_url(headers, peer, config).unwrap_or_else(|| "/".into());
        let peer_trusted = trusted(peer.ip(), &config.trusted_proxies);
        let navigation = ClientKind::of(&original_method(headers, method, peer_trusted), headers)
            == ClientKind::Navigation;
        if config.forward_auth.redirect_browsers && navigation {
            return Ok(flow.begin(&choices, &rd, headers)?);
        }
        return Err(Reject::NeedsLogin {
            start: flow.start_href(&rd),
        });
    };
    let who = principal.identity();
    let access = config.authz.forward_auth_access(target.as_ref());
    if !(Rules::from_query(query).allow(who) && access.allows(who)) {
        return Err(Reject::Forbidden {
            who: who.email.clone().unwrap_or_else(|| who.username.clone()),
            sign_out: format!("{}/sign_out", config.proxy_prefix),
        });
    }
    let mut response = Response::new(body::empty());
    *response.status_mut() = config.forward_auth.ok_status;
    let h = response.headers_mut();
    set_identity_headers(h, who, &config.headers);
    if let Some(token) = signer.and_then(|s| s.sign(who)) {
        h.insert(config.headers.jwt.clone(), token);
    }
    // The oauth2-proxy names carry the same encoded values (shared, not copied).
    let names = &config.headers;
    for (ours, theirs) in [
        (&names.email, AUTH_REQUEST_EMAIL),
        (&names.username, AUTH_REQUEST_USER),
        (&names.username, AUTH_REQUEST_USERNAME),
        (&names.groups, AUTH_REQUEST_GROUPS),
    ] {
        if let Some(value) = h.get(ours).cloned() {
            h.insert(theirs, value);
        }
    }
    if let Some(cookie) = principal.reseal().and_then(|c| c.parse().ok()) {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, cookie);
    }
    Ok(no_store(response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::PathView;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_original_target_comes_from_trusted_proxies_only() {
        let mut config = crate::proxy::tests::test_config();
        let peer: SocketAddr = "10.0.0.5:1234".parse().unwrap();
        let h = headers(&[
            (
                "x-original-url",
                "https://App.example.com:8443/admin/x?y=/public",
            ),
            ("x-original-method", "POST"),
        ]);
        assert!(original_target(&h, &Method::GET, peer, &config).is_none());
        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let t = original_target(&h, &Method::GET, peer, &config).unwrap();
        assert_eq!(t.method, Method::POST);
        assert_eq!(t.host.as_deref(), Some("app.example.com"));
        assert_eq!(t.path, PathView::Canonical("/admin/x".into()));
        let h = headers(&[
            ("x-forwarded-uri", "/static/../admin"),
            ("x-forwarded-host", "b.example.com"),
        ]);
        let t = original_target(&h, &Method::GET, peer, &config).unwrap();
        assert_eq!(t.host.as_deref(), Some("b.example.com"));
        assert!(matches!(t.path, PathView::Ambiguous { .. }));
    }
}
