//! The pool's signing keys: two RSA-2048 pairs (one for ID tokens, one for
//! access tokens, as in real pools) plus a rogue pair that is never published.

use std::sync::Arc;

use anyhow::anyhow;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

/// One RSA key pair with its `kid`.
pub(crate) struct SigningKey {
    pub kid: String,
    pair: KeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl SigningKey {
    /// A fresh 2048-bit key; `kid` looks like Cognito's: base64 ending in `=`.
    pub fn generate() -> anyhow::Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow!("RSA key generation failed"))?;
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let mut kid_bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut kid_bytes)
            .map_err(|_| anyhow!("no randomness"))?;
        Ok(Self {
            kid: STANDARD.encode(kid_bytes),
            pair,
            n,
            e,
        })
    }

    /// The JWK as Cognito publishes it (fields in alphabetical order).
    pub fn jwk(&self) -> Value {
        json!({
            "alg": "RS256",
            "e": URL_SAFE_NO_PAD.encode(&self.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "use": "sig",
        })
    }

    /// RS256 (PKCS#1 v1.5, SHA-256) signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(|_| anyhow!("RSA signing failed"))?;
        Ok(sig)
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let public = PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        };
        public.verify(&RSA_PKCS1_2048_8192_SHA256, msg, sig).is_ok()
    }

    /// Public key bytes, used as the HMAC secret of the HS256 confusion token.
    pub fn public_der(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
}

/// The published pair and the rogue key; replaced whole on rotation.
pub(crate) struct KeySet {
    pub id: Arc<SigningKey>,
    pub access: Arc<SigningKey>,
    pub rogue: Arc<SigningKey>,
}

impl KeySet {
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            id: Arc::new(SigningKey::generate()?),
            access: Arc::new(SigningKey::generate()?),
            rogue: Arc::new(SigningKey::generate()?),
        })
    }

    /// New published keys; the rogue key stays (it is never published anyway).
    pub fn rotated(&self) -> anyhow::Result<Self> {
        Ok(Self {
            id: Arc::new(SigningKey::generate()?),
            access: Arc::new(SigningKey::generate()?),
            rogue: Arc::clone(&self.rogue),
        })
    }

    /// `{"keys":[…]}` as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.id.jwk(), self.access.jwk()] })
    }

    /// A published key by `kid` (the rogue key is not one).
    pub fn published(&self, kid: &str) -> Option<&SigningKey> {
        [&self.id, &self.access]
            .into_iter()
            .find(|k| k.kid == kid)
            .map(|k| k.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sign_verify_and_publish() {
        let set = KeySet::generate().unwrap();
        assert_ne!(set.id.kid, set.access.kid);
        assert!(set.id.kid.ends_with('='));
        let sig = set.id.sign(b"hello").unwrap();
        assert!(set.id.verify(b"hello", &sig));
        assert!(!set.access.verify(b"hello", &sig));
        assert!(!set.id.verify(b"hellO", &sig));
        let jwks = set.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
        assert!(set.published(&set.rogue.kid).is_none());
        let rotated = set.rotated().unwrap();
        assert!(rotated.published(&set.id.kid).is_none());
    }
}
