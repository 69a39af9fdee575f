//! The headers of an Application Load Balancer's `authenticate-cognito`
//! action, for apps written for one: `x-amzn-oidc-identity` (the `sub`),
//! `x-amzn-oidc-accesstoken` (the session's current access token) and
//! `x-amzn-oidc-data`, a JWT in ALB's exact format:
//!
//! - ES256 over the *padded* segments; every segment base64url **with** `=`
//!   padding, as ALB writes them (strict JWT libraries refuse that; the
//!   verifiers AWS documents accept it);
//! - header `{"typ","kid","alg","iss","client","signer","exp"}` in that order:
//!   `kid` a UUID (derived from the key, so replicas sharing `alb-key-file`
//!   agree), `iss` the provider's issuer, `client` its client id, `signer` the
//!   configured `alb-signer`;
//! - payload the session's userInfo claims as the provider sent them, then
//!   `exp` and `iss`, as in ALB's tokens.
//!
//! The public key is served as PEM at `{proxy-prefix}/alb-public-keys/{kid}`,
//! the layout of `https://public-keys.auth.elb.REGION.amazonaws.com/{kid}`.
//!
//! Signing is cached: a token lives [`TOKEN_TTL`] and is reused for
//! [`RESIGN_AFTER`], per session and per set of tokens (a refresh signs anew),
//! so a busy session costs one ECDSA signature a minute, not one a request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::{AlbConfig, Config};
use crate::identity::UserInfoClaims;
use crate::session::{Session, SessionId};

pub const X_AMZN_OIDC_DATA: HeaderName = HeaderName::from_static("x-amzn-oidc-data");
pub const X_AMZN_OIDC_IDENTITY: HeaderName = HeaderName::from_static("x-amzn-oidc-identity");
pub const X_AMZN_OIDC_ACCESSTOKEN: HeaderName = HeaderName::from_static("x-amzn-oidc-accesstoken");

/// `exp - signing time` of each `x-amzn-oidc-data`.
pub const TOKEN_TTL: Duration = Duration::from_secs(120);
/// A signed token is reused this long, so it has at least a minute left when sent.
pub const RESIGN_AFTER: Duration = Duration::from_secs(60);
/// Signed tokens kept per process (one per active session).
const CACHE_ENTRIES: u64 = 100_000;

/// What a SubjectPublicKeyInfo of a P-256 key holds before its 65-byte point
/// (RFC 5480: id-ecPublicKey, prime256v1).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The warning when no `alb-key-file` is set.
pub const GENERATED_KEY_WARNING: &str = "alb-headers: no alb-key-file, so a new signing key was \
     generated; replicas will disagree (each signs with its own key and serves only its own at \
     alb-public-keys) and it changes at every restart: set alb-key-file to one P-256 key for all";

/// Why the signer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AlbError {
    #[error("cannot generate a P-256 key for alb-headers")]
    Generate,
    #[error("the alb-key-file key cannot be used for ES256")]
    BadKey,
}

/// The `iss` and `client` of one provider's tokens.
#[derive(Debug)]
struct Audience {
    iss: String,
    client: String,
}

/// The JOSE header, fields in ALB's order.
#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    kid: &'a str,
    alg: &'static str,
    iss: &'a str,
    client: &'a str,
    signer: &'a str,
    exp: u64,
}

/// One token, for the session's tokens issued at `tokens_at`, signed at
/// `signed_at` (unix seconds, by the signer's clock).
struct Signed {
    tokens_at: u64,
    signed_at: u64,
    data: HeaderValue,
}

/// Signs sessions into ALB's headers and publishes the public key.
pub struct AlbSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
    public_pem: String,
    signer: String,
    providers: HashMap<String, Audience>,
    cache: moka::sync::Cache<SessionId, Arc<Signed>>,
    clock: Clock,
}

