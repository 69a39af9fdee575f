//! Path -> surface: the sidecar's own endpoints under the prefix, liveness and
//! readiness, and everything else through authentication to the upstream.
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
use std::time::Instant;

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::state::AppState;
use crate::authz;
use crate::body::Body;
use crate::config::Config;
use crate::flow::{is_cross_site, own_origin, FlowError, Principal};
use crate::forward_auth;
use crate::http::pages;
use crate::http::respond::{self, respond, ClientKind, Reject};
use crate::identity::LoggedUser;
use crate::metrics::{metrics, OutcomeLabels};
use crate::proxy::{trusted, ForwardContext, Upstream};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// One request, start to end; never fails, every error becomes a response.
/// Writes the one access-log line and counts the answer.
pub async fn handle(
    state: Arc<AppState>,
    upstream: &Upstream,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(req.headers(), peer, &state.config);
    req.headers_mut().insert(X_REQUEST_ID, request_id.clone());
    // Copied for the access line only when it is written (`SIDECAR_LOG=warn` skips it).
    let logged = tracing::enabled!(target: "access", tracing::Level::INFO);
    let method = req.method().clone();
    let path = logged.then(|| req.uri().path().chars().take(256).collect::<String>());
    let kind = ClientKind::of(req.method(), req.headers());
    let mut user = None;
    // Refusals before routing still get a request id, a count and an access line.
    let result = match super::framing::check(&req) {
        Err(reject) => Err(reject),
        Ok(()) if header_bytes(req.headers()) > state.config.limits.max_request_header_bytes => {
            Err(Reject::HeadersTooLarge)
        }
        Ok(()) => route(&state, upstream, req, peer, tls, &mut user).await,
    };
    let mut response = result.unwrap_or_else(|reject| {
        let ctx = respond::Context {
            request_id: request_id.to_str().unwrap_or("-"),
            upstream: state.upstream_addr.as_str(),
        };
        respond(kind, reject, &ctx)
    });
    if let Some(who) = response.extensions_mut().remove::<LoggedUser>() {
        user.get_or_insert(who.0);
    }
    response
        .headers_mut()
        .insert(X_REQUEST_ID, request_id.clone());
    let status = response.status().as_u16();
    metrics().request(status);
    tracing::info!(
        target: "access",
        %method,
        path = path.as_deref().unwrap_or("-"),
        status,
        latency_ms = round_ms(started.elapsed()),
        user = user.as_deref().unwrap_or("-"),
        request_id = request_id.to_str().unwrap_or("-"),
        "request"
    );
    response
}

/// Milliseconds to two decimals (`3.08`): more digits are noise in a log line.
fn round_ms(elapsed: std::time::Duration) -> f64 {
    (elapsed.as_secs_f64() * 100_000.0).round() / 100.0
}

/// A trusted proxy's `X-Request-Id` is kept (if sane); anyone else gets a new one.
fn request_id(headers: &HeaderMap, peer: SocketAddr, config: &Config) -> HeaderValue {
    let given = headers
        .get(&X_REQUEST_ID)
        .filter(|v| v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .filter(|_| trusted(peer.ip(), &config.trusted_proxies));
    match given {
        Some(v) => v.clone(),
        // From the thread-local RNG: `new_v4` would make a getrandom syscall
        // per request. Encoded on the stack, not through `Display`.
        None => {
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text = id.hyphenated().encode_lower(&mut text);
            HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    }
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum()
}

fn query_param(query: Option<&str>, name: &str) -> String {
    query
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name))
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/".to_string())
}

async fn route(
    state: &AppState,
    upstream: &Upstream,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    user: &mut Option<String>,
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
        // Ready: every provider's discovery and keys loaded, and the session
        // store answering (a replica whose Redis is gone can serve no one).
        let providers = state.is_ready();
        let sessions = state.flow.sessions().reachable().await;
        let ready = providers && sessions;
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = serde_json::json!({
            "ready": ready, "providers": providers, "session_store": sessions,
            "provider_status": provider_status(state),
        });
        return Ok(respond::json(status, &body));
    }
    if path == state.callback_path {
        return own_endpoint(state, "/callback", &req, peer, user).await;
    }
    if let Some(rest) = path.strip_prefix(config.proxy_prefix.as_str()) {
        if rest == "/backchannel_logout" {
            return backchannel_logout(state, req).await;
        }
        if rest.starts_with('/') {
            let rest = rest.to_string();
            return own_endpoint(state, &rest, &req, peer, user).await;
        }
    }
    proxy(state, upstream, req, peer, tls, user).await
}

/// Per provider: loaded or not, and the configuration problem last met (what,
/// where, and the setting to change) until it is fixed.
fn provider_status(state: &AppState) -> serde_json::Value {
    let entries = state.flow.providers().all().iter().map(|p| {
        let mut entry = serde_json::json!({ "ready": p.is_ready() });
        if let Some(problem) = p.problem() {
            entry["problem"] = problem.problem.clone().into();
            entry["reason"] = problem.reason.into();
            entry["url"] = problem.url.clone().into();
            entry["setting"] = problem.setting.into();
        }
        (p.name().to_string(), entry)
    });
    serde_json::Value::Object(entries.collect())
}

