//! Who the user is, as the sidecar tells the upstream.
//!
//! Made by the provider from a verified ID token, kept in the session,
//! rendered into identity headers by the proxy.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The IdP's stable user id (`sub`).
    pub sub: String,
    /// Lower-cased email, present only when the IdP verified it (or the
    /// configuration allows unverified emails).
    pub email: Option<String>,
    /// Whether the IdP verified `email`; authorization rules look at verified
    /// emails only, even when unverified ones are allowed into the headers.
    #[serde(default)]
    pub email_verified: bool,
    /// `name`, else `given_name family_name`, else the username.
    pub name: String,
    /// `cognito:username` (or `preferred_username` / `sub` for other IdPs).
    pub username: String,
    /// `cognito:groups` (or a configured claim); empty when absent.
    pub groups: Vec<String>,
    /// The name of the provider that verified it (`default`, or a
    /// `[[provider]]` table's): two IdPs' `sub` values may collide, the pair
    /// does not. Empty in sessions stored before it existed.
    #[serde(default)]
    pub provider: String,
    /// That provider's issuer (the ID token's `iss`).
    #[serde(default)]
    pub issuer: String,
}

/// The one form emails are stored and compared in: ASCII letters lower-cased,
/// everything else kept byte for byte. Mail systems treat ASCII case alike in
/// practice (Cognito too); Unicode case mapping is not used because it merges
/// distinct addresses (the Kelvin sign U+212A lower-cases to `k`, so
/// `\u{212A}ate@example.com` would become `kate@example.com`). No trimming
/// and no Unicode normalization either: two different strings stay different.
pub fn normalize_email(raw: &str) -> String {
    raw.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_lower_case_ascii_only_and_never_merge() {
        assert_eq!(normalize_email("Erin@EXAMPLE.com"), "erin@example.com");
        assert_ne!(
            normalize_email("\u{212A}ate@example.com"),
            "kate@example.com"
        );
        assert_ne!(normalize_email("\u{017F}am@example.com"), "sam@example.com");
        assert_eq!(normalize_email("Élodie@x.com"), "Élodie@x.com");
        assert_eq!(normalize_email(" a@x.com"), " a@x.com");
    }
}