impl std::fmt::Debug for AlbSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlbSigner")
            .field("kid", &self.kid)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl AlbSigner {
    /// The signer when `alb-headers` is on; without `alb-key-file` a key is
    /// generated, with [`GENERATED_KEY_WARNING`].
    pub fn from_config(config: &Config) -> Result<Option<Self>, AlbError> {
        let Some(alb) = &config.alb else {
            return Ok(None);
        };
        let providers = std::iter::once(&config.provider).chain(&config.providers);
        let audiences = providers.map(|p| {
            let iss = crate::provider::issuer_string(&p.issuer);
            (p.name.clone(), (iss, p.client_id.clone()))
        });
        let signer = Self {
            clock: config.clock.clone(),
            ..Self::new(alb, audiences)?
        };
        if alb.key.is_none() {
            tracing::warn!(kid = %signer.kid, "{GENERATED_KEY_WARNING}");
        }
        Ok(Some(signer))
    }

    /// `audiences`: provider name -> (issuer, client id).
    pub fn new(
        alb: &AlbConfig,
        audiences: impl IntoIterator<Item = (String, (String, String))>,
    ) -> Result<Self, AlbError> {
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let key = match &alb.key {
            Some(der) => EcdsaKeyPair::from_private_key_der(alg, der.expose())
                .map_err(|_| AlbError::BadKey)?,
            None => EcdsaKeyPair::generate(alg).map_err(|_| AlbError::Generate)?,
        };
        let point = key.public_key().as_ref().to_vec();
        if point.len() != 65 {
            return Err(AlbError::BadKey);
        }
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&Sha256::digest(&point)[..16]);
        let kid = uuid::Builder::from_random_bytes(digest)
            .into_uuid()
            .to_string();
        let providers = audiences
            .into_iter()
            .map(|(name, (iss, client))| (name, Audience { iss, client }))
            .collect();
        Ok(Self {
            public_pem: spki_pem(&point),
            key,
            rng: SystemRandom::new(),
            kid,
            signer: alb.signer.clone(),
            providers,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_ENTRIES)
                .time_to_live(RESIGN_AFTER)
                .build(),
            clock: Clock::default(),
        })
    }

    /// The key id in every token's header (a UUID).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as PEM when `kid` is ours: what ALB's key endpoint serves.
    pub fn public_key_pem(&self, kid: &str) -> Option<&str> {
        (kid == self.kid).then_some(self.public_pem.as_str())
    }

    /// Inserts the three headers for this session (after the client's
    /// look-alikes were stripped). `x-amzn-oidc-data` needs the session's
    /// userInfo claims, read at sign-in or at the next refresh.
    pub fn insert_headers(&self, headers: &mut HeaderMap, id: &SessionId, session: &Session) {
        match HeaderValue::from_str(&session.identity.sub) {
            Ok(sub) => {
                headers.insert(X_AMZN_OIDC_IDENTITY, sub);
            }
            Err(_) => tracing::warn!("alb-headers: the sub cannot be a header value; not sent"),
        }
        if let Ok(mut token) = HeaderValue::from_str(session.tokens.access_token.expose()) {
            token.set_sensitive(true);
            headers.insert(X_AMZN_OIDC_ACCESSTOKEN, token);
        }
        if let Some(data) = self.data(id, session) {
            headers.insert(X_AMZN_OIDC_DATA, data);
        }
    }

    /// The cached token for these tokens of this session while younger than
    /// [`RESIGN_AFTER`] by the clock that dates its `exp`, else a new one.
    /// (The cache's own time-to-live only bounds memory.)
    fn data(&self, id: &SessionId, session: &Session) -> Option<HeaderValue> {
        let now = self.clock.now();
        if let Some(signed) = self.cache.get(id) {
            let fresh = now < signed.signed_at.saturating_add(RESIGN_AFTER.as_secs());
            if signed.tokens_at == session.tokens_at && fresh {
                return Some(signed.data.clone());
            }
        }
        let claims = session.userinfo.as_ref()?;
        let token = self.sign_at(&session.provider, claims, now)?;
        let mut data = HeaderValue::from_str(&token).ok()?;
        data.set_sensitive(true);
        let signed = Signed {
            tokens_at: session.tokens_at,
            signed_at: now,
            data: data.clone(),
        };
        self.cache.insert(id.clone(), Arc::new(signed));
        Some(data)
    }

    /// The token for `claims` of a session made by `provider`, signed at
    /// `at` (unix seconds), expiring [`TOKEN_TTL`] later.
    pub fn sign_at(&self, provider: &str, claims: &UserInfoClaims, at: u64) -> Option<String> {
        let audience = self.providers.get(provider)?;
        let exp = at.saturating_add(TOKEN_TTL.as_secs());
        let header = Header {
            typ: "JWT",
            kid: &self.kid,
            alg: "ES256",
            iss: &audience.iss,
            client: &audience.client,
            signer: &self.signer,
            exp,
        };
        let header = serde_json::to_vec(&header).ok()?;
        let payload = payload(claims, exp, &audience.iss)?;
        let mut token = format!("{}.{}", URL_SAFE.encode(header), URL_SAFE.encode(payload));
        match self.key.sign(&self.rng, token.as_bytes()) {
            Ok(signature) => {
                token.push('.');
                token.push_str(&URL_SAFE.encode(signature.as_ref()));
                Some(token)
            }
            Err(_) => {
                tracing::warn!(
                    "alb-headers: signing failed; the request goes without x-amzn-oidc-data"
                );
                None
            }
        }
    }
}

