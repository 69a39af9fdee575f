//! Configuration problems: failures only the operator can fix, told apart from
//! transient ones (timeouts, 5xx, refused connections) so that nobody is told
//! "try again later" about a wrong client secret.

use std::fmt;

/// What the IdP's answer says is wrong with this sidecar's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// A short, stable label for metrics and pages (`invalid_client`, `issuer_mismatch`, ...).
    pub reason: &'static str,
    /// One sentence: what the IdP answered.
    pub problem: String,
    /// The URL the sidecar called or sent when it learnt this.
    pub url: String,
    /// The setting (flag name) to change.
    pub setting: &'static str,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (url {}); check the setting `{}`",
            self.problem, self.url, self.setting
        )
    }
}

impl ConfigProblem {
    /// Counts it by reason; the caller logs it once, at `error`.
    pub fn count(&self) {
        let labels = crate::metrics::ReasonLabel {
            reason: self.reason,
        };
        crate::metrics::metrics()
            .config_errors
            .get_or_create(&labels)
            .inc();
    }

    /// The token endpoint's OAuth error `code`, when it means the client's
    /// registration or credentials are wrong (RFC 6749 5.2).
    pub fn from_token_error(code: &str, url: &url::Url, has_secret: bool) -> Option<Self> {
        let (reason, problem, setting) = match code {
            "invalid_client" if has_secret => (
                "invalid_client",
                "the token endpoint refused the client's credentials (invalid_client): \
                 the client secret (or client id) is wrong",
                "client-secret",
            ),
            "invalid_client" => (
                "invalid_client",
                "the token endpoint refused the client (invalid_client): the client id is \
                 unknown, or the app client has a secret that is not configured",
                "client-secret",
            ),
            "unauthorized_client" => (
                "unauthorized_client",
                "the app client is not allowed the authorization-code grant (unauthorized_client): \
                 enable it for this client at the IdP, or fix the client id",
                "client-id",
            ),
            _ => return None,
        };
        Some(Self {
            reason,
            problem: problem.into(),
            url: url.to_string(),
            setting,
        })
    }

    /// An `error=` the IdP redirected back with that only the operator can fix.
    /// `url` is the callback URL the sidecar sent as `redirect_uri`.
    pub fn from_authorize_error(code: &str, description: Option<&str>, url: &str) -> Option<Self> {
        let redirect = description.is_some_and(|d| d.to_ascii_lowercase().contains("redirect"));
        let (reason, problem, setting) = match code {
            "redirect_mismatch" => (
                "redirect_mismatch",
                "the IdP does not know the callback URL the sidecar sent (redirect_mismatch): \
                 register it for the app client, or fix the setting",
                "redirect-url",
            ),
            "invalid_request" | "unauthorized_client" if redirect => (
                "redirect_mismatch",
                "the IdP refused the callback URL the sidecar sent: register it for the app \
                 client, or fix the setting",
                "redirect-url",
            ),
            "unauthorized_client" | "invalid_client" => (
                "unauthorized_client",
                "the IdP does not allow this app client to sign users in with the \
                 authorization-code flow (unauthorized_client)",
                "client-id",
            ),
            "invalid_scope" => (
                "invalid_scope",
                "the IdP refused the requested scopes (invalid_scope): allow them for the app \
                 client, or ask for fewer",
                "scope",
            ),
            "unsupported_response_type" => (
                "unsupported_response_type",
                "the IdP does not offer the authorization-code flow to this app client \
                 (unsupported_response_type)",
                "client-id",
            ),
            _ => return None,
        };
        Some(Self {
            reason,
            problem: problem.into(),
            url: url.to_string(),
            setting,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_name_their_setting() {
        let url = url::Url::parse("https://idp.example/oauth2/token").unwrap();
        let p = ConfigProblem::from_token_error("invalid_client", &url, true).unwrap();
        assert_eq!((p.reason, p.setting), ("invalid_client", "client-secret"));
        assert!(p.to_string().contains("https://idp.example/oauth2/token"));
        assert!(p.to_string().contains("`client-secret`"));
        let p = ConfigProblem::from_token_error("unauthorized_client", &url, true).unwrap();
        assert_eq!(p.setting, "client-id");
        assert!(ConfigProblem::from_token_error("invalid_grant", &url, true).is_none());
    }

    #[test]
    fn authorize_errors_that_the_operator_fixes() {
        let cb = "http://x/oauth2/callback";
        let p = ConfigProblem::from_authorize_error("invalid_scope", None, cb).unwrap();
        assert_eq!(p.setting, "scope");
        let p = ConfigProblem::from_authorize_error(
            "unauthorized_client",
            Some("invalid_redirect"),
            cb,
        )
        .unwrap();
        assert_eq!(p.setting, "redirect-url");
        assert!(ConfigProblem::from_authorize_error("access_denied", None, cb).is_none());
        assert!(ConfigProblem::from_authorize_error("server_error", None, cb).is_none());
    }
}
