//! The forwarder: one authenticated request in, one streamed upstream answer out.
//!
//! Bodies are never buffered: the client's body is boxed and sent as it
//! arrives, the upstream's body is boxed and returned as it arrives. Upstream
//! connections are HTTP/1.1, kept alive in one [`pool`] per worker. On the way
//! the request loses hop-by-hop headers, identity look-alikes and the sidecar's
//! own cookies, and gains `X-Forwarded-*` and the identity headers; see
//! [`headers`] for the rules and [`upgrade`] for WebSockets.

pub mod alb;
pub mod headers;
mod pool;
mod tls;
pub mod upgrade;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Extensions, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use ipnet::IpNet;

use crate::body::{boxed, Body, BoxError};
use crate::config::{Config, IdentityHeaders};
use crate::identity::Identity;
use crate::identity_jwt::IdentitySigner;
use crate::session::{Session, SessionId};
use alb::AlbSigner;
use pool::{Pool, SendError};

/// Idle upstream connections are closed after this long. Short, because app
/// servers often close idle keep-alive connections early (gunicorn: 2 s).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No connection to the upstream (refused, unreachable, connect timeout): 502.
    #[error("cannot connect to the upstream")]
    Connect(#[source] BoxError),
    /// The upstream's response headers did not arrive in time: 504.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// Anything else between us and the upstream: 502.
    #[error("the upstream exchange failed")]
    Upstream(#[source] BoxError),
}

/// What the caller knows about the request besides the request itself.
pub struct ForwardContext<'a> {
    /// The TCP peer (the client, or a proxy in front of us).
    pub client_addr: SocketAddr,
    /// The authenticated user; `None` for requests allowed anonymously.
    pub identity: Option<&'a Identity>,
    /// The user's session, when the identity came from one (not a bearer token).
    pub session: Option<(&'a SessionId, &'a Session)>,
    /// Whether the client reached us over TLS.
    pub tls: bool,
}

/// The upstream app and a connection pool to it. Cheap to clone; clones
/// share the pool, [`Upstream::with_own_pool`] makes one with its own.
#[derive(Clone)]
pub struct Upstream {
    /// An error when TLS to an https upstream cannot work (no roots) or the
    /// upstream URL cannot be dialled.
    pool: Result<Arc<Pool>, String>,
    inner: Arc<Inner>,
}

/// Everything but the pool, shared by every pool's [`Upstream`].
struct Inner {
    connector: Result<tls::Connector, String>,
    /// Where requests go; an error when the URL cannot be a request target.
    target: Result<Target, String>,
    headers_timeout: Duration,
    trusted_proxies: Vec<IpNet>,
    identity_headers: IdentityHeaders,
    cookie_name: String,
    pass_host_header: bool,
    /// Signs the identity into `identity_headers.jwt` when `identity-jwt` is on.
    signer: Option<Arc<IdentitySigner>>,
    /// Sends ALB's `x-amzn-oidc-*` headers when `alb-headers` is on.
    alb: Option<Arc<AlbSigner>>,
}

/// The upstream URL, split into the parts a request URI is built from.
#[derive(Clone, Debug)]
struct Target {
    /// `scheme://authority/`: what the connector dials.
    dial: Uri,
    authority: Authority,
    /// Path prefix without a trailing `/`; empty for the root.
    base: String,
}

