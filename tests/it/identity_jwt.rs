//! The signed identity header: the upstream receives an ES256 JWT of the
//! identity that it can verify with the sidecar's published JWKS, checked here
//! with an independent JWT implementation (jwt-simple, pure Rust), never with
//! the sidecar's own code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;
use cognito_sidecar::config::Settings;

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jwt_simple::prelude::{
    Duration as JwtDuration, ECDSAP256PublicKeyLike, ES256PublicKey, JWTClaims, UnixTimeStamp,
    VerificationOptions,
};
use serde::Deserialize;
use support::{bounded, plain_client, signed_in, Seen, Stack};

/// The claims besides the registered ones.
#[derive(Debug, Deserialize)]
struct Who {
    email: Option<String>,
    name: String,
    username: String,
    groups: Vec<String>,
    provider: String,
    provider_iss: String,
}

async fn jwt_stack(extra: impl FnOnce(&mut Settings)) -> Stack {
    Stack::builder()
        .with(|s| s.identity_jwt = "true".into())
        .with(extra)
        .start()
        .await
}

/// `http://127.0.0.1:PORT` of the stack's upstream: the default audience.
fn upstream_origin(stack: &Stack) -> String {
    format!("http://{}", stack.upstream.addr)
}

/// The stack's published key, fetched over HTTP, checked for the JWK shape.
async fn published_key(stack: &Stack) -> (String, ES256PublicKey) {
    let r = plain_client()
        .get(stack.url("/oauth2/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let jwks: serde_json::Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let jwk = &keys[0];
    for (field, want) in [
        ("kty", "EC"),
        ("crv", "P-256"),
        ("alg", "ES256"),
        ("use", "sig"),
    ] {
        assert_eq!(jwk[field], want, "{jwk}");
    }
    assert!(jwk.get("d").is_none(), "the JWKS holds no private part");
    let coordinate = |name: &str| B64.decode(jwk[name].as_str().unwrap()).unwrap();
    let mut sec1 = vec![0x04];
    sec1.extend(coordinate("x"));
    sec1.extend(coordinate("y"));
    assert_eq!(sec1.len(), 65);
    let kid = jwk["kid"].as_str().unwrap().to_string();
    let key = ES256PublicKey::from_bytes(&sec1).unwrap().with_key_id(&kid);
    (kid, key)
}

fn options(issuer: &str, audience: &str, tolerance_secs: u64) -> VerificationOptions {
    VerificationOptions {
        allowed_issuers: Some(HashSet::from([issuer.to_string()])),
        allowed_audiences: Some(HashSet::from([audience.to_string()])),
        time_tolerance: Some(JwtDuration::from_secs(tolerance_secs)),
        ..VerificationOptions::default()
    }
}

fn verify(
    key: &ES256PublicKey,
    token: &str,
    options: VerificationOptions,
) -> Result<JWTClaims<Who>, jwt_simple::Error> {
    key.verify_token::<Who>(token, Some(options))
}

/// Every value the upstream got under `name`, in any case and `_`/`-` spelling.
fn values_named(seen: &Seen, name: &str) -> Vec<String> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    seen.headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().replace('_', "-") == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// A request from a signed-in client that tries to bring its own identity tokens.
async fn spoofed_request(stack: &Stack, client: &reqwest::Client, names: &[&str]) -> Seen {
    let mut request = client.get(stack.url("/hello"));
    for name in names {
        request = request.header(*name, "forged.by.client");
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), 200);
    stack.upstream.last()
}

#[tokio::test]
async fn the_upstream_gets_a_token_the_published_key_verifies() {
    bounded(async {
        let stack = jwt_stack(|_| {}).await;
        let client = signed_in(&stack).await;
        let spoofs = ["X-Sidecar-Identity", "X_Sidecar_Identity"];
        let seen = spoofed_request(&stack, &client, &spoofs).await;
        let tokens = values_named(&seen, "x-sidecar-identity");
        assert_eq!(tokens.len(), 1, "exactly our own token: {tokens:?}");
        let (kid, key) = published_key(&stack).await;
        let opts = options(&stack.base, &upstream_origin(&stack), 0);
        let claims = verify(&key, &tokens[0], opts).unwrap();
        let metadata = jwt_simple::token::Token::decode_metadata(&tokens[0]).unwrap();
        assert_eq!(metadata.algorithm(), "ES256");
        assert_eq!(metadata.key_id(), Some(kid.as_str()));
        assert_eq!(claims.issuer.as_deref(), Some(stack.base.as_str()));
        assert_eq!(
            claims.subject.as_deref(),
            Some("7d8ca528-4931-4254-9273-ea5ee853f271")
        );
        assert_eq!(
            claims.subject.as_deref(),
            seen.header("x-user-sub"),
            "the token and the plain header name the same user"
        );
        let who = &claims.custom;
        assert_eq!(who.email.as_deref(), Some("alice@example.com"));
        assert_eq!(who.name, "Zoë Ångström-Łukasiewicz");
        assert_eq!(who.username, "alice");
        assert_eq!(who.groups, ["admins", "Engineering, Platform"]);
        assert_eq!(who.provider, "default", "which provider's sub this is");
        assert_eq!(who.provider_iss, stack.mock.issuer());
        assert_eq!(seen.header("x-user-provider"), Some("default"));
        let (iat, exp) = (claims.issued_at.unwrap(), claims.expires_at.unwrap());
        assert_eq!(exp.as_secs() - iat.as_secs(), 60, "the default ttl");
        assert!(claims.jwt_id.is_some_and(|j| !j.is_empty()));
        let wrong_audience = options(&stack.base, "https://other.example", 0);
        assert!(verify(&key, &tokens[0], wrong_audience).is_err());
    })
    .await;
}

#[tokio::test]
async fn without_the_feature_spoofs_are_stripped_and_there_is_no_jwks() {
    bounded(async {
        let stack = Stack::start().await;
        let client = signed_in(&stack).await;
        let spoofs = [
            "X-Sidecar-Identity",
            "X_Sidecar_Identity",
            "x-sidecar_identity",
        ];
        let seen = spoofed_request(&stack, &client, &spoofs).await;
        assert!(
            seen.header("x-user-sub").is_some(),
            "the request was signed in"
        );
        assert_eq!(
            values_named(&seen, "x-sidecar-identity"),
            Vec::<String>::new()
        );
        let r = plain_client()
            .get(stack.url("/oauth2/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn a_custom_header_and_audience_are_used_and_spoofs_of_both_names_stripped() {
    bounded(async {
        let audience = "https://app.internal";
        let stack = jwt_stack(|s| {
            s.identity_jwt_header = "X-App-Identity".into();
            s.identity_jwt_audience = Some(audience.into());
        })
        .await;
        let client = signed_in(&stack).await;
        let spoofs = ["X-App-Identity", "X_App_Identity", "X-Sidecar-Identity"];
        let seen = spoofed_request(&stack, &client, &spoofs).await;
        assert_eq!(
            values_named(&seen, "x-sidecar-identity"),
            Vec::<String>::new()
        );
        let tokens = values_named(&seen, "x-app-identity");
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        let (_, key) = published_key(&stack).await;
        let claims = verify(&key, &tokens[0], options(&stack.base, audience, 0)).unwrap();
        assert_eq!(claims.custom.username, "alice");
        let default_audience = options(&stack.base, &upstream_origin(&stack), 0);
        assert!(verify(&key, &tokens[0], default_audience).is_err());
    })
    .await;
}

#[tokio::test]
async fn replicas_sharing_a_key_file_publish_one_kid_and_verify_each_others_tokens() {
    bounded(async {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity-jwt.pem");
        std::fs::write(&path, pem).unwrap();
        let path = path.to_str().unwrap();
        let a = jwt_stack(|s| s.identity_jwt_key_file = Some(path.into())).await;
        let b = jwt_stack(|s| s.identity_jwt_key_file = Some(path.into())).await;
        let own = jwt_stack(|_| {}).await;
        let ((kid_a, _), (kid_b, key_b)) = (published_key(&a).await, published_key(&b).await);
        assert_eq!(kid_a, kid_b);
        let (kid_own, key_own) = published_key(&own).await;
        assert_ne!(
            kid_a, kid_own,
            "without the file a sidecar has a key of its own"
        );

        let client = signed_in(&a).await;
        let seen = spoofed_request(&a, &client, &[]).await;
        let token = &values_named(&seen, "x-sidecar-identity")[0];
        let claims = verify(&key_b, token, options(&a.base, &upstream_origin(&a), 0)).unwrap();
        assert_eq!(claims.custom.username, "alice");
        assert!(verify(&key_own, token, options(&a.base, &upstream_origin(&a), 0)).is_err());
    })
    .await;
}

#[tokio::test]
async fn a_token_older_than_its_ttl_fails_verification() {
    bounded(async {
        let stack = jwt_stack(|s| s.identity_jwt_ttl = "1s".into()).await;
        let client = signed_in(&stack).await;
        let seen = spoofed_request(&stack, &client, &[]).await;
        let token = values_named(&seen, "x-sidecar-identity").remove(0);
        let (_, key) = published_key(&stack).await;
        let (iss, aud) = (stack.base.clone(), upstream_origin(&stack));
        // iat is whole seconds, so a fresh token may already be up to 1 s old.
        let claims = verify(&key, &token, options(&iss, &aud, 1)).unwrap();
        let (iat, exp) = (claims.issued_at.unwrap(), claims.expires_at.unwrap());
        assert_eq!(exp.as_secs() - iat.as_secs(), 1);
        // Two seconds on, for the sidecar and for the verifier.
        stack.advance(2);
        let later = |tolerance| VerificationOptions {
            artificial_time: Some(UnixTimeStamp::from_secs(stack.clock.now())),
            ..options(&iss, &aud, tolerance)
        };
        let expired = verify(&key, &token, later(0));
        assert!(expired.is_err(), "expired: {expired:?}");
        assert!(
            verify(&key, &token, later(3600)).is_ok(),
            "only its age fails it: the signature is still good"
        );
        let fresh = spoofed_request(&stack, &client, &[]).await;
        let fresh = values_named(&fresh, "x-sidecar-identity").remove(0);
        assert!(
            verify(&key, &fresh, later(1)).is_ok(),
            "dated by the sidecar's clock"
        );
    })
    .await;
}

#[tokio::test]
async fn the_forward_auth_answer_carries_the_token_for_the_ingress() {
    bounded(async {
        let stack = jwt_stack(|_| {}).await;
        let client = signed_in(&stack).await;
        let r = client
            .get(stack.url("/oauth2/auth"))
            .header("X-Sidecar-Identity", "forged.by.client")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let values: Vec<_> = r.headers().get_all("x-sidecar-identity").iter().collect();
        assert_eq!(values.len(), 1);
        let token = values[0].to_str().unwrap();
        assert_ne!(token, "forged.by.client");
        let (_, key) = published_key(&stack).await;
        let opts = options(&stack.base, &upstream_origin(&stack), 0);
        let claims = verify(&key, token, opts).unwrap();
        assert_eq!(
            claims.subject.as_deref(),
            r.headers()["x-user-sub"].to_str().ok()
        );
    })
    .await;
}
