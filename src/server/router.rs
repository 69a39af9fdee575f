//! Path -> surface: the sidecar's own endpoints under the prefix, liveness and
//! readiness, and everything else through authentication to the upstream. It
//! only routes; the endpoints are in `endpoints`, the proxied path in `proxied`.
//!
//! Endpoints (prefix `/oauth2` by default):
//! - `GET  {prefix}/start?rd=`   begin a login
//! - `GET  {prefix}/callback`    the IdP's redirect back (the path of `redirect-url`)
//! - `GET|POST {prefix}/sign_out?rd=` end the session (same-site only)
//! - `GET  {prefix}/signed_out`  where the IdP's logout lands
//! - `GET  {prefix}/userinfo`    the signed-in identity as JSON
//! - `GET  {prefix}/auth`        forward-auth for ingress controllers (202/401/403)
//! - `GET  {prefix}/jwks.json`   public keys of the signed identity header (404 when off)
//! - `POST {prefix}/backchannel_logout` the provider's logout token (OIDC Back-Channel Logout)
//! - `GET  {prefix}/alb-public-keys/{kid}` the `x-amzn-oidc-data` key as PEM (404 when off or another kid)
//! - `GET  /ping`, `/ready`      liveness, readiness (paths configurable)

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::endpoints;
use super::proxied;
use super::state::AppState;
use crate::body::Body;
use crate::forward_auth;
use crate::http::respond::{self, respond, Reject};
use crate::http::{RequestContext, X_REQUEST_ID};
use crate::metrics::metrics;
use crate::proxy::Upstream;

/// One request, start to end; never fails, every error becomes a response.
/// Writes the one access-log line and counts the answer.
pub async fn handle(
    state: Arc<AppState>,
    upstream: &Upstream,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let mut ctx = RequestContext::new(&req, peer, &state.config.trusted_proxies);
    req.headers_mut().insert(X_REQUEST_ID, ctx.id.clone());
    // Refusals before routing still get a request id, a count and an access line.
    let result = match super::framing::check(&req) {
        Err(reject) => Err(reject),
        Ok(()) if header_bytes(req.headers()) > state.config.limits.max_request_header_bytes => {
            Err(Reject::HeadersTooLarge)
        }
        Ok(()) => route(&state, upstream, req, peer, tls, &mut ctx).await,
    };
    let mut response = result.unwrap_or_else(|reject| {
        respond(ctx.kind, reject, &ctx.respond_context(&state.upstream_addr))
    });
    response.headers_mut().insert(X_REQUEST_ID, ctx.id.clone());
    let status = response.status().as_u16();
    metrics().request(status);
    ctx.log_access(status);
    response
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum()
}

async fn route(
    state: &AppState,
    upstream: &Upstream,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    ctx: &mut RequestContext,
) -> Result<Response<Body>, Reject> {
    let config = &state.config;
    let path = req.uri().path();
    if path == config.ping_path {
        return Ok(respond::json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        ));
    }
    if path == config.ready_path {
        return Ok(endpoints::ready(state).await);
    }
    if path == state.callback_path {
        return own_endpoint(state, "/callback", &req, peer, ctx).await;
    }
    if let Some(rest) = path.strip_prefix(config.proxy_prefix.as_str()) {
        if rest == "/backchannel_logout" {
            return endpoints::backchannel_logout(state, req).await;
        }
        if rest.starts_with('/') {
            let rest = rest.to_string();
            return own_endpoint(state, &rest, &req, peer, ctx).await;
        }
    }
    proxied::proxy(state, upstream, req, peer, tls, ctx).await
}

async fn own_endpoint(
    state: &AppState,
    rest: &str,
    req: &Request<Incoming>,
    peer: SocketAddr,
    ctx: &mut RequestContext,
) -> Result<Response<Body>, Reject> {
    let (method, headers, query) = (req.method(), req.headers(), req.uri().query());
    let get = method == Method::GET || method == Method::HEAD;
    match rest {
        "/start" if get => endpoints::start(state, req),
        "/sign_in" if get => endpoints::sign_in_page(state, req),
        "/callback" if get => endpoints::callback(state, query, headers, ctx).await,
        "/sign_out" if get || method == Method::POST => {
            endpoints::sign_out(state, query, headers, ctx).await
        }
        "/signed_out" if get => Ok(endpoints::signed_out(state, headers)),
        "/userinfo" if get => endpoints::userinfo(state, headers, ctx).await,
        "/jwks.json" => endpoints::jwks(state, get),
        r if r.starts_with("/alb-public-keys/") => endpoints::alb_public_key(state, r, get),
        // Envoy's ext_authz appends the original path to the auth path.
        r if r == "/auth" || r.starts_with("/auth/") => {
            let signers = forward_auth::Signers {
                identity: state.signer.as_deref(),
                alb: state.alb.as_deref(),
            };
            let req = forward_auth::AuthRequest {
                method,
                headers,
                rest: &r["/auth".len()..],
                query,
                peer,
            };
            forward_auth::check(&state.flow, &state.config, signers, &req, ctx).await
        }
        "/start" | "/sign_in" | "/callback" | "/signed_out" | "/userinfo" | "/sign_out" => {
            Err(Reject::MethodNotAllowed)
        }
        _ => Err(Reject::NotFound),
    }
}
