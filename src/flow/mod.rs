//! The login state machine: start, callback, sign-out, finding the session of
//! a request, and the one decision per request ([`Flow::decide`]). It answers
//! with values: [`Redirect`]s and [`Decision`]s that the HTTP layer renders, and
//! [`FlowError`]s that `http::respond` turns into pages.

mod authn;
mod backchannel;
mod callback;
mod decide;
pub mod diagnose;
mod login;
mod logout;
pub mod redirect;
mod refresh;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::authz::Target;
use crate::config::Config;
use crate::provider::{ConfigProblem, Provider, ProviderError, Providers, VerifyError};
use crate::session::cookie::CookieCodec;
use crate::session::{SessionStore, StoreError};

pub use authn::{Authenticated, Principal, PrincipalError};
pub use backchannel::{BackchannelError, LoggedOut};
pub use callback::CallbackQuery;
pub use decide::{Asked, ClientKind, DecideError, Decision, Forbidden, ReturnTo, SignIn};
pub use login::open_login_cookie;
pub use logout::is_cross_site;
use redirect::RedirectPolicy;

/// Why a login step failed. Each carries where "try again" should lead.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the identity provider is not ready")]
    NotReady,
    /// A fault inside the sidecar (a cookie that cannot be sealed): a 500,
    /// counted as internal, never blamed on the identity provider.
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("callback without code and state")]
    BadCallback { retry: String },
    /// The `state` matches no login this browser started (forged, replayed or expired).
    #[error("callback state matches no pending login")]
    StateMismatch { retry: String },
    /// A sign-in that cannot finish in this browser, and its likely cause.
    #[error("sign-in cannot finish in this browser: {}", diagnosis.reason())]
    Diagnosed {
        diagnosis: diagnose::Diagnosis,
        retry: String,
    },
    /// The IdP redirected back with `error=...`.
    #[error("the identity provider returned error {code}")]
    IdpError { code: String, retry: String },
    /// The token endpoint refused the code (`invalid_grant`: used, expired, ...).
    #[error("the token endpoint refused the code: {code}")]
    CodeRefused { code: String, retry: String },
    #[error("the ID token was refused: {error}")]
    BadToken { error: VerifyError, retry: String },
    #[error("the identity provider failed: {error}")]
    IdpFailed { error: ProviderError, retry: String },
    /// The IdP's answer says a setting is wrong: nobody can sign in until the
    /// operator changes it. Never called temporary.
    #[error("sign-in is misconfigured: {problem}")]
    Misconfigured {
        problem: Box<ConfigProblem>,
        retry: String,
    },
    #[error("the sign-out request came from another site")]
    CrossSiteSignOut,
    /// No configured provider serves this address (or its readings disagree).
    #[error("no identity provider serves this address")]
    NoProvider,
    /// `?provider=` names a provider that does not serve this address.
    #[error("that identity provider does not serve this address")]
    WrongProvider,
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
            FlowError::Internal(_) => "internal",
            FlowError::BadCallback { .. } => "bad_callback",
            FlowError::StateMismatch { .. } => "state_mismatch",
            FlowError::Diagnosed { diagnosis, .. } => diagnosis.reason(),
            FlowError::IdpError { .. } => "idp_error",
            FlowError::CodeRefused { .. } => "code_refused",
            FlowError::BadToken { .. } => "invalid_id_token",
            FlowError::IdpFailed { .. } => "idp_failed",
            FlowError::Misconfigured { .. } => "misconfigured",
            FlowError::CrossSiteSignOut => "cross_site",
            FlowError::NoProvider => "no_provider",
            FlowError::WrongProvider => "wrong_provider",
            FlowError::SessionStore { .. } => "session_store",
        }
    }

    fn from_provider(error: ProviderError, retry: String) -> Self {
        match error {
            ProviderError::NotReady => FlowError::NotReady,
            ProviderError::Misconfigured(problem) => FlowError::Misconfigured { problem, retry },
            ProviderError::Refused(code) => FlowError::CodeRefused { code, retry },
            ProviderError::Verify(error) => FlowError::BadToken { error, retry },
            error => FlowError::IdpFailed { error, retry },
        }
    }
}

/// Where a login step sends the browser, and the cookies it sets on the way.
#[derive(Debug)]
pub struct Redirect {
    pub location: String,
    /// Whole `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// Who the access line names: the user this step signed in or out (the
    /// request itself carried no session, or no longer has one).
    pub user: Option<String>,
}

/// A return address made safe by the redirect policy: only the flow makes
/// one, so a path or URL is checked once per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafeRedirect(String);

impl SafeRedirect {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// One button of the sign-in page: a provider serving the page asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub name: String,
    pub display_name: String,
    /// Its `{prefix}/start` link.
    pub href: String,
}

pub struct Flow {
    providers: Providers,
    sessions: SessionStore,
    refresher: refresh::Refresher,
    cookies: CookieCodec,
    redirects: RedirectPolicy,
    /// The sidecar's public origin, from the registered callback URL.
    own_origin: Url,
    prefix: String,
    session_ttl: Duration,
    max_pending_logins: usize,
    /// How long the callback waits for the IdP (code exchange, keys, userinfo).
    callback_deadline: Duration,
    diagnoser: diagnose::Diagnoser,
    /// `alb-headers`: keep each session's userInfo answer (sign-in and refresh).
    read_userinfo: bool,
    clock: crate::clock::Clock,
}

