//! Starting a login: state, nonce and PKCE verifier go into a short-lived sealed
//! cookie of their own (named after the state, so two tabs never overwrite each
//! other's), then the browser goes to the IdP.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Flow, FlowError, Redirect, SafeRedirect};
use crate::clock::Clock;
use crate::provider::{AuthRequest, Provider};
use crate::secret::{random_token, Secret};
use crate::session::cookie::{request_cookies, CookieCodec};

/// How long a browser may stay at the IdP's sign-in form.
pub const LOGIN_TTL_SECS: i64 = 600;
/// Longest `rd` remembered; longer return paths fall back to `/`.
const MAX_RD_LEN: usize = 2048;
/// Most stale login cookies cleared by one answer: a browser stuffed with
/// hundreds of them (a sibling subdomain can set cookies) gets a bounded
/// answer, and the next sign-in clears the next batch.
pub const MAX_EVICTIONS: usize = 16;

/// One pending login, sealed in its cookie.
#[derive(Serialize, Deserialize)]
pub(super) struct PendingLogin {
    pub state: Secret<String>,
    pub nonce: Secret<String>,
    pub verifier: Secret<String>,
    pub rd: String,
    pub created_at: u64,
    /// Nanoseconds since the epoch: orders logins started in the same second,
    /// so eviction really drops the oldest. Absent in older cookies.
    #[serde(default)]
    pub created_ns: u64,
    /// The provider this login went to; its callback is checked against it.
    #[serde(default = "default_provider")]
    pub provider: String,
}

fn default_provider() -> String {
    crate::config::DEFAULT_PROVIDER.to_string()
}

pub(super) fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Flow {
    /// `{session cookie}_login_` and a digest of the state.
    pub(super) fn login_cookie_prefix(&self) -> String {
        self.cookies.name("_login_")
    }

    pub(super) fn login_cookie_name(&self, state: &str) -> String {
        let digest = Sha256::digest(state.as_bytes());
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..9]);
        format!("{}{tag}", self.login_cookie_prefix())
    }

    /// Redirects to the IdP's authorize endpoint; the login cookie remembers `rd`.
    pub(super) fn start(
        &self,
        provider: &Provider,
        rd: &SafeRedirect,
        request: &http::HeaderMap,
    ) -> Result<Redirect, FlowError> {
        let rd = match rd.as_str() {
            rd if rd.len() > MAX_RD_LEN => "/".to_string(),
            rd => rd.to_string(),
        };
        let login = PendingLogin {
            state: random_token(32),
            nonce: random_token(32),
            verifier: random_token(32),
            rd,
            created_at: self.clock.now(),
            created_ns: u64::try_from(self.clock.now_ns()).unwrap_or(u64::MAX),
            provider: provider.name().to_string(),
        };
        let url = provider
            .authorize_url(&AuthRequest {
                state: login.state.expose(),
                nonce: login.nonce.expose(),
                code_challenge: &pkce_challenge(login.verifier.expose()),
            })
            .map_err(|e| FlowError::from_provider(e, String::new()))?;
        let name = self.login_cookie_name(login.state.expose());
        self.diagnoser.note_start(login.state.expose(), request);
        let payload = serde_json::to_string(&login)
            .map_err(|_| FlowError::Internal("a login could not be serialized"))?;
        let sealed = self
            .cookies
            .seal(&name, &payload)
            .ok_or(FlowError::Internal("a login cookie could not be sealed"))?;
        let mut cookies = vec![self.cookies.set_cookie(&name, sealed, LOGIN_TTL_SECS)];
        for stale in self.logins_to_evict(request) {
            cookies.push(self.cookies.clear_cookie(&stale));
        }
        Ok(Redirect {
            location: url.to_string(),
            cookies,
            user: None,
        })
    }

    /// Pending logins beyond the bound, oldest (or unreadable) first, so piled-up
    /// login cookies never grow the request headers past the server's limit.
    fn logins_to_evict(&self, request: &http::HeaderMap) -> Vec<String> {
        let prefix = self.login_cookie_prefix();
        let mut pending: Vec<((u64, u64), String)> = request_cookies(request)
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(name, value)| {
                let created = self
                    .open_login(name, value)
                    .map_or((0, 0), |login| (login.created_at, login.created_ns));
                (created, name.to_string())
            })
            .collect();
        pending.sort();
        pending.dedup_by(|a, b| a.1 == b.1);
        let keep = self.max_pending_logins.saturating_sub(1);
        let excess = pending.len().saturating_sub(keep).min(MAX_EVICTIONS);
        pending
            .into_iter()
            .take(excess)
            .map(|(_, name)| name)
            .collect()
    }

    pub(super) fn open_login(&self, name: &str, sealed: &str) -> Option<PendingLogin> {
        open_pending(&self.cookies, name, sealed, self.clock.now())
    }
}

/// Opens, parses and age-checks (at `now`) one login cookie; `None` for anything else.
fn open_pending(cookies: &CookieCodec, name: &str, sealed: &str, now: u64) -> Option<PendingLogin> {
    let opened = cookies.open(name, sealed)?;
    let login: PendingLogin = serde_json::from_str(&opened.value).ok()?;
    let age = now.saturating_sub(login.created_at);
    (age <= LOGIN_TTL_SECS as u64).then_some(login)
}

/// The `rd` of a login cookie, opened exactly as the callback opens it. Public
/// so the fuzz targets reach the cookie parsing a browser can feed.
/// At the system's time.
pub fn open_login_cookie(cookies: &CookieCodec, name: &str, sealed: &str) -> Option<String> {
    open_pending(cookies, name, sealed, Clock::default().now()).map(|login| login.rd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
