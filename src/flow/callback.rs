//! The IdP's redirect back: state checked against this browser's pending login
//! (constant time), code exchanged, ID token verified, then a brand-new session.

use super::diagnose::{self, Diagnosis};
use super::login::PendingLogin;
use super::{Flow, FlowError, Redirect};
use crate::provider::{ConfigProblem, ProviderError};
use crate::secret::ct_eq;
use crate::session::cookie::request_cookies;
use crate::session::{Session, SessionId};

/// Longest callback query read; anything longer is not from a real IdP.
const MAX_QUERY_LEN: usize = 16 * 1024;

/// The callback's query parameters that matter.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackQuery {
    /// Parses leniently; a repeated parameter keeps its first value.
    pub fn parse(query: &str) -> Self {
        let mut q = Self::default();
        if query.len() > MAX_QUERY_LEN {
            return q;
        }
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut q.code,
                "state" => &mut q.state,
                "error" => &mut q.error,
                "error_description" => &mut q.error_description,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        q
    }
}

impl Flow {
    pub async fn callback(
        &self,
        query: &str,
        request: &http::HeaderMap,
    ) -> Result<Redirect, FlowError> {
        let q = CallbackQuery::parse(query);
        let pending = q
            .state
            .as_deref()
            .and_then(|state| self.pending_login(state, request));
        let retry = self.start_href(pending.as_ref().map_or("/", |(_, l)| l.rd.as_str()));
        if let Some(code) = q.error {
            let code = crate::provider::printable_code(&code);
            let sent = pending.as_ref().map_or(self.provider(), |(_, l)| {
                self.providers
                    .named(&l.provider)
                    .map_or(self.provider(), |p| p)
            });
            let description = q.error_description.as_deref();
            let redirect_url = sent.config().redirect_url.as_str();
            // Only an answer to a sign-in this browser started can tell about the
            // configuration: anyone can link here with `error=redirect_mismatch`.
            let problem = pending.as_ref().and_then(|_| {
                ConfigProblem::from_authorize_error(&code, description, redirect_url)
            });
            if let Some(problem) = problem {
                problem.count();
                let problem = Box::new(problem);
                return Err(FlowError::Misconfigured { problem, retry });
            }
            // For the operator only, escaped: the page never shows it (anyone
            // can send a browser here with any text).
            let description: String = description.unwrap_or_default().chars().take(200).collect();
            tracing::debug!(?description, "the identity provider's error description");
            return Err(FlowError::IdpError { code, retry });
        }
        let (Some(code), Some(state)) = (q.code, q.state) else {
            return Err(FlowError::BadCallback { retry });
        };
        let Some((cookie_name, login)) = pending else {
            return Err(self.no_pending_login(&state, request, retry));
        };
        let Some(provider) = self.providers.named(&login.provider) else {
            return Err(FlowError::StateMismatch { retry });
        };
        let (loops, since) =
            diagnose::loop_count(request, &self.loop_cookie_name(), self.clock.now());
        if diagnose::is_loop(loops) && matches!(self.authenticate(request).await, Ok(None)) {
            return Err(diagnosed(Diagnosis::Loop { count: loops }, retry));
        }
        let read_userinfo = self.read_userinfo;
        let exchange = async {
            let sign_in = provider
                .sign_in(&code, login.verifier.expose(), login.nonce.expose())
                .await?;
            // ALB fails the sign-in too when userInfo does: its claims are the header.
            let userinfo = match read_userinfo {
                true => Some(
                    provider
                        .userinfo(&sign_in.tokens, &sign_in.identity.sub)
                        .await?,
                ),
                false => None,
            };
            Ok((sign_in, userinfo))
        };
        // A person is waiting at a browser: a hung IdP gets the error page
        // within the deadline, not after the whole IdP timeout.
        let (sign_in, userinfo) = tokio::time::timeout(self.callback_deadline, exchange)
            .await
            .unwrap_or(Err(ProviderError::Timeout))
            .map_err(|e| FlowError::from_provider(e, retry.clone()))?;
        let created_at = self.clock.now();
        let session = Session {
            identity: sign_in.identity,
            tokens: sign_in.tokens,
            created_at,
            tokens_at: created_at,
            expires_at: created_at + self.session_ttl.as_secs(),
            id_token_expires_at: sign_in.id_token_expires_at,
            provider: login.provider.clone(),
            sid: sign_in.sid,
            userinfo,
            encoded: Default::default(),
        };
        tracing::info!(sub = %session.identity.sub, "signed in");
        let user = session.identity.log_name();
        // Never reuse an id the browser brought: a fresh one defeats fixation.
        let id = SessionId::generate();
        self.sessions
            .insert(id.clone(), session)
            .await
            .map_err(|error| FlowError::SessionStore { error, retry })?;
        let set_session = self.session_cookie(&id).ok_or(FlowError::Internal(
            "the session cookie could not be sealed",
        ))?;
        Ok(Redirect {
            // Checked again: the policy may have changed since the login started.
            location: self.safe_redirect(&login.rd).into_string(),
            cookies: vec![
                set_session,
                self.cookies.clear_cookie(&cookie_name),
                self.loop_cookie(loops, since),
            ],
            user: Some(user),
        })
    }

