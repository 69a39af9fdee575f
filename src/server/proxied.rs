//! Everything not under the prefix: the flow decides (forward, sign in first,
//! or refuse), then the request goes upstream with the principal's identity.

use std::net::SocketAddr;
use std::time::Instant;

use http::{header, Request, Response};
use hyper::body::Incoming;

use super::state::AppState;
use crate::authz;
use crate::body::Body;
use crate::flow::{Asked, Decision, Principal, ReturnTo};
use crate::http::respond::{self, Reject};
use crate::http::RequestContext;
use crate::metrics::metrics;
use crate::proxy::{ForwardContext, Upstream};

/// The host the request was made to: the target's authority, else `Host`.
pub fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    })
}

/// Without a session a navigation goes straight to the IdP (no extra round
/// trip), another browser request gets a sign-in page, an API client JSON.
/// A signed-in user the rules refuse gets 403.
pub async fn proxy(
    state: &AppState,
    upstream: &Upstream,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    ctx: &mut RequestContext,
) -> Result<Response<Body>, Reject> {
    let host = request_host(&req);
    let target = authz::Target::new(req.method(), host, req.uri().path());
    let preflight = authz::is_preflight(req.method(), req.headers());
    let access = state.config.authz.access(&target, preflight);
    let asked = Asked {
        headers: req.headers(),
        target: &target,
        kind: ctx.kind,
        return_to: ReturnTo::Proxied {
            host,
            path_and_query: req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
        },
        redirect_navigation: true,
    };
    let principal = match state.flow.decide(&asked, &access).await? {
        Decision::User(principal) => Some(principal),
        Decision::Anonymous => None,
        Decision::NeedsSignIn(sign_in) => return respond::sign_in(sign_in),
        Decision::Forbidden(forbidden) => {
            ctx.set_forbidden_user(&forbidden);
            return Err(Reject::Forbidden(forbidden));
        }
    };
    if let Some(principal) = &principal {
        ctx.set_user(principal.identity());
    }
    forward(upstream, req, peer, tls, principal).await
}

/// Sends the request upstream with the principal's identity headers (none,
/// and every client-sent look-alike stripped, without one).
async fn forward(
    upstream: &Upstream,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    principal: Option<Principal>,
) -> Result<Response<Body>, Reject> {
    if upstream.escapes_base(req.uri().path()) {
        return Err(Reject::BadRequest(
            "The path has dot segments, which could leave the application's base path.",
        ));
    }
    let ctx = ForwardContext {
        client_addr: peer,
        identity: principal.as_ref().map(Principal::identity),
        session: principal.as_ref().and_then(Principal::session),
        tls,
    };
    let started = Instant::now();
    let forwarded = upstream.forward(req, &ctx).await;
    metrics()
        .upstream_seconds
        .observe(started.elapsed().as_secs_f64());
    let mut response = forwarded?;
    if let Some(cookie) = principal
        .and_then(Principal::reseal)
        .and_then(|c| c.parse().ok())
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
