//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a user's
//! session at the provider ends, the provider POSTs a signed logout token, and
//! every session it signed in here ends too, on every replica sharing the
//! store. The provider is the one whose issuer the token names; its `sid` ends
//! the sessions of that IdP session, else its `sub` ends all of that user's
//! sessions at that provider (section 2.7).

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};

use super::Flow;
use crate::provider::{verify::unverified_issuer, ProviderError, VerifyError};
use crate::session::StoreError;

/// Why a logout request was not carried out; the status follows section 2.8.
#[derive(Debug, thiserror::Error)]
pub enum BackchannelError {
    #[error("the request body is unreadable, slower than {READ_TIMEOUT:?} or over {MAX_FORM_BYTES} bytes")]
    Unreadable,
    /// Not a form with exactly one `logout_token`.
    #[error("the request must be a form with one logout_token parameter")]
    NoToken,
    /// The token's `iss` names no configured provider.
    #[error("the logout token's issuer is not a configured identity provider")]
    UnknownIssuer,
    #[error("{0}")]
    Token(ProviderError),
    /// Step 8: this `jti` was seen while the token is still acceptable.
    #[error("the logout token was already used (its jti was seen before)")]
    Replayed,
    /// The provider's discovery and keys are not loaded (not yet, or its
    /// configuration is wrong): the token cannot be checked.
    #[error("{0}")]
    ProviderUnavailable(ProviderError),
    /// Sessions cannot be ended now.
    #[error("{0}")]
    Store(StoreError),
}

impl BackchannelError {
    /// 400 for a bad request or token; 501 when the logout cannot be honoured.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::ProviderUnavailable(_) | Self::Store(_) => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The OAuth 2.0 error code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ProviderUnavailable(_) | Self::Store(_) => "temporarily_unavailable",
            _ => "invalid_request",
        }
    }
}

impl From<StoreError> for BackchannelError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// What a carried-out logout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOut {
    pub provider: String,
    /// `sid` or `sub`: what named the sessions.
    pub by: &'static str,
    pub sub: Option<String>,
    /// Sessions that were live and ended (0 when already signed out: still a success).
    pub ended: usize,
}

/// Largest form read: a logout token is a few KiB.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// The whole body must arrive within this.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The request body, bounded in size and time.
async fn read_form<B>(body: B) -> Result<Bytes, BackchannelError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let read = Limited::new(body, MAX_FORM_BYTES).collect();
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        _ => Err(BackchannelError::Unreadable),
    }
}

/// The one `logout_token` of a form body; a repeated one is refused.
fn logout_token(form: &[u8]) -> Result<String, BackchannelError> {
    let mut tokens = url::form_urlencoded::parse(form).filter(|(k, _)| k == "logout_token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) if !token.is_empty() => Ok(token.into_owned()),
        _ => Err(BackchannelError::NoToken),
    }
}

impl Flow {
    /// Carries out one back-channel logout request (its form body) and logs
    /// one line about it, never the token.
    pub async fn backchannel_logout<B>(&self, body: B) -> Result<LoggedOut, BackchannelError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let result = match read_form(body).await {
            Ok(form) => self.end_logged_out(&form).await,
            Err(error) => Err(error),
        };
        match &result {
            Ok(done) => tracing::info!(
                provider = %done.provider, by = done.by, sub = done.sub.as_deref().unwrap_or("-"),
                ended = done.ended, "back-channel logout"
            ),
            Err(error) if error.status() == StatusCode::BAD_REQUEST => {
                tracing::warn!(%error, "back-channel logout refused")
            }
            Err(error) => tracing::error!(%error, "back-channel logout could not be carried out"),
        }
        result
    }

    async fn end_logged_out(&self, form: &[u8]) -> Result<LoggedOut, BackchannelError> {
        let token = logout_token(form)?;
        let issuer = unverified_issuer(&token)
            .ok_or(BackchannelError::Token(VerifyError::Malformed.into()))?;
        let provider = self
            .providers
            .all()
            .iter()
            .find(|p| p.issued(&issuer))
            .ok_or(BackchannelError::UnknownIssuer)?;
        let verified = provider
            .verify_logout_token(&token)
            .await
            .map_err(|error| match error {
                error @ (ProviderError::NotReady | ProviderError::Misconfigured(_)) => {
                    BackchannelError::ProviderUnavailable(error)
                }
                error => BackchannelError::Token(error),
            })?;
        let replay_key = format!("{}\0{}", provider.name(), verified.jti);
        if !self
            .sessions
            .first_use(&replay_key, verified.accepted_for)
            .await?
        {
            return Err(BackchannelError::Replayed);
        }
        let name = provider.name();
        let (by, ended) = match (&verified.sid, &verified.sub) {
            (Some(sid), _) => ("sid", self.sessions.end_sid(name, sid).await?),
            (None, Some(sub)) => ("sub", self.sessions.end_sub(name, sub).await?),
            (None, None) => ("-", 0), // refused by the verification
        };
        Ok(LoggedOut {
            provider: name.to_string(),
            by,
            sub: verified.sub,
            ended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_must_hold_exactly_one_logout_token() {
        assert_eq!(logout_token(b"logout_token=a.b.c").unwrap(), "a.b.c");
        assert_eq!(logout_token(b"x=1&logout_token=a%2Eb.c").unwrap(), "a.b.c");
        for bad in [
            &b""[..],
            b"logout_token=",
            b"token=a.b.c",
            b"logout_token=a&logout_token=b",
        ] {
            assert!(
                matches!(logout_token(bad), Err(BackchannelError::NoToken)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bad_tokens_are_400_and_unavailable_stores_501() {
        let bad = BackchannelError::Token(VerifyError::Signature.into());
        assert_eq!(
            (bad.status(), bad.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        assert_eq!(BackchannelError::Replayed.status(), StatusCode::BAD_REQUEST);
        let down = BackchannelError::Store(StoreError::Timeout(std::time::Duration::from_secs(2)));
        assert_eq!(down.status(), StatusCode::NOT_IMPLEMENTED);
        let not_loaded = BackchannelError::ProviderUnavailable(ProviderError::NotReady);
        assert_eq!(not_loaded.status(), StatusCode::NOT_IMPLEMENTED);
    }
}
