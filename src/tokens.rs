//! The tokens of one sign-in: what the provider returns and the session keeps.
//! A leaf, so `session` holds tokens without importing `provider`.

use crate::secret::Secret;

/// The tokens of one sign-in. Never logged: every field is a [`Secret`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TokenSet {
    pub id_token: Secret<String>,
    pub access_token: Secret<String>,
    pub refresh_token: Option<Secret<String>>,
    /// Access-token lifetime in seconds, as the IdP said.
    pub expires_in: Option<u64>,
}
