//! `/oauth2/auth`: forward authentication for ingress controllers (ingress-nginx
//! `auth-url`, Traefik ForwardAuth, Envoy `ext_authz`). Answers only: it never
//! proxies, and without a session it answers 401 (to prevent redirect loops in
//! sub-request setups) unless Traefik mode redirects browser navigations.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Response};

use crate::body::{self, Body};
use crate::config::Config;
use crate::flow::Flow;
use crate::http::respond::{no_store, ClientKind, Reject};
use crate::identity::Identity;
use crate::identity_jwt::IdentitySigner;
use crate::proxy::headers::{encode_value, set_identity_headers};
use crate::proxy::trusted;

const AUTH_REQUEST_EMAIL: HeaderName = HeaderName::from_static("x-auth-request-email");
const AUTH_REQUEST_USER: HeaderName = HeaderName::from_static("x-auth-request-user");
const AUTH_REQUEST_GROUPS: HeaderName = HeaderName::from_static("x-auth-request-groups");
const AUTH_REQUEST_USERNAME: HeaderName =
    HeaderName::from_static("x-auth-request-preferred-username");

/// Per-request rules from the auth URL's query (`?allowed_groups=a,b&allowed_emails=x@y`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rules {
    groups: Vec<String>,
    emails: Vec<String>,
}

impl Rules {
    pub fn parse(query: Option<&str>) -> Self {
        let mut rules = Rules::default();
        let list = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "allowed_groups" => rules.groups.extend(list(&value)),
                "allowed_emails" => rules.emails.extend(list(&value.to_lowercase())),
                _ => {}
            }
        }
        rules
    }

    /// Every rule given must be met: a group in common, the (verified) email listed.
    pub fn allow(&self, who: &Identity) -> bool {
        let group_ok = self.groups.is_empty() || who.groups.iter().any(|g| self.groups.contains(g));
        let email_ok =
            self.emails.is_empty() || who.email.as_ref().is_some_and(|e| self.emails.contains(e));
        group_ok && email_ok
    }
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

/// The method of the original request (Traefik's `X-Forwarded-Method`), else ours.
fn original_method(headers: &HeaderMap, method: &Method, peer_trusted: bool) -> Method {
    headers
        .get("x-forwarded-method")
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
    let principal = flow.principal(headers).await.map_err(Reject::BadBearer)?;
    let Some(principal) = principal else {
        let rd = original_url(headers, peer, config).unwrap_or_else(|| "/".into());
        let peer_trusted = trusted(peer.ip(), &config.trusted_proxies);
        let navigation = ClientKind::of(&original_method(headers, method, peer_trusted), headers)
            == ClientKind::Navigation;
        if config.forward_auth.redirect_browsers && navigation {
            return Ok(flow.start(&rd, headers)?);
        }
        return Err(Reject::NeedsLogin {
            start: flow.start_href(&rd),
        });
    };
    let who = principal.identity();
    if !Rules::parse(query).allow(who) {
        return Err(Reject::Forbidden {
            who: who.email.clone().unwrap_or_else(|| who.username.clone()),
        });
    }
    let mut response = Response::new(body::empty());
    *response.status_mut() = config.forward_auth.ok_status;
    let h = response.headers_mut();
    set_identity_headers(h, who, &config.headers);
    if let Some(token) = signer.and_then(|s| s.sign(who)) {
        h.insert(config.headers.jwt.clone(), token);
    }
    let mut put = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(&encode_value(value)) {
            h.insert(name, v);
        }
    };
    if let Some(email) = &who.email {
        put(AUTH_REQUEST_EMAIL, email);
    }
    put(AUTH_REQUEST_USER, &who.username);
    put(AUTH_REQUEST_USERNAME, &who.username);
    if let Some(groups) = h.get(&config.headers.groups).cloned() {
        h.insert(AUTH_REQUEST_GROUPS, groups);
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

    fn who(email: Option<&str>, groups: &[&str]) -> Identity {
        Identity {
            sub: "s".into(),
            email: email.map(str::to_string),
            name: "n".into(),
            username: "u".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn rules_need_a_common_group_and_a_listed_verified_email() {
        let r = Rules::parse(Some("allowed_groups=admins,ops&allowed_emails=A@x.com"));
        assert!(r.allow(&who(Some("a@x.com"), &["ops"])));
        assert!(!r.allow(&who(Some("a@x.com"), &["dev"])));
        assert!(!r.allow(&who(Some("b@x.com"), &["ops"])));
        assert!(
            !r.allow(&who(None, &["ops"])),
            "no verified email, no email match"
        );
        assert!(Rules::parse(None).allow(&who(None, &[])));
        assert!(Rules::parse(Some("allowed_groups=")).allow(&who(None, &[])));
    }
}
