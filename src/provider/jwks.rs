//! The IdP's signing keys: swapped whole, refetched on an unknown `kid` at most
//! once per interval so a flood of forged `kid`s is not a flood of fetches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::{http, ProviderError};

/// Shortest time between two fetches triggered by unknown `kid`s.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// A JWKS document. Each key is parsed on its own (as `jsonwebtoken`'s
/// [`Jwk`]), so one key of a shape we do not know does not hide the others.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// RS256 verification keys by `kid`.
#[derive(Default)]
pub struct KeySet(HashMap<String, Arc<DecodingKey>>);

impl KeySet {
    /// Keeps only keys usable for RS256 signatures; skips the rest.
    fn from_jwks(set: JwkSet) -> Self {
        let keys = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter(|k| matches!(k.algorithm, AlgorithmParameters::RSA(_)))
            .filter(|k| {
                k.common
                    .key_algorithm
                    .is_none_or(|a| a == KeyAlgorithm::RS256)
            })
            .filter(|k| {
                k.common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|u| *u == PublicKeyUse::Signature)
            })
            .filter_map(|k| {
                let key = DecodingKey::from_jwk(&k).ok()?;
                Some((k.common.key_id?, Arc::new(key)))
            })
            .collect();
        Self(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub struct Jwks {
    keys: ArcSwap<KeySet>,
    last_fetch: Mutex<Option<Instant>>,
    max_body: usize,
}

/// The JWKS URL comes from discovery, which comes from the issuer.
const JWKS: http::Document = http::Document {
    what: "JWKS",
    not_found: "jwks_not_found",
    not_json: "jwks_not_json",
    setting: "issuer-url",
};

impl Jwks {
    pub fn new(max_body: usize) -> Self {
        Self {
            keys: ArcSwap::from_pointee(KeySet::default()),
            last_fetch: Mutex::new(None),
            max_body,
        }
    }

    pub fn is_loaded(&self) -> bool {
        !self.keys.load().is_empty()
    }

    /// The keys of a JWKS document given as text, without a fetch (tests of
    /// the layers above the provider).
    #[cfg(test)]
    pub fn set(&self, document: &str) -> Result<(), serde_json::Error> {
        let set: JwkSet = serde_json::from_str(document)?;
        self.keys.store(Arc::new(KeySet::from_jwks(set)));
        Ok(())
    }

    /// Fetches the set (start-up, periodic refresh); on failure the previous
    /// keys stay in place. Does not count against the unknown-`kid` budget, so a
    /// key rotated in right after start-up is still picked up.
    pub async fn refresh(&self, client: &reqwest::Client, url: &Url) -> Result<(), ProviderError> {
        let _serialized = self.last_fetch.lock().await;
        self.fetch(client, url).await
    }

    async fn fetch(&self, client: &reqwest::Client, url: &Url) -> Result<(), ProviderError> {
        let set: JwkSet = http::get_json(client, url, &JWKS, self.max_body).await?;
        let keys = KeySet::from_jwks(set);
        if keys.is_empty() {
            return Err(ProviderError::BadAnswer(format!(
                "JWKS at {url} holds no RS256 signing key"
            )));
        }
        self.keys.store(Arc::new(keys));
        Ok(())
    }

    /// The key named `kid`, refetching the set once if it is unknown and the
    /// last fetch is older than [`REFETCH_INTERVAL`].
    pub async fn key(
        &self,
        kid: &str,
        client: &reqwest::Client,
        url: &Url,
    ) -> Option<Arc<DecodingKey>> {
        if let Some(key) = self.keys.load().0.get(kid) {
            return Some(key.clone());
        }
        let mut last = self.last_fetch.lock().await;
        // Someone else may have refetched while we waited for the lock.
        if let Some(key) = self.keys.load().0.get(kid) {
            return Some(key.clone());
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return None;
        }
        *last = Some(Instant::now());
        let result = self.fetch(client, url).await;
        let labels = crate::metrics::IdpLabels {
            call: "unknown_kid",
            result: if result.is_ok() { "ok" } else { "error" },
        };
        crate::metrics::metrics()
            .jwks_refreshes
            .get_or_create(&labels)
            .inc();
        if let Err(error) = result {
            tracing::warn!(%error, "JWKS refetch for an unknown key id failed; keeping the previous keys");
        }
        self.keys.load().0.get(kid).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rsa_signing_keys_are_kept() {
        let doc = r#"{"keys":[
            {"kid":"a=","alg":"RS256","kty":"RSA","e":"AQAB","n":"xjlCRBqkQRSSs3eRpvOu3IxEN9H7gmYJSWBBLB2e4Y4Frkl7sp0bfyQkVVH0Wq-FyAmNV1RxvC1S2dkBUgBUEgJY5Kyx0FkZ7wsA2k3JbcQNk-dDQX6qKxUg7aw1K71pScjlu7ZbjuuBWPsvpw8bPkjfSVl0F_x2-pe2JQ4NQNcU8ZR6ARCj9A8Ad_VqqHTxGpXqK6UrN6nOqs3S9vFwaSw4D7j9QiJy6XyKt84XD28cGBK5SQwy_cvTAUV4bWOdPBWl6XnrFmtMvlMDMfg4KmP0DFa8lqkJ3R-dXJcDyFz4ehtFrLiPRC-p9-n4H9LXdBmjg-XZpHVENEyCq2fmE7Q","use":"sig"},
            {"kid":"b=","alg":"RS256","kty":"RSA","e":"AQAB","n":"xjlC","use":"enc"},
            {"kid":"c=","kty":"oct","k":"c2VjcmV0"},
            {"kid":"d=","kty":"RSA","alg":"RS256"},
            {"kid":"e=","kty":"EC","crv":"P-256","x":"AA","y":"AA","alg":"ES256"},
            {"kid":"f=","kty":"RSA","alg":"PS512","e":"AQAB","n":"xjlC"},
            {"kty":"RSA","e":"AQAB","n":"xjlC"}]}"#;
        let set = KeySet::from_jwks(serde_json::from_str(doc).unwrap());
        assert_eq!(set.0.len(), 1);
        assert!(set.0.contains_key("a="));
    }
}
