//! Session data at rest outside the process (Redis): AES-256-GCM with random
//! nonces, under keys derived by HKDF from the cookie secrets (a label of its
//! own, so no key is shared with the cookies). The first secret seals, every
//! secret opens, so secrets rotate as they do for cookies. The caller binds
//! each value to where it is stored (associated data), so a value copied to
//! another key does not open.

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::secret::Secret;

/// Format version, first byte of every sealed value.
const VERSION: u8 = 1;

pub struct Sealer {
    keys: Vec<RandomizedNonceKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn derive(secret: &[u8]) -> Option<RandomizedNonceKey> {
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"cognito-sidecar session store v1"), secret)
        .expand(b"aes-256-gcm", &mut okm)
        .ok()?;
    RandomizedNonceKey::new(&AES_256_GCM, &okm).ok()
}

impl Sealer {
    pub fn new(secrets: &[Secret<Vec<u8>>]) -> Self {
        Self {
            keys: secrets.iter().filter_map(|s| derive(s.expose())).collect(),
        }
    }

    /// `VERSION || nonce || ciphertext || tag`; `None` only without a key.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys.first()?;
        let mut data = plain.to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad), &mut data)
            .ok()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + data.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&data);
        Some(out)
    }

    /// The plaintext, or `None` for anything tampered with, sealed for other
    /// associated data, or sealed with a retired secret.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = rest.split_at(NONCE_LEN);
        self.keys.iter().find_map(|key| {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buf = data.to_vec();
            let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
            Some(plain.to_vec())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secrets: &[&str]) -> Sealer {
        let secrets: Vec<_> = secrets
            .iter()
            .map(|s| Secret::new(s.as_bytes().to_vec()))
            .collect();
        Sealer::new(&secrets)
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210-new";

    #[test]
    fn round_trip_hides_the_plaintext_and_binds_the_aad() {
        let s = sealer(&[A]);
        let sealed = s.seal(b"k1", b"token-text").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"token-text"));
        assert_eq!(s.open(b"k1", &sealed).unwrap(), b"token-text");
        assert!(s.open(b"k2", &sealed).is_none(), "bound to its key");
        assert_ne!(sealed, s.seal(b"k1", b"token-text").unwrap(), "fresh nonce");
    }

    #[test]
    fn tampering_truncation_and_retired_secrets_do_not_open() {
        let s = sealer(&[A]);
        let mut sealed = s.seal(b"k", b"v").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(s.open(b"k", &sealed).is_none());
        for junk in [&b""[..], b"\x01", b"\x02abc", &[1u8; 40]] {
            assert!(s.open(b"k", junk).is_none());
        }
        let old = s.seal(b"k", b"v").unwrap();
        assert_eq!(sealer(&[B, A]).open(b"k", &old).unwrap(), b"v");
        assert!(sealer(&[B]).open(b"k", &old).is_none());
        assert!(sealer(&[]).seal(b"k", b"v").is_none());
    }
}
