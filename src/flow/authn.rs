//! Who is this request? The session cookie, opened and looked up in O(1).
//! Never calls the IdP.

use std::sync::Arc;

use crate::identity::Identity;
use crate::provider::verify::unverified_issuer;
use crate::provider::{Provider, ProviderError, VerifyError};

use crate::session::cookie::request_cookies;
use crate::session::{Session, SessionId, StoreError};

use super::Flow;

pub struct Authenticated {
    pub id: SessionId,
    pub session: Arc<Session>,
    /// A fresh `Set-Cookie` when the cookie was sealed with a retired key.
    pub reseal: Option<String>,
}

impl Flow {
    /// A tampered, unknown or expired cookie is simply "not signed in"; a store
    /// that cannot answer is an error, never "not signed in".
    pub async fn authenticate(
        &self,
        request: &http::HeaderMap,
    ) -> Result<Option<Authenticated>, StoreError> {
        let name = self.cookies.session_name();
        for (_, value) in request_cookies(request).filter(|(n, _)| *n == name) {
            let Some(opened) = self.cookies.open(name, value) else {
                continue;
            };
            let Some(id) = SessionId::parse(&opened.value) else {
                continue;
            };
            let Some(session) = self.sessions.get(&id).await? else {
                continue;
            };
            self.refresher.refresh_if_due(&id, &session).await;
            let reseal = if opened.stale_key {
                self.session_cookie(&id)
            } else {
                None
            };
            return Ok(Some(Authenticated {
                id,
                session,
                reseal,
            }));
        }
        Ok(None)
    }
}

/// Who a request is: a browser session, or an API client's bearer token.
pub enum Principal {
    Session(Authenticated),
    Bearer(Box<Identity>),
}

impl Principal {
    pub fn identity(&self) -> &Identity {
        match self {
            Principal::Session(a) => &a.session.identity,
            Principal::Bearer(identity) => identity,
        }
    }

    /// The session, when the principal signed in with a browser.
    pub fn session(&self) -> Option<(&SessionId, &Session)> {
        match self {
            Principal::Session(a) => Some((&a.id, &a.session)),
            Principal::Bearer(_) => None,
        }
    }

    /// A re-sealed session cookie to send back, if any.
    pub fn reseal(self) -> Option<String> {
        match self {
            Principal::Session(a) => a.reseal,
            Principal::Bearer(_) => None,
        }
    }
}

/// Why a request's principal is unknown: a bad bearer token, or a session
/// store that cannot answer.
#[derive(Debug)]
pub enum PrincipalError {
    Bearer(ProviderError),
    Store(StoreError),
}

/// The token of `Authorization: Bearer <token>`, if that is what was sent.
fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 16 * 1024)
        .then_some(token)
}

impl Flow {
    /// The session cookie first; else a bearer token, when those are accepted.
    /// Only providers in `allowed` (those serving the request) count: a
    /// session another provider made is "not signed in" here.
    /// `Err` for a bearer token that was sent and is not valid, or a store
    /// that cannot answer.
    pub async fn principal(
        &self,
        request: &http::HeaderMap,
        allowed: &[&Arc<Provider>],
    ) -> Result<Option<Principal>, PrincipalError> {
        let session = self
            .authenticate(request)
            .await
            .map_err(PrincipalError::Store)?;
        if let Some(a) = session.filter(|a| allowed.iter().any(|p| p.name() == a.session.provider))
        {
            return Ok(Some(Principal::Session(a)));
        }
        let Some(token) = bearer_token(request) else {
            return Ok(None);
        };
        // The unverified `iss` only picks which provider verifies the token.
        let iss = unverified_issuer(token);
        let provider = allowed
            .iter()
            .filter(|p| p.accepts_bearer_tokens())
            .find(|p| iss.as_deref().is_some_and(|iss| p.issued(iss)));
        let Some(provider) = provider else {
            return match allowed.iter().any(|p| p.accepts_bearer_tokens()) {
                true => Err(PrincipalError::Bearer(ProviderError::Verify(
                    VerifyError::Issuer,
                ))),
                false => Ok(None),
            };
        };
        let identity = provider
            .verify_bearer(token)
            .await
            .map_err(PrincipalError::Bearer)?;
        Ok(Some(Principal::Bearer(Box::new(identity))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_scheme_with_a_token_counts() {
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::AUTHORIZATION, v.parse().unwrap());
            m
        };
        assert_eq!(bearer_token(&h("Bearer abc.def.ghi")), Some("abc.def.ghi"));
        assert_eq!(bearer_token(&h("bearer  abc")), Some("abc"));
        assert_eq!(bearer_token(&h("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer_token(&h("Bearer ")), None);
        assert_eq!(bearer_token(&http::HeaderMap::new()), None);
    }
}
