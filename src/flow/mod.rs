//! The login state machine: start, callback, sign-out, and finding the session
//! of a request. Successful steps answer with redirects; failures are
//! [`FlowError`]s that `http::respond` turns into pages.

mod authn;
mod callback;
mod login;
mod logout;
pub mod redirect;
mod refresh;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::Config;
use crate::provider::{Provider, ProviderError, VerifyError};
use crate::session::cookie::CookieCodec;
use crate::session::{SessionStore, StoreError};

pub use authn::{Authenticated, Principal, PrincipalError};
pub use callback::CallbackQuery;
pub use login::open_login_cookie;
pub use logout::is_cross_site;
use redirect::RedirectPolicy;

/// Why a login step failed. Each carries where "try again" should lead.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the identity provider is not ready")]
    NotReady,
    #[error("callback without code and state")]
    BadCallback { retry: String },
    /// The `state` matches no login this browser started (forged, replayed or expired).
    #[error("callback state matches no pending login")]
    StateMismatch { retry: String },
    /// The IdP redirected back with `error=...`.
    #[error("the identity provider returned error {code}")]
    IdpError {
        code: String,
        description: Option<String>,
        retry: String,
    },
    /// The token endpoint refused the code (`invalid_grant`: used, expired, ...).
    #[error("the token endpoint refused the code: {code}")]
    CodeRefused { code: String, retry: String },
    #[error("the ID token was refused: {error}")]
    BadToken { error: VerifyError, retry: String },
    #[error("the identity provider failed: {error}")]
    IdpFailed { error: ProviderError, retry: String },
    #[error("the sign-out request came from another site")]
    CrossSiteSignOut,
    /// Sessions cannot be read or written (Redis down): answered with 503.
    /// `retry` is empty for "reload this page".
    #[error("{error}")]
    SessionStore { error: StoreError, retry: String },
}

impl From<StoreError> for FlowError {
    fn from(error: StoreError) -> Self {
        FlowError::SessionStore {
            error,
            retry: String::new(),
        }
    }
}

impl FlowError {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            FlowError::NotReady => "idp_not_ready",
            FlowError::BadCallback { .. } => "bad_callback",
            FlowError::StateMismatch { .. } => "state_mismatch",
            FlowError::IdpError { .. } => "idp_error",
            FlowError::CodeRefused { .. } => "code_refused",
            FlowError::BadToken { .. } => "invalid_id_token",
            FlowError::IdpFailed { .. } => "idp_failed",
            FlowError::CrossSiteSignOut => "cross_site",
            FlowError::SessionStore { .. } => "session_store",
        }
    }

    fn from_provider(error: ProviderError, retry: String) -> Self {
        match error {
            ProviderError::NotReady => FlowError::NotReady,
            ProviderError::Refused(code) => FlowError::CodeRefused { code, retry },
            ProviderError::Verify(error) => FlowError::BadToken { error, retry },
            error => FlowError::IdpFailed { error, retry },
        }
    }
}

pub struct Flow {
    provider: Arc<Provider>,
    sessions: SessionStore,
    refresher: refresh::Refresher,
    cookies: CookieCodec,
    redirects: RedirectPolicy,
    prefix: String,
    session_ttl: Duration,
    max_pending_logins: usize,
}

impl Flow {
    pub fn new(config: &Config, provider: Arc<Provider>, sessions: SessionStore) -> Self {
        Self {
            refresher: refresh::Refresher::new(Arc::clone(&provider), sessions.clone()),
            provider,
            sessions,
            cookies: CookieCodec::new(&config.cookie),
            redirects: RedirectPolicy::new(
                &own_origin(&config.provider.redirect_url),
                &config.allowed_redirect_domains,
            ),
            prefix: config.proxy_prefix.clone(),
            session_ttl: config.session.ttl,
            max_pending_logins: config.limits.max_pending_logins.max(1),
        }
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    pub fn provider_arc(&self) -> Arc<Provider> {
        Arc::clone(&self.provider)
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    pub fn cookies(&self) -> &CookieCodec {
        &self.cookies
    }

    /// `rd` made safe: a local path or a URL on an allowed host, else `/`.
    pub fn safe_redirect(&self, rd: &str) -> String {
        self.redirects.sanitize(rd)
    }

    /// The link a "try again" / "sign in" button follows.
    pub fn start_href(&self, rd: &str) -> String {
        let rd: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        format!("{}/start?rd={rd}", self.prefix)
    }
}

/// The sidecar's public origin, from the registered callback URL.
pub fn own_origin(redirect_url: &Url) -> Url {
    let mut origin = redirect_url.clone();
    origin.set_path("/");
    origin.set_query(None);
    origin.set_fragment(None);
    origin
}