/// The longest a browser waits at the callback for the IdP by default: a
/// person gives up long before the IdP timeout used for background calls.
const CALLBACK_DEADLINE: Duration = Duration::from_secs(10);

impl Flow {
    pub fn new(config: &Config, providers: Providers, sessions: SessionStore) -> Self {
        Self {
            refresher: refresh::Refresher::new(
                providers.clone(),
                sessions.clone(),
                config.session.refresh_interval,
                config.alb.is_some(),
                config.clock.clone(),
            ),
            providers,
            sessions,
            cookies: CookieCodec::new(&config.cookie),
            redirects: RedirectPolicy::new(
                &own_origin(&config.provider.redirect_url),
                &config.allowed_redirect_domains,
            ),
            own_origin: own_origin(&config.provider.redirect_url),
            prefix: config.proxy_prefix.clone(),
            session_ttl: config.session.ttl,
            max_pending_logins: config.limits.max_pending_logins.max(1),
            callback_deadline: CALLBACK_DEADLINE.min(config.timeouts.idp_total),
            diagnoser: diagnose::Diagnoser::new(config),
            read_userinfo: config.alb.is_some(),
            clock: config.clock.clone(),
        }
    }

    /// The flat settings' provider.
    fn provider(&self) -> &Provider {
        self.providers.default_provider()
    }

    pub fn cookies(&self) -> &CookieCodec {
        &self.cookies
    }

    /// `rd` made safe: a local path or a URL on an allowed host, else `/`.
    pub fn safe_redirect(&self, rd: &str) -> SafeRedirect {
        SafeRedirect(self.redirects.sanitize(rd))
    }

    /// The sidecar's public origin (scheme, host, port; path `/`).
    pub fn own_origin(&self) -> &Url {
        &self.own_origin
    }

    /// Signs in with the one provider serving the page, or lets the person
    /// choose among several at `{prefix}/sign_in`.
    fn begin(
        &self,
        choices: &[&std::sync::Arc<Provider>],
        rd: &SafeRedirect,
        request: &http::HeaderMap,
    ) -> Result<Redirect, FlowError> {
        match choices {
            [] => Err(FlowError::NoProvider),
            [one] => self.start(one, rd, request),
            _ => Ok(Redirect {
                location: format!("{}/sign_in?rd={}", self.prefix, query_value(rd.as_str())),
                cookies: Vec::new(),
                user: None,
            }),
        }
    }

    /// The providers serving `rd`: an absolute URL names its host, a path is
    /// on `host`, the one the request came to.
    fn choices_for_rd(&self, rd: &SafeRedirect, host: Option<&str>) -> Vec<&Arc<Provider>> {
        let target = match Url::parse(rd.as_str()) {
            Ok(u) => Target::new(&http::Method::GET, u.host_str(), u.path()),
            Err(_) => Target::new(&http::Method::GET, host, rd.as_str()),
        };
        self.providers.choices(&target)
    }

    /// `{prefix}/start`: the provider `named`, when it serves `rd`; without a
    /// name, the one provider serving it, or the chooser.
    pub fn start_for(
        &self,
        rd: &SafeRedirect,
        host: Option<&str>,
        named: Option<&str>,
        request: &http::HeaderMap,
    ) -> Result<Redirect, FlowError> {
        let choices = self.choices_for_rd(rd, host);
        match named {
            None => self.begin(&choices, rd, request),
            Some(name) => {
                let provider = choices
                    .iter()
                    .find(|p| p.name() == name)
                    .ok_or(FlowError::WrongProvider)?;
                self.start(provider, rd, request)
            }
        }
    }

    /// `{prefix}/sign_in`: one choice per provider serving `rd`.
    pub fn sign_in_choices(
        &self,
        rd: &SafeRedirect,
        host: Option<&str>,
    ) -> Result<Vec<Choice>, FlowError> {
        let choices = self.choices_for_rd(rd, host);
        if choices.is_empty() {
            return Err(FlowError::NoProvider);
        }
        let choice = |p: &&Arc<Provider>| {
            let c = p.config();
            Choice {
                name: c.name.clone(),
                display_name: c.display_name.clone(),
                href: self.start_with_href(&c.name, rd.as_str()),
            }
        };
        Ok(choices.iter().map(choice).collect())
    }

    /// `{prefix}/start?provider=NAME&rd=...`, for the chooser's buttons.
    fn start_with_href(&self, provider: &str, rd: &str) -> String {
        format!(
            "{}/start?provider={}&rd={}",
            self.prefix,
            query_value(provider),
            query_value(rd)
        )
    }

    /// The link a "try again" / "sign in" button follows.
    pub fn start_href(&self, rd: &str) -> String {
        format!("{}/start?rd={}", self.prefix, query_value(rd))
    }
}

/// `value` form-encoded for a query string.
fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The sidecar's public origin, from the registered callback URL.
pub fn own_origin(redirect_url: &Url) -> Url {
    let mut origin = redirect_url.clone();
    origin.set_path("/");
    origin.set_query(None);
    origin.set_fragment(None);
    origin
}
