//! Shared pieces of the mock Cognito tests: the pool, a browser that follows
//! the hosted login by hand, token calls, and independent JWT verification
//! (jwt-simple, not the sidecar's jsonwebtoken).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cognito_sidecar::mock::{
    MockClient, MockCognito, MockConfig, MockHandle, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
};
use jwt_simple::prelude::{
    Duration as JwtDuration, RS256PublicKey, RSAPublicKeyLike, Token, VerificationOptions,
};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use crate::support::{browser, form_fields, fragment_map, location, plain_client, query_map};

pub const APP_CB: &str = "https://app.example.com/oauth2/callback";
pub const APP_OUT: &str = "https://app.example.com/signed-out";
pub const DEMO_CB: &str = "http://localhost:4180/oauth2/callback";
pub const PUBLIC_ID: &str = "pub1icpkcec1ient0000000000";
pub const IMPLICIT_ID: &str = "imp1icitc1ient000000000000";
pub const ROTATING_ID: &str = "rotatingc1ient000000000000";
pub const ROTATING_SECRET: &str = "rotating-secret";
pub const M2M_ID: &str = "m2mc1ient00000000000000000";
pub const M2M_SECRET: &str = "m2m-secret";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn client(id: &str, secret: Option<&str>, scopes: &[&str]) -> MockClient {
    MockClient {
        client_id: id.into(),
        client_secret: secret.map(str::to_string),
        callback_urls: vec![APP_CB.into()],
        logout_urls: vec![APP_OUT.into()],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..MockClient::default()
    }
}

/// The demo pool plus a public PKCE client, an implicit-only client, a
/// rotating client and an M2M client.
pub fn pool() -> MockConfig {
    let mut c = MockConfig::demo();
    c.clients
        .push(client(PUBLIC_ID, None, &["openid", "email", "profile"]));
    c.clients.push(MockClient {
        allow_code_flow: false,
        allow_implicit_flow: true,
        ..client(IMPLICIT_ID, None, &["openid", "email"])
    });
    c.clients.push(MockClient {
        refresh_rotation: true,
        ..client(ROTATING_ID, Some(ROTATING_SECRET), &["openid"])
    });
    c.clients
        .push(client(M2M_ID, Some(M2M_SECRET), &["api/read", "api/write"]));
    c
}

pub async fn start(config: MockConfig) -> MockHandle {
    MockCognito::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn authorize_url(mock: &MockHandle, params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}/oauth2/authorize?{query}", mock.base_url())
}

/// Drives authorize → /login form → POST /login like a browser; returns the
/// final response (the 302 back to the client, or the re-rendered form).
pub async fn sign_in(
    http: &reqwest::Client,
    mock: &MockHandle,
    params: &[(&str, &str)],
    user: &str,
    password: &str,
) -> reqwest::Response {
    let resp = http.get(authorize_url(mock, params)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let login = location(&resp);
    assert!(
        login.starts_with(&format!("{}/login?", mock.base_url())),
        "{login}"
    );
    let page = http.get(&login).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"username\"")
            && html.contains("name=\"password\"")
            && html.contains("id=\"signin\"")
    );
    let mut form = form_fields(&html);
    form.push(("username".into(), user.into()));
    form.push(("password".into(), password.into()));
    http.post(format!("{}/login", mock.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Signs in as alice with PKCE on the public client; returns the code.
pub async fn code_for(
    http: &reqwest::Client,
    mock: &MockHandle,
    client_id: &str,
    redirect: &str,
    nonce: &str,
) -> String {
    let ch = challenge(VERIFIER);
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("state", "st"),
        ("scope", "openid email profile"),
        ("nonce", nonce),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
    ];
    let resp = sign_in(http, mock, &params, "alice", "alice-password").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    query_map(&location(&resp))["code"].clone()
}

/// POSTs a form to `/oauth2/token`, optionally with Basic client auth.
pub async fn token_call(
    mock: &MockHandle,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = plain_client()
        .post(format!("{}/oauth2/token", mock.base_url()))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

pub async fn exchange_public(mock: &MockHandle, code: &str) -> (StatusCode, HeaderMap, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_ID),
        ("code", code),
        ("redirect_uri", APP_CB),
        ("code_verifier", VERIFIER),
    ];
    token_call(mock, &form, None).await
}

pub async fn demo_code(http: &reqwest::Client, mock: &MockHandle, nonce: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", DEMO_CB),
        ("scope", "openid email profile"),
        ("nonce", nonce),
    ];
    let resp = sign_in(http, mock, &params, "alice", "alice-password").await;
    query_map(&location(&resp))["code"].clone()
}

pub async fn exchange_demo(mock: &MockHandle, code: &str) -> (StatusCode, HeaderMap, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DEMO_CLIENT_ID),
        ("code", code),
        ("redirect_uri", DEMO_CB),
    ];
    token_call(mock, &form, Some((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))).await
}

/// The raw JSON header of a JWT.
pub fn jwt_header(token: &str) -> Map<String, Value> {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verifies a JWT with jwt-simple against the JWKS fetched over HTTP: the key
/// chosen by `kid`, RS256 only, no clock tolerance, `iss` and (ID tokens) `aud`
/// and `nonce`. Returns all claims.
pub async fn verify(
    mock: &MockHandle,
    token: &str,
    aud: Option<&str>,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, String> {
    let jwks: Value = plain_client()
        .get(mock.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let meta = Token::decode_metadata(token).map_err(|e| e.to_string())?;
    if meta.algorithm() != "RS256" {
        return Err(format!("alg {}", meta.algorithm()));
    }
    let kid = meta.key_id().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or("unknown kid")?;
    let key = RS256PublicKey::from_jwk(&jwk.to_string()).map_err(|e| e.to_string())?;
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([mock.issuer()])),
        allowed_audiences: aud.map(|a| HashSet::from([a.to_string()])),
        required_nonce: nonce.map(str::to_string),
        time_tolerance: Some(JwtDuration::from_secs(0)),
        ..VerificationOptions::default()
    };
    let claims = key
        .verify_token::<Map<String, Value>>(token, Some(options))
        .map_err(|e| e.to_string())?;
    let mut all = claims.custom;
    all.insert("iss".into(), claims.issuer.unwrap_or_default().into());
    all.insert("sub".into(), claims.subject.unwrap_or_default().into());
    all.insert("jti".into(), claims.jwt_id.unwrap_or_default().into());
    all.insert("iat".into(), claims.issued_at.map(|t| t.as_secs()).into());
    all.insert("exp".into(), claims.expires_at.map(|t| t.as_secs()).into());
    if let Some(n) = claims.nonce {
        all.insert("nonce".into(), n.into());
    }
    Ok(all)
}

/// An ID token check as a relying party does it: signature + iss + aud + nonce + `token_use`.
pub async fn verify_id(
    mock: &MockHandle,
    token: &str,
    aud: &str,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, String> {
    let claims = verify(mock, token, Some(aud), nonce).await?;
    if claims.get("token_use") != Some(&Value::from("id")) {
        return Err("token_use is not id".into());
    }
    Ok(claims)
}
