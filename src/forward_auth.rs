//! `/oauth2/auth`: forward authentication for ingress controllers (ingress-nginx
//! `auth-url`, Traefik ForwardAuth, Envoy `ext_authz`). Answers only: it never
//! proxies, and without a session it answers 401 (to prevent redirect loops in
//! sub-request setups) unless Traefik mode redirects browser navigations.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, Method, Response};

use crate::authz::Target;
use crate::body::{self, Body};
use crate::config::{Config, ForwardAuthIngress};
use crate::flow::{Asked, ClientKind, Decision, Flow, Principal, ReturnTo};
use crate::http::respond::{self, no_store, Reject};
use crate::http::{authority, RequestContext};
use crate::identity_jwt::IdentitySigner;
use crate::proxy::alb::AlbSigner;
use crate::proxy::headers::{set_identity_headers, set_identity_values};
use crate::proxy::trusted;

const X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const AUTH_REQUEST_EMAIL: HeaderName = HeaderName::from_static("x-auth-request-email");
const AUTH_REQUEST_USER: HeaderName = HeaderName::from_static("x-auth-request-user");
const AUTH_REQUEST_GROUPS: HeaderName = HeaderName::from_static("x-auth-request-groups");
const AUTH_REQUEST_USERNAME: HeaderName =
    HeaderName::from_static("x-auth-request-preferred-username");

/// Per-request rules from the auth URL's query
/// (`?allowed_groups=a,b&allowed_emails=x@y&allowed_email_domains=z`), ANDed
/// with the configured route and global rules.
pub use crate::authz::Rules;

/// The original request as the configured ingress reports it.
#[derive(Debug, PartialEq, Eq)]
pub struct Original {
    pub method: Method,
    /// `host[:port]` as reported (checked), when reported.
    pub host: Option<String>,
    /// Path and query.
    pub path: String,
    /// Where to return after sign-in: absolute when scheme and host are known.
    pub url: String,
}

impl Original {
    pub fn target(&self) -> Target {
        Target::new(&self.method, self.host.as_deref(), &self.path)
    }
}

/// What the auth request itself carried, besides its headers.
pub struct AuthRequest<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The auth request's path after `{prefix}/auth` (Envoy appends the
    /// original path and query there).
    pub rest: &'a str,
    /// The auth request's query: rules (`allowed_groups=`), or under Envoy
    /// the original query.
    pub query: Option<&'a str>,
    pub peer: SocketAddr,
}

/// The original request, read only from the headers the configured ingress
/// sets itself (each ingress passes the client's other headers through, so a
/// client's `X-Forwarded-Method` must mean nothing behind nginx, nor its
/// `X-Original-URL` behind Traefik). `Ok(None)` when the peer is not a
/// trusted proxy or the ingress said nothing; `Err` for a report that can be
/// read two ways (a header twice, a host that is not `host[:port]`).
pub fn original(config: &Config, req: &AuthRequest<'_>) -> Result<Option<Original>, Reject> {
    if !trusted(req.peer.ip(), &config.trusted_proxies) {
        return Ok(None);
    }
    let h = req.headers;
    let method = |name: Option<&HeaderName>| -> Result<Method, Reject> {
        match name.map(|n| one(h, n)).transpose()?.flatten() {
            Some(m) => Method::from_bytes(m.as_bytes())
                .map_err(|_| Reject::BadRequest("The ingress reported an invalid method.")),
            None => Ok(req.method.clone()),
        }
    };
    let (method, url, host, proto) = match &config.forward_auth.ingress {
        ForwardAuthIngress::Nginx => {
            let Some(url) = one(h, &X_ORIGINAL_URL)? else {
                return Ok(None);
            };
            if !url.contains("://") {
                return Err(Reject::BadRequest(
                    "X-Original-URL must be an absolute URL: set it to $scheme://$host$request_uri in nginx.",
                ));
            }
            (method(Some(&X_ORIGINAL_METHOD))?, url, None, None)
        }
        ForwardAuthIngress::Traefik => {
            let Some(uri) = one(h, &X_FORWARDED_URI)? else {
                return Ok(None);
            };
            let host = one(h, &X_FORWARDED_HOST)?;
            let proto = one(h, &X_FORWARDED_PROTO)?;
            (method(Some(&X_FORWARDED_METHOD))?, uri, host, proto)
        }
        ForwardAuthIngress::Envoy => {
            let path = if req.rest.is_empty() { "/" } else { req.rest };
            let path = match req.query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            };
            let host = one(h, &http::header::HOST)?;
            let proto = one(h, &X_FORWARDED_PROTO)?;
            (req.method.clone(), path, host, proto)
        }
        ForwardAuthIngress::Generic(names) => {
            let Some(url) = one(h, &names.url)? else {
                return Ok(None);
            };
            let host = names
                .host
                .as_ref()
                .map(|n| one(h, n))
                .transpose()?
                .flatten();
            (method(names.method.as_ref())?, url, host, None)
        }
    };
    read_url(method, &url, host, proto).map(Some)
}

