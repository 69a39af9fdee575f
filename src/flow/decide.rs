//! The one decision per request, for the proxy and forward-auth alike: who is
//! asking, and whether they go on, sign in first, or are refused. It answers
//! with values; the HTTP layer renders them.

use http::{header, HeaderMap, Method};

use super::{Flow, FlowError, Principal, PrincipalError, Redirect, SafeRedirect};
use crate::authz::{Access, Target};

/// Who is asking, so the answer fits. Decided once per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// A navigation: GET/HEAD that accepts HTML.
    Navigation,
    /// Another browser request that accepts HTML (a form POST).
    Browser,
    Api,
}

impl ClientKind {
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"));
        if !accept {
            return ClientKind::Api;
        }
        if method == Method::GET || method == Method::HEAD {
            ClientKind::Navigation
        } else {
            ClientKind::Browser
        }
    }
}

/// Where a sign-in started by this request returns to.
#[derive(Clone, Copy, Debug)]
pub enum ReturnTo<'a> {
    /// A proxied request: the same URL on the host it was asked on when that
    /// is another allow-listed host (one sidecar serving several hosts), else
    /// the path, which resolves on the sidecar's own origin.
    Proxied {
        host: Option<&'a str>,
        path_and_query: &'a str,
    },
    /// Forward-auth: the original URL as the ingress reported it.
    Url(&'a str),
}

/// The request as the decision needs it.
pub struct Asked<'a> {
    pub headers: &'a HeaderMap,
    /// What is asked for: picks the providers that may sign it in.
    pub target: &'a Target,
    pub kind: ClientKind,
    pub return_to: ReturnTo<'a>,
    /// Whether a navigation without a session goes straight to sign-in (no
    /// extra round trip); else it gets the sign-in page or JSON.
    pub redirect_navigation: bool,
}

pub enum Decision {
    /// Signed in (and allowed, unless the request needs no sign-in).
    User(Principal),
    /// Needs no sign-in and brings none.
    Anonymous,
    NeedsSignIn(SignIn),
    /// Signed in, but the rules do not allow this user here.
    Forbidden(Forbidden),
}

pub enum SignIn {
    /// Straight to the IdP, or to the chooser of several.
    Redirect(Redirect),
    /// The sign-in page (browsers) or a 401 (API clients); `start` is the link.
    Required { start: String },
}

/// What the forbidden page names: who is signed in, and where sign-out posts.
#[derive(Debug)]
pub struct Forbidden {
    pub who: String,
    pub sign_out: String,
    /// Who the access log names (the email, else the `sub`).
    pub user: String,
}

/// Why no decision could be taken: a bad bearer token or an unanswering
/// store, or a sign-in that cannot start.
#[derive(Debug)]
pub enum DecideError {
    Principal(PrincipalError),
    Flow(FlowError),
}

impl Flow {
    /// Skip-auth requests go through with the identity when there is one, else
    /// anonymously (a bad token is no reason to refuse what needs no sign-in).
    pub async fn decide(
        &self,
        asked: &Asked<'_>,
        access: &Access<'_>,
    ) -> Result<Decision, DecideError> {
        let choices = self.providers.choices(asked.target);
        let principal = match self.principal(asked.headers, &choices).await {
            Err(_) if access.skip_auth => None,
            other => other.map_err(DecideError::Principal)?,
        };
        let Some(principal) = principal else {
            if access.skip_auth {
                return Ok(Decision::Anonymous);
            }
            let rd = self.return_to(asked.return_to);
            if asked.redirect_navigation && asked.kind == ClientKind::Navigation {
                let redirect = self
                    .begin(&choices, &rd, asked.headers)
                    .map_err(DecideError::Flow)?;
                return Ok(Decision::NeedsSignIn(SignIn::Redirect(redirect)));
            }
            let start = self.start_href(rd.as_str());
            return Ok(Decision::NeedsSignIn(SignIn::Required { start }));
        };
        let who = principal.identity();
        if !access.skip_auth && !access.allows(who) {
            return Ok(Decision::Forbidden(Forbidden {
                who: who.email.clone().unwrap_or_else(|| who.username.clone()),
                sign_out: format!("{}/sign_out", self.prefix),
                user: who.log_name(),
            }));
        }
        Ok(Decision::User(principal))
    }

    /// `rd` for a sign-in this request starts, made safe once.
    fn return_to(&self, to: ReturnTo<'_>) -> SafeRedirect {
        let (host, path) = match to {
            ReturnTo::Url(url) => return self.safe_redirect(url),
            ReturnTo::Proxied {
                host,
                path_and_query,
            } => (host, path_and_query),
        };
        let own = &self.own_origin;
        host.map(|h| self.safe_redirect(&format!("{}://{h}{path}", own.scheme())))
            .filter(|rd| url::Url::parse(rd.as_str()).is_ok_and(|u| u.origin() != own.origin()))
            .unwrap_or_else(|| self.safe_redirect(path))
    }
}

#[cfg(test)]
mod tests;
