//! Who the user is, as the sidecar tells the upstream.
//!
//! Made by the provider from a verified ID token, kept in the session,
//! rendered into identity headers by the proxy.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}
