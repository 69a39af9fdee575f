//! The sidecar's own endpoints under the prefix (sign-in, sign-out, userinfo,
//! readiness, the provider's back-channel logout): each asks the flow, then
//! renders its answer.

use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::proxied::request_host;
use super::state::AppState;
use crate::body::Body;
use crate::flow::{is_cross_site, FlowError};
use crate::http::pages;
use crate::http::respond::{self, Reject};
use crate::http::RequestContext;
use crate::metrics::{metrics, OutcomeLabels};

pub use super::keys::{alb_public_key, jwks};

fn query_param(query: Option<&str>, name: &str) -> String {
    query
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name))
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/".to_string())
}

/// Ready: every provider's discovery and keys loaded, and the session store
/// answering (a replica whose Redis is gone can serve no one).
pub async fn ready(state: &AppState) -> Response<Body> {
    let providers = state.is_ready();
    let sessions = state.sessions.reachable().await;
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
    respond::json(status, &body)
}

/// Per provider: loaded or not, and the configuration problem last met (what,
/// where, and the setting to change) until it is fixed.
fn provider_status(state: &AppState) -> serde_json::Value {
    let entries = state.providers.all().iter().map(|p| {
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

/// The IdP's redirect back; every outcome is counted.
pub async fn callback(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    ctx: &mut RequestContext,
) -> Result<Response<Body>, Reject> {
    let result = state.flow.callback(query.unwrap_or(""), headers).await;
    let (outcome, reason) = match &result {
        Ok(_) => ("success", "signed_in"),
        Err(e) => ("failure", e.reason()),
    };
    metrics()
        .sign_ins
        .get_or_create(&OutcomeLabels { outcome, reason })
        .inc();
    let redirect = result?;
    ctx.set_redirect_user(&redirect);
    respond::redirect(redirect)
}

/// Same-site only: another site must not sign users out.
pub async fn sign_out(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    ctx: &mut RequestContext,
) -> Result<Response<Body>, Reject> {
    let own = state.flow.own_origin();
    if is_cross_site(headers, own, state.config.cookie.domain.is_some()) {
        return Err(FlowError::CrossSiteSignOut.into());
    }
    metrics().sign_outs.inc();
    let redirect = state
        .flow
        .sign_out(&query_param(query, "rd"), headers)
        .await?;
    ctx.set_redirect_user(&redirect);
    respond::redirect(redirect)
}

/// The provider's logout token: 200 (empty), or 400 / 501 with an OAuth
/// error body; never cached (OIDC Back-Channel Logout 1.0, 2.8).
pub async fn backchannel_logout(
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

/// Where the IdP's logout lands: on to the remembered `rd`, or a page.
pub fn signed_out(state: &AppState, headers: &HeaderMap) -> Response<Body> {
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

pub async fn userinfo(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &mut RequestContext,
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
    ctx.set_user(id);
    let body = serde_json::json!({
        "sub": id.sub, "email": id.email, "name": id.name,
        "username": id.username, "groups": id.groups,
    });
    Ok(respond::json(StatusCode::OK, &body))
}

/// `{prefix}/start?rd=&provider=`: the named provider, when it serves `rd`;
/// without a name, the one provider serving it, or the chooser.
pub fn start(state: &AppState, req: &Request<Incoming>) -> Result<Response<Body>, Reject> {
    let query = req.uri().query();
    let rd = state.flow.safe_redirect(&query_param(query, "rd"));
    let named = query
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "provider"));
    let redirect = state.flow.start_for(
        &rd,
        request_host(req),
        named.as_ref().map(|(_, name)| name.as_ref()),
        req.headers(),
    )?;
    respond::redirect(redirect)
}

/// `{prefix}/sign_in?rd=`: one button per provider serving `rd`.
pub fn sign_in_page(state: &AppState, req: &Request<Incoming>) -> Result<Response<Body>, Reject> {
    let rd = state
        .flow
        .safe_redirect(&query_param(req.uri().query(), "rd"));
    let choices = state.flow.sign_in_choices(&rd, request_host(req))?;
    let borrowed: Vec<(&str, &str, &str)> = choices
        .iter()
        .map(|c| (c.name.as_str(), c.display_name.as_str(), c.href.as_str()))
        .collect();
    Ok(respond::html(
        StatusCode::OK,
        pages::choose_provider(&borrowed),
    ))
}
