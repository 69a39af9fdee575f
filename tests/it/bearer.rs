//! API clients with `Authorization: Bearer`: Cognito ID and access tokens
//! checked offline, the same identity headers, RFC 6750 answers when invalid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use cognito_sidecar::mock::{MockConfig, TokenTweak, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use cognito_sidecar::session::SessionId;
use support::*;

async fn call(stack: &Stack, token: &str) -> reqwest::Response {
    plain_client()
        .get(stack.url("/api/orders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Alice's access token, from a real sign-in's session.
async fn access_token(stack: &Stack) -> String {
    let client = browser();
    let r = sign_in_as(stack, &client, "/", "alice", "alice-password").await;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("_cognito_sidecar="))
        .unwrap();
    let value = cookie
        .trim_start_matches("_cognito_sidecar=")
        .split(';')
        .next()
        .unwrap();
    let state = stack.sidecar.state();
    let flow = &state.flow;
    let opened = flow
        .cookies()
        .open(&flow.cookies().name(""), value)
        .unwrap();
    let session = state
        .sessions
        .get(&SessionId::parse(&opened.value).unwrap())
        .await
        .unwrap()
        .unwrap();
    session.tokens.access_token.expose().clone()
}

fn assert_invalid(r: &reqwest::Response) {
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn an_id_token_authenticates_with_the_same_identity_headers() {
    let stack = Stack::start().await;
    let r = call(&stack, &stack.mock.mint_id_token(TokenTweak::NoTweak)).await;
    assert_eq!(r.status(), 200);
    let seen = stack.upstream.last();
    assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));
    assert_eq!(seen.header("x-user-username"), Some("alice"));
    assert_eq!(
        seen.header("x-user-groups"),
        Some("admins,Engineering%2C Platform")
    );
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session for API clients"
    );
}

#[tokio::test]
async fn an_access_token_authenticates_by_client_id_and_scopes() {
    let stack = Stack::builder()
        .with(|s| s.provider.api_scopes = support::words("openid"))
        .start()
        .await;
    let token = access_token(&stack).await;
    let before = stack.upstream.count();
    let r = call(&stack, &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(stack.upstream.count(), before + 1);
    let seen = stack.upstream.last();
    assert_eq!(seen.header("x-user-username"), Some("alice"));
    assert_eq!(
        seen.header("x-user-sub"),
        Some("7d8ca528-4931-4254-9273-ea5ee853f271")
    );
    assert_eq!(
        seen.header("x-user-email"),
        None,
        "access tokens carry no email"
    );
}

#[tokio::test]
async fn a_missing_scope_or_a_foreign_client_is_refused() {
    let stack = Stack::builder()
        .with(|s| s.provider.api_scopes = support::words("orders/read"))
        .start()
        .await;
    let token = access_token(&stack).await;
    assert_invalid(&call(&stack, &token).await);

    let stack = Stack::builder()
        .with(|s| s.provider.api_client_ids = support::words("another-client"))
        .start()
        .await;
    let token = access_token(&stack).await;
    assert_invalid(&call(&stack, &token).await);
    assert_invalid(&call(&stack, &stack.mock.mint_id_token(TokenTweak::NoTweak)).await);
}

#[tokio::test]
async fn every_broken_token_gets_401_with_an_rfc6750_challenge() {
    let stack = Stack::start().await;
    for tweak in [
        TokenTweak::Expired,
        TokenTweak::WrongIssuer,
        TokenTweak::WrongAudience,
        TokenTweak::WrongKey,
        TokenTweak::BadSignature,
        TokenTweak::AlgNone,
        TokenTweak::Hs256,
        // The checks a login's ID token gets apply to bearer ID tokens too.
        TokenTweak::IssuedInFuture,
        TokenTweak::NotYetValid,
        TokenTweak::SeveralAudiences,
        TokenTweak::ForeignAuthorizedParty,
    ] {
        let r = call(&stack, &stack.mock.mint_id_token(tweak)).await;
        assert_invalid(&r);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{tweak:?}");
    }
    for junk in ["x", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        assert_invalid(&call(&stack, junk).await);
    }
    assert_eq!(stack.upstream.count(), 0);
}

#[tokio::test]
async fn machine_tokens_of_the_client_are_accepted_with_their_custom_scope() {
    let mut pool = MockConfig::demo();
    pool.clients[0].scopes.push("orders/read".into());
    let stack = Stack::builder()
        .mock(pool)
        .with(|s| s.provider.api_scopes = support::words("orders/read"))
        .start()
        .await;
    let r = plain_client()
        .post(format!("{}/oauth2/token", stack.mock.base_url()))
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "orders/read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token: serde_json::Value = r.json().await.unwrap();
    let r = call(&stack, token["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(stack.upstream.last().header("x-user-email"), None);
}

#[tokio::test]
async fn bearer_tokens_can_be_turned_off() {
    let stack = Stack::builder()
        .with(|s| s.provider.bearer_tokens = "false".into())
        .start()
        .await;
    let r = call(&stack, &stack.mock.mint_id_token(TokenTweak::NoTweak)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Cookie");
}

#[tokio::test]
async fn forward_auth_accepts_bearer_tokens_too() {
    let stack = Stack::start().await;
    let token = stack.mock.mint_id_token(TokenTweak::NoTweak);
    let r = plain_client()
        .get(stack.url("/oauth2/auth"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-auth-request-email"], "alice@example.com");
}

/// Expiry is read from the sidecar's clock: a bearer ID token and an access
/// token (10 minutes each) pass until the clock is past `exp` plus the 60 s
/// leeway, then get the RFC 6750 401. Control: the same tokens just inside
/// the leeway.
#[tokio::test]
async fn bearer_tokens_are_refused_once_the_clock_passes_their_expiry() {
    let ten_minutes = MockConfig {
        id_token_ttl: Duration::from_secs(600),
        access_token_ttl: Duration::from_secs(600),
        ..MockConfig::demo()
    };
    let stack = Stack::builder()
        .mock(ten_minutes)
        .with(|s| s.provider.api_scopes = support::words("openid"))
        .start()
        .await;
    let id_token = stack.mock.mint_id_token(TokenTweak::NoTweak);
    let access = access_token(&stack).await;
    stack.advance(600 + 60 - 10);
    assert_eq!(call(&stack, &id_token).await.status(), 200, "within leeway");
    assert_eq!(call(&stack, &access).await.status(), 200, "within leeway");
    stack.advance(20);
    for token in [&id_token, &access] {
        let r = call(&stack, token).await;
        assert_invalid(&r);
        let challenge = r.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(r#"error_description="the token has expired""#),
            "{challenge}"
        );
    }
}
