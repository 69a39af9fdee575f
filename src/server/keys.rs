//! Public keys the sidecar serves: the signed identity header's JWKS and
//! ALB's per-`kid` PEM. Both 404 when their feature is off.

use http::{header, HeaderValue, Response};

use super::state::AppState;
use crate::body::Body;
use crate::http::respond::Reject;

/// The signed identity header's public keys; they change only with the key
/// (a restart without a key file), so verifiers may cache them a few minutes.
pub fn jwks(state: &AppState, get: bool) -> Result<Response<Body>, Reject> {
    let Some(signer) = &state.signer else {
        return Err(Reject::NotFound);
    };
    if !get {
        return Err(Reject::MethodNotAllowed);
    }
    Ok(public(
        signer.jwks_json(),
        "application/json",
        "public, max-age=300",
    ))
}

/// ALB's key endpoint layout: the PEM of the key named in the token's `kid`.
/// A kid's key never changes, so it may be cached for a day.
pub fn alb_public_key(state: &AppState, rest: &str, get: bool) -> Result<Response<Body>, Reject> {
    let kid = rest.trim_start_matches("/alb-public-keys/");
    let pem = state.alb.as_ref().and_then(|alb| alb.public_key_pem(kid));
    let Some(pem) = pem else {
        return Err(Reject::NotFound);
    };
    if !get {
        return Err(Reject::MethodNotAllowed);
    }
    Ok(public(
        pem.to_string(),
        "application/x-pem-file",
        "public, max-age=86400",
    ))
}

fn public(body: String, content_type: &'static str, cache: &'static str) -> Response<Body> {
    let mut response = Response::new(crate::body::full(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