async fn own_endpoint(
    state: &AppState,
    rest: &str,
    req: &Request<Incoming>,
    peer: SocketAddr,
    user: &mut Option<String>,
) -> Result<Response<Body>, Reject> {
    let flow = &state.flow;
    let (method, headers, query) = (req.method(), req.headers(), req.uri().query());
    let get = method == Method::GET || method == Method::HEAD;
    match rest {
        "/start" if get => start(state, req),
        "/sign_in" if get => sign_in_page(state, req),
        "/callback" if get => {
            let result = flow.callback(query.unwrap_or(""), headers).await;
            let (outcome, reason) = match &result {
                Ok(_) => ("success", "signed_in"),
                Err(e) => ("failure", e.reason()),
            };
            metrics()
                .sign_ins
                .get_or_create(&OutcomeLabels { outcome, reason })
                .inc();
            Ok(result?)
        }
        "/sign_out" if get || method == Method::POST => {
            let own = own_origin(&state.config.provider.redirect_url);
            if is_cross_site(headers, &own, state.config.cookie.domain.is_some()) {
                return Err(FlowError::CrossSiteSignOut.into());
            }
            metrics().sign_outs.inc();
            Ok(flow.sign_out(&query_param(query, "rd"), headers).await?)
        }
        "/signed_out" if get => Ok(signed_out(state, headers)),
        "/userinfo" if get => userinfo(state, headers, user).await,
        "/jwks.json" => jwks(state, get),
        r if r.starts_with("/alb-public-keys/") => alb_public_key(state, r, get),
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
            let answer = forward_auth::check(flow, &state.config, signers, &req).await?;
            *user = ["x-auth-request-email", "x-auth-request-user"]
                .iter()
                .find_map(|h| answer.headers().get(*h))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            Ok(answer)
        }
        "/start" | "/sign_in" | "/callback" | "/signed_out" | "/userinfo" | "/sign_out" => {
            Err(Reject::MethodNotAllowed)
        }
        _ => Err(Reject::NotFound),
    }
}

/// The provider's logout token: 200 (empty), or 400 / 501 with an OAuth
/// error body; never cached (OIDC Back-Channel Logout 1.0, 2.8).
async fn backchannel_logout(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<Response<Body>, Reject> {
    if req.method() != Method::POST {
        return Err(Reject::MethodNotAllowed);
    }
    match state.flow.backchannel_logout(req.into_body()).await {
        Ok(_) => Ok(respond::no_store(Response::new(crate::body::empty()))),
        Err(error) => {
            let body = serde_json::json!({
                "error": error.code(), "error_description": error.to_string(),
            });
            Ok(respond::json(error.status(), &body))
        }
    }
}

fn signed_out(state: &AppState, headers: &HeaderMap) -> Response<Body> {
    let (rd, clear) = state.flow.signed_out_target(headers);
    let mut response = match rd {
        Some(rd) => {
            let mut r = Response::new(crate::body::empty());
            *r.status_mut() = StatusCode::FOUND;
            if let Ok(v) = rd.parse() {
                r.headers_mut().insert(header::LOCATION, v);
            }
            respond::no_store(r)
        }
        None => respond::html(
            StatusCode::OK,
            pages::signed_out(&state.flow.start_href("/")),
        ),
    };
    if let Ok(v) = clear.parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The signed identity header's public keys; they change only with the key
/// (a restart without a key file), so verifiers may cache them a few minutes.
fn jwks(state: &AppState, get: bool) -> Result<Response<Body>, Reject> {
    let Some(signer) = &state.signer else {
        return Err(Reject::NotFound);
    };
    if !get {
        return Err(Reject::MethodNotAllowed);
    }
    let mut response = Response::new(crate::body::full(signer.jwks_json()));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// ALB's key endpoint layout: the PEM of the key named in the token's `kid`.
/// A kid's key never changes, so it may be cached for a day.
fn alb_public_key(state: &AppState, rest: &str, get: bool) -> Result<Response<Body>, Reject> {
    let kid = rest.trim_start_matches("/alb-public-keys/");
    let pem = state.alb.as_ref().and_then(|alb| alb.public_key_pem(kid));
    let Some(pem) = pem else {
        return Err(Reject::NotFound);
    };
    if !get {
        return Err(Reject::MethodNotAllowed);
    }
    let mut response = Response::new(crate::body::full(pem.to_string()));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(response)
}

async fn userinfo(
    state: &AppState,
    headers: &HeaderMap,
    user: &mut Option<String>,
) -> Result<Response<Body>, Reject> {
    let Some(auth) = state
        .flow
        .authenticate(headers)
        .await
        .map_err(FlowError::from)?
    else {
        return Err(Reject::NeedsLogin {
            start: state.flow.start_href("/"),
        });
    };
    let id = &auth.session.identity;
    *user = Some(access_user(id));
    let body = serde_json::json!({
        "sub": id.sub, "email": id.email, "name": id.name,
        "username": id.username, "groups": id.groups,
    });
    Ok(respond::json(StatusCode::OK, &body))
}

/// Who the access line names: the email when verified, else the `sub`.
fn access_user(who: &crate::identity::Identity) -> String {
    who.log_name()
}

/// Where a proxied navigation returns after sign-in: the same URL on the host
/// it was asked on when that is another allow-listed host (one sidecar serving
/// several hosts), else the path, which resolves on the sidecar's own origin.
fn return_to(state: &AppState, req: &Request<Incoming>) -> String {
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let own = own_origin(&state.config.provider.redirect_url);
    request_host(req)
        .map(|h| {
            state
                .flow
                .safe_redirect(&format!("{}://{h}{path}", own.scheme()))
        })
        .filter(|rd| url::Url::parse(rd).is_ok_and(|u| u.origin() != own.origin()))
        .unwrap_or_else(|| path.to_string())
}

/// The providers serving `rd` (sanitized): an absolute URL names its host,
/// a path is on the host this request came to.
fn choices_for_rd<'a>(
    state: &'a AppState,
    req: &Request<Incoming>,
    rd: &str,
) -> Vec<&'a std::sync::Arc<crate::provider::Provider>> {
    let target = match url::Url::parse(rd) {
        Ok(u) => authz::Target::new(&Method::GET, u.host_str(), u.path()),
        Err(_) => authz::Target::new(&Method::GET, request_host(req), rd),
    };
    state.flow.providers().choices(&target)
}

/// `{prefix}/start?rd=&provider=`: the named provider, when it serves `rd`;
/// without a name, the one provider serving it, or the chooser.
fn start(state: &AppState, req: &Request<Incoming>) -> Result<Response<Body>, Reject> {
    let query = req.uri().query();
    let rd = state.flow.safe_redirect(&query_param(query, "rd"));
    let choices = choices_for_rd(state, req, &rd);
    let named = query
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "provider"));
    let Some((_, name)) = named else {
        return Ok(state.flow.begin(&choices, &rd, req.headers())?);
    };
    let provider = choices
        .iter()
        .find(|p| p.name() == name)
        .ok_or(FlowError::WrongProvider)?;
    Ok(state.flow.start(provider, &rd, req.headers())?)
}