/// Splits an absolute URL, or joins a path with the reported host and scheme.
fn read_url(
    method: Method,
    url: &str,
    host: Option<String>,
    proto: Option<String>,
) -> Result<Original, Reject> {
    let (host, path, url) = match url.split_once("://") {
        Some((_, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let path = if end == rest.len() { "/" } else { &rest[end..] };
            (
                Some(rest[..end].to_string()),
                path.to_string(),
                url.to_string(),
            )
        }
        None => {
            let absolute = match (&proto, &host) {
                (Some(proto), Some(host)) => format!("{proto}://{host}{url}"),
                _ => url.to_string(),
            };
            (host, url.to_string(), absolute)
        }
    };
    if !host
        .as_deref()
        .is_none_or(|h| authority::is_valid(h.as_bytes()))
    {
        return Err(Reject::BadRequest(
            "The ingress reported a host that is not host[:port].",
        ));
    }
    Ok(Original {
        method,
        host,
        path,
        url,
    })
}

/// The one value of `name`, trimmed; two values are ambiguous, so refused.
fn one(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, Reject> {
    let mut values = headers.get_all(name).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err(Reject::BadRequest(
            "The ingress sent a forward-auth header twice.",
        ));
    }
    first
        .map(|v| v.to_str().map(|v| v.trim().to_string()))
        .transpose()
        .map_err(|_| Reject::BadRequest("A forward-auth header is not text."))
}

/// The signers of the answer's identity headers: the `X-User-Jwt` one and,
/// with `alb-headers`, ALB's `x-amzn-oidc-*` (so an ingress can copy the same
/// headers the proxy would send upstream).
#[derive(Clone, Copy)]
pub struct Signers<'a> {
    pub identity: Option<&'a IdentitySigner>,
    pub alb: Option<&'a AlbSigner>,
}

/// The answer to one auth request: the flow's decision, rendered for an
/// ingress (an identity-carrying 2xx, a sign-in, or 401/403).
pub async fn check(
    flow: &Flow,
    config: &Config,
    signers: Signers<'_>,
    req: &AuthRequest<'_>,
    ctx: &mut RequestContext,
) -> Result<Response<Body>, Reject> {
    let original = original(config, req)?;
    let reported = original.as_ref().map(Original::target);
    // Without a trusted original URL only unrestricted providers count.
    let unreported;
    let target = match &reported {
        Some(target) => target,
        None => {
            unreported = Target::new(req.method, None, "/");
            &unreported
        }
    };
    let query_rules = Rules::from_query(req.query);
    let access = config
        .authz
        .forward_auth_access(reported.as_ref())
        .and(&query_rules);
    let (method, rd) = match &original {
        Some(o) => (&o.method, o.url.as_str()),
        None => (req.method, "/"),
    };
    let asked = Asked {
        headers: req.headers,
        target,
        kind: ClientKind::of(method, req.headers),
        return_to: ReturnTo::Url(rd),
        redirect_navigation: config.forward_auth.redirect_browsers,
    };
    let principal = match flow.decide(&asked, &access).await? {
        Decision::User(principal) => principal,
        // Forward-auth never skips sign-in; an anonymous answer is a 401.
        Decision::Anonymous => {
            return Err(Reject::NeedsLogin {
                start: flow.start_href(rd),
            })
        }
        Decision::NeedsSignIn(sign_in) => return respond::sign_in(sign_in),
        Decision::Forbidden(forbidden) => {
            ctx.set_forbidden_user(&forbidden);
            return Err(Reject::Forbidden(forbidden));
        }
    };
    ctx.set_user(principal.identity());
    Ok(no_store(identity_answer(config, signers, principal)))
}

