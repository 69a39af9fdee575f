//! Key names. Ids and subs appear only as SHA-256 hex. The `{...}` parts are
//! Redis Cluster hash tags: a session and its refresh lock share a slot, and
//! every command names keys of one slot only, so a cluster never answers
//! `CROSSSLOT`.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256: how ids and subs appear in keys. Ids are 256
/// random bits, so the hash cannot be reversed, and (unlike an HMAC under the
/// cookie secret) it stays the same when cookie secrets rotate.
pub(super) fn hashed(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    /// The session whose id hashes to `hashed_id`.
    pub fn session(&self, hashed_id: &str) -> String {
        format!("{}s:{{{hashed_id}}}", self.prefix)
    }

    /// The refresh lock of that session: the same slot.
    pub fn lock(&self, hashed_id: &str) -> String {
        format!("{}r:{{{hashed_id}}}", self.prefix)
    }

    /// The user's sessions (hashed ids by creation time).
    pub fn user(&self, sub: &str) -> String {
        format!("{}u:{{{}}}", self.prefix, hashed(sub))
    }

    /// The sessions one IdP session (`sid`) of `provider` signed in, for
    /// back-channel logout (hashed ids).
    pub fn sid(&self, provider: &str, sid: &str) -> String {
        format!(
            "{}d:{{{}}}",
            self.prefix,
            hashed(&format!("{provider}\0{sid}"))
        )
    }

    /// A value seen once (a logout token's issuer and `jti`): the replay check.
    pub fn seen(&self, value: &str) -> String {
        format!("{}j:{{{}}}", self.prefix, hashed(value))
    }

    /// `SCAN MATCH` pattern of every session of this prefix.
    pub fn sessions_pattern(&self) -> String {
        format!("{}s:*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use redis::cluster_routing::Slot;

    /// CRC16 of the hash tag, as `CLUSTER KEYSLOT` computes it.
    fn slot(key: &str) -> Slot {
        Slot::for_key(key)
    }

    #[test]
    fn keys_hold_hashes_and_a_session_shares_its_locks_slot() {
        let keys = Keys::new("app:");
        let h = hashed("the-id");
        assert_eq!(h.len(), 64);
        assert_eq!(
            hashed("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(keys.session(&h), format!("app:s:{{{h}}}"));
        assert_eq!(slot(&keys.session(&h)), slot(&keys.lock(&h)));
        assert_eq!(slot(&keys.session(&h)), slot(&h));
        assert!(!keys.user("alice").contains("alice"));
        // Different sessions spread over the slots.
        let slots: std::collections::HashSet<Slot> = (0..64)
            .map(|i| slot(&keys.session(&hashed(&i.to_string()))))
            .collect();
        assert!(slots.len() > 50, "{}", slots.len());
    }
}