/// `{prefix}/sign_in?rd=`: one button per provider serving `rd`.
fn sign_in_page(state: &AppState, req: &Request<Incoming>) -> Result<Response<Body>, Reject> {
    let rd = state
        .flow
        .safe_redirect(&query_param(req.uri().query(), "rd"));
    let choices = choices_for_rd(state, req, &rd);
    if choices.is_empty() {
        return Err(FlowError::NoProvider.into());
    }
    let links: Vec<(String, String, String)> = choices
        .iter()
        .map(|p| {
            let c = p.config();
            (
                c.name.clone(),
                c.display_name.clone(),
                state.flow.start_with_href(&c.name, &rd),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    Ok(respond::html(
        StatusCode::OK,
        pages::choose_provider(&borrowed),
    ))
}

/// The host the request was made to: the target's authority, else `Host`.
fn request_host(req: &Request<Incoming>) -> Option<&str> {
    req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    })
}

/// Without a session a navigation goes straight to the IdP (no extra round
/// trip), another browser request gets a sign-in page, an API client JSON.
/// A signed-in user the rules refuse gets 403. Skip-auth requests go through
/// with the identity when there is one, else anonymously.
async fn proxy(
    state: &AppState,
    upstream: &Upstream,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    user: &mut Option<String>,
) -> Result<Response<Body>, Reject> {
    let target = authz::Target::new(req.method(), request_host(&req), req.uri().path());
    let preflight = authz::is_preflight(req.method(), req.headers());
    let access = state.config.authz.access(&target, preflight);
    let choices = state.flow.providers().choices(&target);
    let principal = state.flow.principal(req.headers(), &choices).await;
    let principal = match principal {
        // A bad token is no reason to refuse what needs no sign-in.
        Err(_) if access.skip_auth => None,
        other => other.map_err(Reject::from)?,
    };
    let Some(principal) = principal else {
        if access.skip_auth {
            return forward(upstream, req, peer, tls, None).await;
        }
        let rd = return_to(state, &req);
        return match ClientKind::of(req.method(), req.headers()) {
            ClientKind::Navigation => Ok(state.flow.begin(&choices, &rd, req.headers())?),
            _ => Err(Reject::NeedsLogin {
                start: state.flow.start_href(&rd),
            }),
        };
    };
    let who = principal.identity();
    if tracing::enabled!(target: "access", tracing::Level::INFO) {
        *user = Some(access_user(who));
    }
    if !access.skip_auth && !access.allows(who) {
        return Err(Reject::Forbidden {
            who: who.email.clone().unwrap_or_else(|| who.username.clone()),
            sign_out: format!("{}/sign_out", state.config.proxy_prefix),
        });
    }
    forward(upstream, req, peer, tls, Some(principal)).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_rounded_to_two_decimals() {
        assert_eq!(round_ms(std::time::Duration::from_micros(3_084)), 3.08);
        assert_eq!(
            round_ms(std::time::Duration::from_nanos(1_234_567_891)),
            1234.57
        );
    }
}
