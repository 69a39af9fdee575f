//! What one request carries from start to end (its id, who is asking, who
//! they turned out to be, when it began): built once, read by the access log.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};

use super::respond;
use crate::flow::{ClientKind, Forbidden, Redirect};
use crate::identity::Identity;
use crate::proxy::trusted;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct RequestContext {
    pub id: HeaderValue,
    pub kind: ClientKind,
    pub started: Instant,
    method: Method,
    /// Copied for the access line only when it is written (`SIDECAR_LOG=warn` skips it).
    path: Option<String>,
    /// Who the access line names, once known.
    user: Option<String>,
}

impl RequestContext {
    /// A trusted proxy's `X-Request-Id` is kept (if sane); anyone else's
    /// request gets a new one.
    pub fn new<B>(req: &Request<B>, peer: SocketAddr, trusted_proxies: &[ipnet::IpNet]) -> Self {
        let logged = tracing::enabled!(target: "access", tracing::Level::INFO);
        Self {
            id: request_id(req.headers(), peer, trusted_proxies),
            kind: ClientKind::of(req.method(), req.headers()),
            started: Instant::now(),
            method: req.method().clone(),
            path: logged.then(|| req.uri().path().chars().take(256).collect()),
            user: None,
        }
    }

    /// Names `who` in the access line: the email when there is one, else the `sub`.
    pub fn set_user(&mut self, who: &Identity) {
        if self.path.is_some() {
            self.user = Some(who.log_name());
        }
    }

    /// Names a signed-in user the rules refused.
    pub fn set_forbidden_user(&mut self, forbidden: &Forbidden) {
        if self.path.is_some() {
            self.user = Some(forbidden.user.clone());
        }
    }

    /// Names the user a login step signed in or out.
    pub fn set_redirect_user(&mut self, redirect: &Redirect) {
        if let Some(user) = redirect.user.as_ref().filter(|_| self.path.is_some()) {
            self.user = Some(user.clone());
        }
    }

    pub fn request_id(&self) -> &str {
        self.id.to_str().unwrap_or("-")
    }

    /// What an error answer may name besides the failure.
    pub fn respond_context<'a>(&'a self, upstream: &'a str) -> respond::Context<'a> {
        respond::Context {
            request_id: self.request_id(),
            upstream,
        }
    }

    /// The one access-log line of this request.
    pub fn log_access(&self, status: u16) {
        tracing::info!(
            target: "access",
            method = %self.method,
            path = self.path.as_deref().unwrap_or("-"),
            status,
            latency_ms = round_ms(self.started.elapsed()),
            user = self.user.as_deref().unwrap_or("-"),
            request_id = self.request_id(),
            "request"
        );
    }
}

/// Milliseconds to two decimals (`3.08`): more digits are noise in a log line.
fn round_ms(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 100_000.0).round() / 100.0
}

fn request_id(
    headers: &HeaderMap,
    peer: SocketAddr,
    trusted_proxies: &[ipnet::IpNet],
) -> HeaderValue {
    let given = headers
        .get(&X_REQUEST_ID)
        .filter(|v| v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .filter(|_| trusted(peer.ip(), trusted_proxies));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_rounded_to_two_decimals() {
        assert_eq!(round_ms(Duration::from_micros(3_084)), 3.08);
        assert_eq!(round_ms(Duration::from_nanos(1_234_567_891)), 1234.57);
    }
}
