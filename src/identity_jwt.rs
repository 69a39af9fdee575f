//! The signed identity header: a short-lived ES256 JWT of the identity, signed
//! with the sidecar's own P-256 key, so an upstream can verify that a request
//! came through the sidecar instead of trusting plain headers. The public keys
//! are served as a JWKS at `{proxy-prefix}/jwks.json`.
//!
//! The key pair is parsed once; each request costs one ECDSA signature (tens of
//! microseconds). Tokens are compact JWS built here rather than through
//! `jsonwebtoken::encode`, which would re-parse (and re-check) the key for
//! every request.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use http::HeaderValue;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::{Config, IdentityJwtConfig};
use crate::identity::Identity;

/// Why the signer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("cannot generate a P-256 key for the signed identity header")]
    Generate,
    #[error("the identity-jwt key cannot be used for ES256")]
    BadKey,
}

/// The claims of one identity token.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    name: &'a str,
    username: &'a str,
    groups: &'a [String],
    /// The provider that verified the user, and its issuer: `sub` is unique
    /// per issuer only.
    #[serde(skip_serializing_if = "str::is_empty")]
    provider: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    provider_iss: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// Signs identities into JWTs and publishes the public key.
pub struct IdentitySigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
    /// base64url of the JOSE header, the same for every token.
    header_b64: String,
    jwks: String,
    issuer: String,
    audience: String,
    ttl_secs: u64,
    clock: Clock,
}