impl Target {
    fn from_url(url: &url::Url) -> Result<Self, String> {
        let host = url.host_str().ok_or("the upstream URL has no host")?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let scheme: Scheme = url.scheme().parse().map_err(|_| "bad upstream scheme")?;
        let authority: Authority = authority.parse().map_err(|_| "bad upstream authority")?;
        let dial = Uri::builder()
            .scheme(scheme)
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|_| "bad upstream URL")?;
        Ok(Self {
            dial,
            authority,
            base: url.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether `path` could climb out of the base path once the app reads it.
    fn escapes_base(&self, path: &str) -> bool {
        !self.base.is_empty() && has_dot_segment(path)
    }

    /// The request target sent upstream (origin-form): base + path and query.
    fn rewrite(&self, uri: &Uri) -> Result<Uri, ProxyError> {
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        if !path_and_query.starts_with('/') {
            return Err(ProxyError::Upstream("request target is not a path".into()));
        }
        if self.escapes_base(uri.path()) {
            return Err(ProxyError::Upstream(
                "dot segments under a base path".into(),
            ));
        }
        let builder = Uri::builder();
        // Without a base path the parsed path is reused as is, not re-parsed.
        let builder = match uri.path_and_query() {
            Some(pq) if self.base.is_empty() => builder.path_and_query(pq.clone()),
            _ => builder.path_and_query(format!("{}{path_and_query}", self.base)),
        };
        builder.build().map_err(|e| ProxyError::Upstream(e.into()))
    }
}

impl Upstream {
    pub fn new(config: &Config) -> Self {
        Self::signing(config, None)
    }

    /// Like [`Upstream::new`], adding the signed identity header to every
    /// request with an identity when `signer` is given.
    pub fn signing(config: &Config, signer: Option<Arc<IdentitySigner>>) -> Self {
        Self::with_signers(config, signer, None)
    }

    /// Like [`Upstream::signing`], also sending ALB's `x-amzn-oidc-*` headers
    /// for session requests when `alb` is given.
    pub fn with_signers(
        config: &Config,
        signer: Option<Arc<IdentitySigner>>,
        alb: Option<Arc<AlbSigner>>,
    ) -> Self {
        let connector = tls::connector(config);
        if let Err(problem) = &connector {
            tracing::error!(%problem, "the upstream cannot be reached over https");
        }
        let inner = Arc::new(Inner {
            connector,
            target: Target::from_url(&config.upstream),
            headers_timeout: config.timeouts.upstream_headers,
            trusted_proxies: config.trusted_proxies.clone(),
            identity_headers: config.headers.clone(),
            cookie_name: config.cookie.name.clone(),
            pass_host_header: config.pass_host_header,
            signer,
            alb,
        });
        Self {
            pool: pool(&inner),
            inner,
        }
    }

    /// The same upstream and rules with a connection pool of its own: one per
    /// worker thread, so a request and its upstream connection share a thread.
    pub fn with_own_pool(&self) -> Self {
        Self {
            pool: pool(&self.inner),
            inner: self.inner.clone(),
        }
    }

    /// Forwards one request; the caller has already authenticated it
    /// (identity `None` = allowed anonymous).
    pub async fn forward(
        &self,
        mut req: Request<Incoming>,
        ctx: &ForwardContext<'_>,
    ) -> Result<Response<Body>, ProxyError> {
        let inner = &*self.inner;
        let target = inner
            .target
            .as_ref()
            .map_err(|e| ProxyError::Upstream(e.clone().into()))?;
        let protocol = upgrade::requested(req.headers());
        let client_io = protocol.as_ref().map(|_| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let rewritten = target.rewrite(&parts.uri)?;
        let original = std::mem::replace(&mut parts.uri, rewritten);
        parts.version = Version::HTTP_11;
        parts.extensions = Extensions::new();
        inner.prepare(&mut parts.headers, &original, ctx, protocol.as_ref());
        if !parts.headers.contains_key(header::HOST) {
            insert_str(&mut parts.headers, header::HOST, target.authority.as_str());
        }
        let request = Request::from_parts(parts, boxed(body));
        let response = self.send(request).await?;
        inner.finish(response, protocol, client_io)
    }

    /// Sends the request; the timeout covers connecting and the response headers only.
    async fn send(&self, request: Request<Body>) -> Result<Response<Body>, ProxyError> {
        let pool = (self.pool.as_ref()).map_err(|e| ProxyError::Connect(e.clone().into()))?;
        match tokio::time::timeout(self.inner.headers_timeout, pool.send(request)).await {
            Err(_elapsed) => Err(ProxyError::Timeout),
            Ok(Err(SendError::Connect(error))) => Err(ProxyError::Connect(error)),
            Ok(Err(SendError::Exchange(error))) => Err(ProxyError::Upstream(error.into())),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Whether the path holds dot segments (`..`, `%2e%2e`, ...) while the
    /// upstream URL has a base path: the app could resolve them out of it
    /// (`/base/../internal`), so such requests are refused before forwarding.
    pub fn escapes_base(&self, path: &str) -> bool {
        self.inner
            .target
            .as_ref()
            .is_ok_and(|t| t.escapes_base(path))
    }

    /// The request-header half of [`Upstream::forward`] on its own, so the
    /// fuzz targets can feed it hostile headers without a connection.
    pub fn prepare_headers(
        &self,
        headers: &mut HeaderMap,
        original: &Uri,
        ctx: &ForwardContext<'_>,
    ) {
        let protocol = upgrade::requested(headers);
        self.inner
            .prepare(headers, original, ctx, protocol.as_ref());
    }
}

impl Inner {
    /// Request header hygiene, in an order where later steps cannot be undone by the client.
    fn prepare(
        &self,
        headers: &mut HeaderMap,
        original: &Uri,
        ctx: &ForwardContext<'_>,
        upgrade: Option<&HeaderValue>,
    ) {
        headers::remove_hop_by_hop(headers, upgrade);
        // The host that was authorized: the target's authority (HTTP/2
        // `:authority`, HTTP/1 absolute form) when there is one, else `Host`.
        let authority = original
            .authority()
            .map(|a| HeaderValue::from_str(a.as_str()));
        if let Some(Ok(host)) = authority {
            headers.insert(header::HOST, host);
        }
        headers::strip_identity_headers(headers, &self.identity_headers);
        headers::filter_cookies(headers, &self.cookie_name);
        let peer_trusted = trusted(ctx.client_addr.ip(), &self.trusted_proxies);
        set_forwarded(headers, ctx, peer_trusted);
        if let (false, Ok(target)) = (self.pass_host_header, &self.target) {
            // After set_forwarded, so X-Forwarded-Host still names the client's host.
            insert_str(headers, header::HOST, target.authority.as_str());
        }
        if let Some(identity) = ctx.identity {
            match ctx.session {
                // The session's own identity: its values are encoded already.
                Some((_, session)) if std::ptr::eq(identity, &session.identity) => {
                    let values = session.identity_values();
                    headers::set_identity_values(headers, values, &self.identity_headers);
                }
                _ => headers::set_identity_headers(headers, identity, &self.identity_headers),
            }
            // After the strip above, so only our own token can arrive.
            if let Some(token) = self.signer.as_ref().and_then(|s| s.sign(identity)) {
                headers.insert(self.identity_headers.jwt.clone(), token);
            }
        }
        if let (Some(alb), Some((id, session))) = (&self.alb, ctx.session) {
            alb.insert_headers(headers, id, session);
        }
    }

    /// Response header hygiene, and the splice when the upstream switched protocols.
    fn finish(
        &self,
        mut response: Response<Body>,
        protocol: Option<HeaderValue>,
        client_io: Option<OnUpgrade>,
    ) -> Result<Response<Body>, ProxyError> {
        let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        if switched {
            let (Some(asked), Some(client_io)) = (&protocol, client_io) else {
                return Err(ProxyError::Upstream(
                    "101 without an upgrade request".into(),
                ));
            };
            if !upgrade::accepted(response.headers(), asked) {
                return Err(ProxyError::Upstream("101 to another protocol".into()));
            }
            upgrade::splice(client_io, hyper::upgrade::on(&mut response));
        }
        let (mut parts, body) = response.into_parts();
        parts.extensions = Extensions::new();
        headers::remove_hop_by_hop(&mut parts.headers, protocol.as_ref().filter(|_| switched));
        headers::filter_set_cookies(&mut parts.headers, &self.cookie_name);
        Ok(Response::from_parts(parts, body))
    }
}

/// A segment that is `.` or `..` as some app may read it: `%2e` decoded,
/// `/`, `\\`, `%2f` and `%5c` all separators, a `;parameter` ignored (Tomcat
/// reads `..;` as `..`).
fn has_dot_segment(path: &str) -> bool {
    let unified = path
        .to_ascii_lowercase()
        .replace("%2e", ".")
        .replace("%2f", "/")
        .replace("%5c", "/")
        .replace('\\', "/");
    unified
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .any(|segment| segment == "." || segment == "..")
}

/// A connection pool of its own to the upstream.
fn pool(inner: &Inner) -> Result<Arc<Pool>, String> {
    let connector = inner.connector.clone()?;
    let target = inner.target.as_ref().map_err(Clone::clone)?;
    Ok(Pool::new(connector, target.dial.clone(), POOL_IDLE_TIMEOUT))
}

/// Whether `X-Forwarded-*` from this peer are believed. IPv4-mapped IPv6
/// peers (`::ffff:a.b.c.d`, from dual-stack sockets) match IPv4 networks.
pub fn trusted(peer: IpAddr, proxies: &[IpNet]) -> bool {
    let peer = peer.to_canonical();
    proxies.iter().any(|net| net.contains(&peer))
}

/// Sets `X-Forwarded-For/-Proto/-Host`: appended to / kept for trusted peers;
/// otherwise every routing header (`Forwarded`, `X-Real-IP`, `X-Original-URL`,
/// ...) goes and the three are our own view.
fn set_forwarded(headers: &mut HeaderMap, ctx: &ForwardContext<'_>, peer_trusted: bool) {
    let peer = ctx.client_addr.ip().to_canonical().to_string();
    let proto = HeaderValue::from_static(if ctx.tls { "https" } else { "http" });
    let host = headers.get(header::HOST).cloned();
    if peer_trusted {
        let mut chain: Vec<String> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        chain.push(peer);
        insert_str(headers, X_FORWARDED_FOR, &chain.join(", "));
        if !headers.contains_key(&X_FORWARDED_PROTO) {
            headers.insert(X_FORWARDED_PROTO, proto);
        }
        if let (false, Some(host)) = (headers.contains_key(&X_FORWARDED_HOST), host) {
            headers.insert(X_FORWARDED_HOST, host);
        }
        return;
    }
    // Forwarded, X-Real-IP, X-Forwarded-* and the other routing headers.
    headers::strip_routing_headers(headers);
    insert_str(headers, X_FORWARDED_FOR, &peer);
    headers.insert(X_FORWARDED_PROTO, proto);
    if let Some(host) = host {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// Inserts a value we built; one that is not a valid header value removes the header.
fn insert_str(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(value) => headers.insert(name, value),
        Err(_) => headers.remove(name),
    };
}

#[cfg(test)]
pub(crate) mod tests {

    use super::*;

    /// A complete [`Config`] through the real loader, for tests only.
    pub(crate) fn test_config() -> Config {
        match Config::load(&crate::config::RunArgs::default(), &test_env()) {
            Ok(config) => config,
            Err(e) => panic!("test config: {e}"),
        }
    }

    /// The settings of [`test_config`], to add to.
    pub(crate) fn test_env() -> crate::config::MapSource {
        crate::config::MapSource::new([
            ("SIDECAR_UPSTREAM", "http://127.0.0.1:8000"),
            (
                "SIDECAR_ISSUER_URL",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test",
            ),
            ("SIDECAR_CLIENT_ID", "client-id"),
            (
                "SIDECAR_REDIRECT_URL",
                "https://app.example.com/oauth2/callback",
            ),
            ("SIDECAR_SIGN_OUT_URL", "https://app.example.com/"),
            ("SIDECAR_COOKIE_NAME", "_sidecar"),
            ("SIDECAR_COOKIE_SECRET", "0123456789abcdef0123456789abcdef"),
            ("SIDECAR_UPSTREAM_TIMEOUT", "30s"),
            ("SIDECAR_MAX_CONNECTIONS", "1024"),
        ])
    }

    fn target(url: &str) -> Target {
        Target::from_url(&url::Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn uri_gets_the_base_path_in_origin_form() {
        let uri: Uri = "/a/b?x=1&y=%20".parse().unwrap();
        let root = target("http://127.0.0.1:8000");
        assert_eq!(root.rewrite(&uri).unwrap(), "/a/b?x=1&y=%20");
        assert_eq!(root.dial, "http://127.0.0.1:8000/");
        let based = target("http://app.internal/base/");
        assert_eq!(based.rewrite(&uri).unwrap(), "/base/a/b?x=1&y=%20");
        let absolute: Uri = "http://client.example/p?q".parse().unwrap();
        assert_eq!(based.rewrite(&absolute).unwrap(), "/base/p?q");
        assert_eq!(root.rewrite(&absolute).unwrap(), "/p?q");
        let v6 = target("http://[::1]:9000/");
        assert_eq!(v6.dial, "http://[::1]:9000/");
        assert_eq!(v6.authority, "[::1]:9000");
    }

    #[test]
    fn dot_segments_cannot_leave_a_base_path() {
        let based = target("http://app.internal/base/");
        for escape in [
            "/../internal/admin",
            "/%2e%2e/internal",
            "/%2E%2e/internal",
            "/.%2e/internal",
            "/a/..",
            "/a/./b",
            "/..%2finternal",
            "/..%5Cinternal",
            "/..\\internal",
            "/..;/internal",
        ] {
            assert!(based.escapes_base(escape), "{escape}");
            let uri: Uri = escape.parse().unwrap_or_else(|_| "/..".parse().unwrap());
            assert!(based.rewrite(&uri).is_err(), "{escape}");
        }
        for fine in [
            "/a/b",
            "/a..b/c",
            "/...",
            "/.well-known/x",
            "/a/.b",
            "/%2e%2e%2e",
        ] {
            assert!(!based.escapes_base(fine), "{fine}");
        }
        let root = target("http://app.internal/");
        assert!(!root.escapes_base("/../x"), "no base path to leave");
    }

    #[test]
    fn trust_follows_cidrs_and_maps_ipv4_in_ipv6() {
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        assert!(trusted("10.1.2.3".parse().unwrap(), &nets));
        assert!(trusted("::ffff:10.1.2.3".parse().unwrap(), &nets));
        assert!(trusted("fd12::1".parse().unwrap(), &nets));
        assert!(!trusted("11.0.0.1".parse().unwrap(), &nets));
        assert!(!trusted("::ffff:11.0.0.1".parse().unwrap(), &nets));
        assert!(!trusted("10.0.0.1".parse().unwrap(), &[]));
    }

    const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

    fn spoofed() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("app.example.com"));
        h.insert(X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        h.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        h.insert(X_FORWARDED_HOST, HeaderValue::from_static("evil.example"));
        h.insert(header::FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
        h.insert(X_REAL_IP, HeaderValue::from_static("6.6.6.6"));
        h
    }

    fn ctx(addr: &str) -> ForwardContext<'static> {
        ForwardContext {
            client_addr: addr.parse().unwrap(),
            identity: None,
            session: None,
            tls: false,
        }
    }

    #[test]
    fn untrusted_peers_get_our_view() {
        let mut h = spoofed();
        h.insert("x-original-url", HeaderValue::from_static("/admin"));
        h.insert("X_Forwarded_Prefix", HeaderValue::from_static("/evil"));
        set_forwarded(&mut h, &ctx("[::ffff:192.0.2.7]:5000"), false);
        assert_eq!(h[&X_FORWARDED_FOR], "192.0.2.7");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
        assert_eq!(h[&X_FORWARDED_HOST], "app.example.com");
        let ours = [X_FORWARDED_FOR, X_FORWARDED_PROTO, X_FORWARDED_HOST];
        let others: Vec<&HeaderName> = h
            .keys()
            .filter(|n| *n != header::HOST && !ours.contains(n))
            .collect();
        assert!(others.is_empty(), "every routing header went: {others:?}");

        let mut hostless = spoofed();
        hostless.remove(header::HOST);
        set_forwarded(&mut hostless, &ctx("192.0.2.7:1"), false);
        assert!(
            hostless.get(X_FORWARDED_HOST).is_none(),
            "never the client's"
        );
    }

    #[test]
    fn trusted_peers_are_appended_to() {
        let mut h = spoofed();
        h.append(X_FORWARDED_FOR, HeaderValue::from_static("7.7.7.7"));
        set_forwarded(&mut h, &ctx("10.0.0.2:5000"), true);
        assert_eq!(h[&X_FORWARDED_FOR], "6.6.6.6, 7.7.7.7, 10.0.0.2");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&X_FORWARDED_HOST], "evil.example");
        assert_eq!(h[header::FORWARDED], "for=6.6.6.6");
        assert_eq!(
            h[X_REAL_IP], "6.6.6.6",
            "a trusted proxy's routing headers stay"
        );

        let mut bare = HeaderMap::new();
        bare.insert(header::HOST, HeaderValue::from_static("h"));
        set_forwarded(
            &mut bare,
            &ForwardContext {
                tls: true,
                ..ctx("10.0.0.2:1")
            },
            true,
        );
        assert_eq!(bare[&X_FORWARDED_FOR], "10.0.0.2");
        assert_eq!(bare[&X_FORWARDED_PROTO], "https");
        assert_eq!(bare[&X_FORWARDED_HOST], "h");
    }

    #[test]
    fn unusable_upstream_url_is_an_error_not_a_panic() {
        assert!(Target::from_url(&url::Url::parse("unix:/run/app.sock").unwrap()).is_err());
    }
}