/// The userInfo claims in their order, then `exp` and `iss` (replacing any of
/// the same name), as ALB's payloads are.
fn payload(claims: &UserInfoClaims, exp: u64, iss: &str) -> Option<Vec<u8>> {
    // Written by hand: serde_json's `Map` would sort the names.
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    let own = [
        ("exp", serde_json::Value::from(exp)),
        ("iss", serde_json::Value::from(iss)),
    ];
    let kept = claims.iter_except(&["exp", "iss"]);
    for (i, (name, value)) in kept.chain(own.iter().map(|(k, v)| (*k, v))).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, value).ok()?;
    }
    out.push(b'}');
    Some(out)
}

/// PEM `PUBLIC KEY` (SubjectPublicKeyInfo) of an uncompressed P-256 point.
fn spki_pem(point: &[u8]) -> String {
    let der: Vec<u8> = P256_SPKI_PREFIX.iter().chain(point).copied().collect();
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    use super::*;
    use crate::identity::Identity;
    use crate::secret::Secret;
    use crate::tokens::TokenSet;

    const ARN: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/my-app/50dc6c495c0c9188";
    const ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_b9VeQUg6y";

    fn signer(key: Option<Vec<u8>>) -> AlbSigner {
        let config = AlbConfig {
            signer: ARN.into(),
            key: key.map(Secret::new),
        };
        let audience = (
            "default".to_string(),
            (ISS.to_string(), "client-1".to_string()),
        );
        AlbSigner::new(&config, [audience]).unwrap()
    }

    fn claims() -> UserInfoClaims {
        serde_json::from_str(
            r#"{"sub":"4b5b","email_verified":"true","name":"John Doe +/=-_","email":"j@example.com","username":"4b5b","iss":"forged"}"#,
        )
        .unwrap()
    }

    fn session(tokens_at: u64, userinfo: Option<UserInfoClaims>) -> Session {
        Session {
            identity: Identity {
                sub: "4b5b".into(),
                issuer: ISS.into(),
                provider: "default".into(),
                email: None,
                email_verified: false,
                name: "n".into(),
                username: "u".into(),
                groups: vec![],
            },
            tokens: TokenSet {
                id_token: Secret::new("i".into()),
                access_token: Secret::new("access.token.v1".into()),
                refresh_token: None,
                expires_in: None,
            },
            created_at: tokens_at,
            tokens_at,
            expires_at: u64::MAX,
            id_token_expires_at: u64::MAX,
            provider: "default".into(),
            sid: None,
            userinfo,
            encoded: Default::default(),
        }
    }

    fn segment(token: &str, i: usize) -> serde_json::Value {
        let part = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn tokens_have_albs_layout_and_verify_with_the_published_pem() {
        let s = signer(None);
        let at = Clock::default().now();
        let token = s.sign_at("default", &claims(), at).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert_eq!(part.len() % 4, 0, "padded: {part}");
            assert!(part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)));
        }
        assert!(parts[2].ends_with("=="), "64-byte r||s pads with ==");
        let header = std::str::from_utf8(&URL_SAFE.decode(parts[0]).unwrap())
            .unwrap()
            .to_string();
        let exp = at + 120;
        assert_eq!(
            header,
            format!(
                r#"{{"typ":"JWT","kid":"{}","alg":"ES256","iss":"{ISS}","client":"client-1","signer":"{ARN}","exp":{exp}}}"#,
                s.kid()
            )
        );
        let payload = std::str::from_utf8(&URL_SAFE.decode(parts[1]).unwrap())
            .unwrap()
            .to_string();
        assert_eq!(
            payload,
            format!(
                r#"{{"sub":"4b5b","email_verified":"true","name":"John Doe +/=-_","email":"j@example.com","username":"4b5b","exp":{exp},"iss":"{ISS}"}}"#
            )
        );
        assert!(uuid::Uuid::parse_str(s.kid()).is_ok());
        // The published PEM verifies the signature over the padded segments.
        let pem = s.public_key_pem(s.kid()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).unwrap();
        assert_eq!(der[..26], P256_SPKI_PREFIX);
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &der[26..]);
        let signature = URL_SAFE.decode(parts[2]).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(key.verify(input.as_bytes(), &signature).is_ok());
        assert!(key.verify(b"tampered", &signature).is_err());
        assert!(s
            .public_key_pem("00000000-0000-4000-8000-000000000000")
            .is_none());
        assert!(s.sign_at("unknown-provider", &claims(), at).is_none());
    }

    #[test]
    fn a_shared_key_gives_the_same_kid_and_pem() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let (a, b) = (
            signer(Some(doc.as_ref().to_vec())),
            signer(Some(doc.as_ref().to_vec())),
        );
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.public_key_pem(a.kid()), b.public_key_pem(b.kid()));
        assert_ne!(a.kid(), signer(None).kid());
        assert!(GENERATED_KEY_WARNING.contains("replicas will disagree"));
        assert!(GENERATED_KEY_WARNING.contains("alb-key-file"));
    }

    #[test]
    fn a_cached_token_is_signed_anew_once_the_clock_passes_resign_after() {
        let s = signer(None);
        let id = SessionId::generate();
        let data = |s: &AlbSigner| {
            let mut headers = HeaderMap::new();
            s.insert_headers(&mut headers, &id, &session(10, Some(claims())));
            headers[X_AMZN_OIDC_DATA].clone()
        };
        let first = data(&s);
        s.clock.advance(RESIGN_AFTER - Duration::from_secs(2));
        assert_eq!(data(&s), first, "still young enough to reuse");
        s.clock.advance(Duration::from_secs(2));
        let renewed = data(&s);
        assert_ne!(renewed, first, "signed anew at RESIGN_AFTER");
        let exp = |v: &HeaderValue| segment(v.to_str().unwrap(), 1)["exp"].as_u64().unwrap();
        let want = s.clock.now() + TOKEN_TTL.as_secs();
        assert!(
            exp(&renewed).abs_diff(want) <= 1,
            "exp from the moved clock"
        );
    }

    #[test]
    fn headers_are_set_and_the_token_is_cached_until_a_refresh() {
        let s = signer(None);
        let id = SessionId::generate();
        let mut first = HeaderMap::new();
        s.insert_headers(&mut first, &id, &session(10, Some(claims())));
        assert_eq!(first[X_AMZN_OIDC_IDENTITY], "4b5b");
        assert_eq!(first[X_AMZN_OIDC_ACCESSTOKEN], "access.token.v1");
        assert!(first[X_AMZN_OIDC_ACCESSTOKEN].is_sensitive());
        assert!(first[X_AMZN_OIDC_DATA].is_sensitive());
        let mut again = HeaderMap::new();
        s.insert_headers(&mut again, &id, &session(10, Some(claims())));
        assert_eq!(
            again[X_AMZN_OIDC_DATA], first[X_AMZN_OIDC_DATA],
            "signed once"
        );
        let mut refreshed = HeaderMap::new();
        let mut newer = claims();
        newer = serde_json::from_str(
            &serde_json::to_string(&newer)
                .unwrap()
                .replace("John", "Jane"),
        )
        .unwrap();
        s.insert_headers(&mut refreshed, &id, &session(20, Some(newer)));
        assert_ne!(
            refreshed[X_AMZN_OIDC_DATA], first[X_AMZN_OIDC_DATA],
            "a refresh signs anew"
        );
        let data = refreshed[X_AMZN_OIDC_DATA].to_str().unwrap();
        assert_eq!(segment(data, 1)["name"], "Jane Doe +/=-_");
        let mut without = HeaderMap::new();
        s.insert_headers(&mut without, &SessionId::generate(), &session(30, None));
        assert!(
            without.get(X_AMZN_OIDC_DATA).is_none(),
            "no claims read yet"
        );
        assert_eq!(without[X_AMZN_OIDC_IDENTITY], "4b5b");
    }
}