impl std::fmt::Debug for IdentitySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySigner")
            .field("kid", &self.kid)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl IdentitySigner {
    /// The signer when `identity-jwt` is on; a key is generated when no key
    /// file was configured (with a warning: replicas will not share it).
    pub fn from_config(config: &Config) -> Result<Option<Self>, SignerError> {
        let Some(settings) = &config.identity_jwt else {
            return Ok(None);
        };
        let signer = Self {
            clock: config.clock.clone(),
            ..Self::new(settings)?
        };
        if settings.key.is_none() {
            tracing::warn!(
                kid = %signer.kid,
                "identity-jwt: no identity-jwt-key-file, so a new signing key was generated; \
                 replicas will not share it and it changes at every restart"
            );
        }
        Ok(Some(signer))
    }

    pub fn new(settings: &IdentityJwtConfig) -> Result<Self, SignerError> {
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let key = match &settings.key {
            Some(der) => EcdsaKeyPair::from_private_key_der(alg, der.expose())
                .map_err(|_| SignerError::BadKey)?,
            None => EcdsaKeyPair::generate(alg).map_err(|_| SignerError::Generate)?,
        };
        let point = key.public_key().as_ref();
        // Uncompressed SEC1: 0x04 || x || y, 32 bytes each.
        let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
            return Err(SignerError::BadKey);
        };
        let kid = B64.encode(&Sha256::digest(point)[..16]);
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": B64.encode(x), "y": B64.encode(y),
        }]});
        Ok(Self {
            header_b64: B64.encode(header.to_string()),
            jwks: jwks.to_string(),
            key,
            rng: SystemRandom::new(),
            kid,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_secs: settings.ttl.as_secs(),
            clock: Clock::default(),
        })
    }

    /// The token for `who`, valid from now for the configured ttl, as a header
    /// value marked sensitive. `None` only if signing fails (logged).
    pub fn sign(&self, who: &Identity) -> Option<HeaderValue> {
        let token = self.sign_at(who, self.clock.now())?;
        let mut value = HeaderValue::from_str(&token).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The compact JWS for `who` issued at `iat` (unix seconds).
    pub fn sign_at(&self, who: &Identity, iat: u64) -> Option<String> {
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: &who.sub,
            email: who.email.as_deref(),
            name: &who.name,
            username: &who.username,
            groups: &who.groups,
            provider: &who.provider,
            provider_iss: &who.issuer,
            iat,
            exp: iat.saturating_add(self.ttl_secs),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let payload = serde_json::to_vec(&claims).ok()?;
        let mut token = format!("{}.{}", self.header_b64, B64.encode(payload));
        match self.key.sign(&self.rng, token.as_bytes()) {
            Ok(signature) => {
                token.push('.');
                token.push_str(&B64.encode(signature.as_ref()));
                Some(token)
            }
            Err(_) => {
                tracing::warn!("identity-jwt: signing failed; the request goes without it");
                None
            }
        }
    }

    /// The key id in every token's header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key set, `{"keys":[{kty, crv, alg, use, kid, x, y}]}`.
    pub fn jwks_json(&self) -> String {
        self.jwks.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

    use super::*;
    use crate::secret::Secret;

    fn settings(key: Option<Vec<u8>>) -> IdentityJwtConfig {
        IdentityJwtConfig {
            issuer: "https://app.example.com".into(),
            audience: "http://127.0.0.1:8000".into(),
            ttl: Duration::from_secs(60),
            key: key.map(Secret::new),
        }
    }

    fn who(email: Option<&str>) -> Identity {
        serde_json::from_value(serde_json::json!({
            "sub": "0b1c-42", "email": email, "email_verified": email.is_some(),
            "name": "Zoë", "username": "zoe", "groups": ["admins", "a, b"],
            "provider": "staff", "issuer": "https://idp.example/staff",
        }))
        .unwrap()
    }

    fn verify(signer: &IdentitySigner, token: &str) -> serde_json::Value {
        let jwks: serde_json::Value = serde_json::from_str(&signer.jwks_json()).unwrap();
        let jwk = &jwks["keys"][0];
        let (x, y) = (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
        let key = DecodingKey::from_ec_components(x, y).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["http://127.0.0.1:8000"]);
        v.set_issuer(&["https://app.example.com"]);
        decode::<serde_json::Value>(token, &key, &v).unwrap().claims
    }

    #[test]
    fn tokens_verify_against_the_published_key() {
        let signer = IdentitySigner::new(&settings(None)).unwrap();
        let now = signer.clock.now();
        let token = signer.sign_at(&who(Some("zoe@example.com")), now).unwrap();
        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));
        let claims = verify(&signer, &token);
        assert_eq!(claims["sub"], "0b1c-42");
        assert_eq!(claims["email"], "zoe@example.com");
        assert_eq!(claims["name"], "Zoë");
        assert_eq!(claims["username"], "zoe");
        assert_eq!(claims["groups"], serde_json::json!(["admins", "a, b"]));
        assert_eq!(claims["provider"], "staff");
        assert_eq!(claims["provider_iss"], "https://idp.example/staff");
        assert_eq!(claims["exp"].as_u64().unwrap() - now, 60);
        let other = verify(&signer, &signer.sign_at(&who(None), now).unwrap());
        assert!(other.get("email").is_none());
        assert_ne!(claims["jti"], other["jti"]);
    }

    #[test]
    fn a_shared_key_gives_the_same_kid_and_jwks() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let a = IdentitySigner::new(&settings(Some(doc.as_ref().to_vec()))).unwrap();
        let b = IdentitySigner::new(&settings(Some(doc.as_ref().to_vec()))).unwrap();
        let fresh = IdentitySigner::new(&settings(None)).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwks_json(), b.jwks_json());
        assert_ne!(a.kid(), fresh.kid());
        let jwks: serde_json::Value = serde_json::from_str(&a.jwks_json()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(
            (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
            (
                &serde_json::json!("EC"),
                &serde_json::json!("P-256"),
                &serde_json::json!("ES256"),
                &serde_json::json!("sig")
            )
        );
        assert!(!a.jwks_json().contains("\"d\""), "no private part");
    }

    #[test]
    fn header_value_is_sensitive_and_a_foreign_key_does_not_verify() {
        let signer = IdentitySigner::new(&settings(None)).unwrap();
        let value = signer.sign(&who(None)).unwrap();
        assert!(value.is_sensitive());
        let other = IdentitySigner::new(&settings(None)).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&other.jwks_json()).unwrap();
        let jwk = &jwks["keys"][0];
        let key =
            DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
                .unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["http://127.0.0.1:8000"]);
        assert!(decode::<serde_json::Value>(value.to_str().unwrap(), &key, &v).is_err());
    }
}