    /// A callback whose state opens no login cookie of this browser: with a
    /// cookie for it, a forged or expired state; without, a diagnosis of why
    /// the cookie is missing.
    fn no_pending_login(&self, state: &str, request: &http::HeaderMap, retry: String) -> FlowError {
        let name = self.login_cookie_name(state);
        if request_cookies(request).any(|(n, _)| n == name) {
            return FlowError::StateMismatch { retry };
        }
        match self.diagnoser.missing_login(state) {
            Diagnosis::CookiesRefused => FlowError::StateMismatch { retry },
            diagnosis => diagnosed(diagnosis, retry),
        }
    }

    /// Counts completed sign-ins of this browser (see [`diagnose::is_loop`]).
    pub(super) fn loop_cookie_name(&self) -> String {
        self.cookies.name("_signins")
    }

    fn loop_cookie(&self, count: u32, since: u64) -> String {
        let (value, max_age) = diagnose::next_loop_value(count, since, self.clock.now());
        self.cookies
            .set_cookie(&self.loop_cookie_name(), value, max_age)
    }

    /// The pending login whose state equals `state`, compared in constant time.
    fn pending_login(
        &self,
        state: &str,
        request: &http::HeaderMap,
    ) -> Option<(String, PendingLogin)> {
        let name = self.login_cookie_name(state);
        request_cookies(request)
            .filter(|(n, _)| *n == name)
            .filter_map(|(_, value)| self.open_login(&name, value))
            .find(|login| ct_eq(login.state.expose().as_bytes(), state.as_bytes()))
            .map(|login| (name.clone(), login))
    }

    /// `Set-Cookie` for a session id, sealed with the current key.
    pub fn session_cookie(&self, id: &SessionId) -> Option<String> {
        let name = self.cookies.name("");
        let sealed = self.cookies.seal(&name, id.expose())?;
        let max_age = i64::try_from(self.session_ttl.as_secs()).unwrap_or(i64::MAX);
        Some(self.cookies.set_cookie(&name, sealed, max_age))
    }
}

/// Counted once here; `respond` logs it once with its cause.
fn diagnosed(diagnosis: Diagnosis, retry: String) -> FlowError {
    let labels = crate::metrics::ReasonLabel {
        reason: diagnosis.reason(),
    };
    crate::metrics::metrics()
        .diagnoses
        .get_or_create(&labels)
        .inc();
    FlowError::Diagnosed { diagnosis, retry }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_keeps_first_values_and_ignores_the_rest() {
        let q = CallbackQuery::parse("code=a&state=s%20t&code=b&x=y");
        assert_eq!(q.code.as_deref(), Some("a"));
        assert_eq!(q.state.as_deref(), Some("s t"));
        let q = CallbackQuery::parse("error=access_denied&error_description=User+cancelled");
        assert_eq!(q.error.as_deref(), Some("access_denied"));
        assert_eq!(q.error_description.as_deref(), Some("User cancelled"));
        assert_eq!(
            CallbackQuery::parse(&"a".repeat(MAX_QUERY_LEN + 1)),
            CallbackQuery::default()
        );
        assert_eq!(CallbackQuery::parse("%ff%fe=%00"), CallbackQuery::default());
    }
}
