//! Sessions: who is signed in, kept server-side, found by a random id that the
//! browser holds in a sealed cookie.

#[doc(hidden)]
pub mod contract;
pub mod cookie;
mod memory;
mod redis;
mod sealed;
mod store;

use serde::{Deserialize, Serialize};

use crate::identity::{Identity, UserInfoClaims};
use crate::identity_values::{EncodedOnce, IdentityValues};
use crate::secret::{random_token, Secret};
use crate::tokens::TokenSet;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
pub use store::{SessionStore, StoreError};

/// 256 random bits, base64url. Minted only by the sidecar, after a login.
/// A cache key, so it is `Eq` and `Hash`; equality is constant-time.
#[derive(Clone, Debug)]
pub struct SessionId(Secret<String>);

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(other.expose().as_bytes())
    }
}

impl Eq for SessionId {}

impl std::hash::Hash for SessionId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.expose().hash(state);
    }
}

impl SessionId {
    pub fn generate() -> Self {
        Self(random_token(32))
    }

    /// Accepts only the exact shape the sidecar mints (after the cookie opened).
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 43
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(Secret::new(raw.to_string())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub identity: Identity,
    pub tokens: TokenSet,
    /// Unix seconds.
    pub created_at: u64,
    /// Absolute end of the session (unix seconds), whatever the activity.
    pub expires_at: u64,
    /// When the current tokens were issued (unix seconds).
    pub tokens_at: u64,
    /// When the ID token stops being valid (unix seconds).
    pub id_token_expires_at: u64,
    /// The provider that made the session; it counts only on that provider's routes.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// The IdP's session id (the ID token's `sid`) at sign-in: what a
    /// back-channel logout names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The provider's userInfo answer, read at sign-in and each refresh when
    /// `alb-headers` is on (ALB signs it into `x-amzn-oidc-data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<UserInfoClaims>,
    /// The identity's header values, encoded once (the memory store does it
    /// when storing); not stored in Redis. A clone starts without them.
    #[serde(skip)]
    pub encoded: EncodedOnce,
}

impl Session {
    /// The identity's header values, encoded on first use and kept.
    pub fn identity_values(&self) -> &IdentityValues {
        self.encoded.get_or_encode(&self.identity)
    }

    /// Rough heap size, for the memory-weighted cache.
    pub fn weight(&self) -> u32 {
        let t = &self.tokens;
        let tokens = t.id_token.expose().len()
            + t.access_token.expose().len()
            + t.refresh_token.as_ref().map_or(0, |r| r.expose().len());
        let id = &self.identity;
        let identity = id.sub.len()
            + id.email.as_ref().map_or(0, String::len)
            + id.name.len()
            + id.username.len()
            + id.groups.iter().map(|g| g.len() + 24).sum::<usize>();
        let userinfo = self.userinfo.as_ref().map_or(0, UserInfoClaims::weight);
        // The encoded header values: about the identity's size again, in one
        // buffer (counted whether encoded yet or not, so a weight never changes).
        let encoded = identity + 48;
        u32::try_from(tokens + identity + encoded + userinfo + 256).unwrap_or(u32::MAX)
    }
}

fn default_provider() -> String {
    crate::config::DEFAULT_PROVIDER.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_parse_only_their_own_shape() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(id.expose()), Some(id.clone()));
        assert_eq!(SessionId::parse("short"), None);
        assert_eq!(SessionId::parse(&"a".repeat(42)), None);
        assert_eq!(SessionId::parse(&format!("{}=", &"a".repeat(42))), None);
    }
}