/// `ok-status` with the identity headers, the oauth2-proxy names too.
fn identity_answer(config: &Config, signers: Signers<'_>, principal: Principal) -> Response<Body> {
    let who = principal.identity();
    let mut response = Response::new(body::empty());
    *response.status_mut() = config.forward_auth.ok_status;
    let h = response.headers_mut();
    match principal.session() {
        Some((_, session)) => set_identity_values(h, session.identity_values(), &config.headers),
        None => set_identity_headers(h, who, &config.headers),
    }
    if let Some(token) = signers.identity.and_then(|s| s.sign(who)) {
        h.insert(config.headers.jwt.clone(), token);
    }
    // As the proxy sends them: browser sessions only (ALB has no bearer tokens).
    if let (Some(alb), Some((id, session))) = (signers.alb, principal.session()) {
        alb.insert_headers(h, id, session);
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
        h.append(http::header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::PathView;
    use crate::config::OriginalHeaders;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    /// Every ingress's headers at once, as a client could add them.
    fn everything() -> HeaderMap {
        headers(&[
            (
                "x-original-url",
                "https://App.example.com:8443/admin/x?y=/public",
            ),
            ("x-original-method", "DELETE"),
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/static/../public"),
            ("x-forwarded-host", "b.example.com"),
            ("x-forwarded-proto", "https"),
            ("host", "c.example.com"),
        ])
    }

    fn read(
        config: &Config,
        h: &HeaderMap,
        rest: &str,
        peer: &str,
    ) -> Result<Option<Original>, Reject> {
        let req = AuthRequest {
            method: &Method::POST,
            headers: h,
            rest,
            query: Some("q=1"),
            peer: peer.parse().unwrap(),
        };
        original(config, &req)
    }

    #[test]
    fn each_ingress_is_believed_only_for_its_own_headers() {
        let mut config = crate::proxy::tests::test_config();
        let h = everything();
        let peer = "10.0.0.5:1234";
        assert_eq!(read(&config, &h, "", peer).unwrap(), None, "untrusted peer");
        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];

        let nginx = read(&config, &h, "", peer).unwrap().unwrap();
        assert_eq!(nginx.method, Method::DELETE, "never X-Forwarded-Method");
        let t = nginx.target();
        assert_eq!(t.host.as_deref(), Some("app.example.com"));
        assert_eq!(t.path, PathView::Canonical("/admin/x".into()));

        config.forward_auth.ingress = ForwardAuthIngress::Traefik;
        let traefik = read(&config, &h, "", peer).unwrap().unwrap();
        assert_eq!(traefik.method, Method::GET, "never X-Original-Method");
        assert_eq!(
            traefik.host.as_deref(),
            Some("b.example.com"),
            "never X-Original-URL"
        );
        assert!(matches!(traefik.target().path, PathView::Ambiguous { .. }));
        assert_eq!(traefik.url, "https://b.example.com/static/../public");

        config.forward_auth.ingress = ForwardAuthIngress::Envoy;
        let envoy = read(&config, &h, "/reports", peer).unwrap().unwrap();
        assert_eq!(envoy.method, Method::POST, "the auth request's own");
        assert_eq!(envoy.host.as_deref(), Some("c.example.com"));
        assert_eq!(envoy.url, "https://c.example.com/reports?q=1");

        config.forward_auth.ingress = ForwardAuthIngress::Generic(OriginalHeaders {
            method: None,
            url: HeaderName::from_static("x-forwarded-uri"),
            host: Some(HeaderName::from_static("host")),
        });
        let generic = read(&config, &h, "", peer).unwrap().unwrap();
        assert_eq!(generic.method, Method::POST);
        assert_eq!(generic.host.as_deref(), Some("c.example.com"));
    }

    #[test]
    fn ambiguous_reports_are_refused() {
        let mut config = crate::proxy::tests::test_config();
        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = "10.0.0.5:1";
        for h in [
            headers(&[(
                "x-original-url",
                "https://admin.example.com@public.example.com/",
            )]),
            headers(&[
                ("x-original-url", "https://a.example/"),
                ("x-original-url", "https://b.example/"),
            ]),
            headers(&[("x-original-url", "/relative")]),
        ] {
            assert!(read(&config, &h, "", peer).is_err(), "{h:?}");
        }
        config.forward_auth.ingress = ForwardAuthIngress::Traefik;
        let h = headers(&[
            ("x-forwarded-uri", "/"),
            ("x-forwarded-host", "a.example, b.example"),
        ]);
        assert!(read(&config, &h, "", peer).is_err());
        assert_eq!(
            read(
                &config,
                &headers(&[("x-original-url", "https://a.example/")]),
                "",
                peer
            )
            .unwrap(),
            None
        );
    }
}
