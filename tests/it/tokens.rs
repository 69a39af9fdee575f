//! ID tokens with one thing wrong are refused at the callback: no session, and
//! the upstream never sees the request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers
use crate::support;

use std::time::Duration;

use cognito_sidecar::mock::{MockConfig, TokenTweak};
use support::*;

/// From the IdP authorize URL to the callback URL: the form when the mock has
/// no hosted session for this browser, straight back when it has one.
async fn to_callback(stack: &Stack, client: &reqwest::Client, authorize: &str) -> String {
    let r = client.get(authorize).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let next = url::Url::parse(authorize)
        .unwrap()
        .join(&location(&r))
        .unwrap()
        .to_string();
    if next.starts_with(&stack.base) {
        return next;
    }
    let form = LoginForm {
        post: url::Url::parse(&next).unwrap().join("/login").unwrap(),
        fields: form_fields(
            &client
                .get(&next)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        ),
    };
    let r = post_login_form(client, &form, "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the mock accepts the password");
    location(&r)
}

/// Signs alice in with `tweak` on the ID token; returns the callback's answer
/// (asked as an API client, so the body is JSON).
async fn sign_in_with(
    stack: &Stack,
    client: &reqwest::Client,
    tweak: TokenTweak,
) -> reqwest::Response {
    stack.mock.next_id_token_tweak(tweak);
    let r = navigate(client, &stack.url("/guarded/page?x=1")).await;
    assert_eq!(r.status(), 302);
    let callback = to_callback(stack, client, &location(&r)).await;
    assert!(callback.starts_with(&stack.url("/oauth2/callback?")));
    client.get(callback).send().await.unwrap()
}

/// The callback is refused with 401 `invalid_id_token`, after a real token
/// exchange, and leaves no session behind.
async fn assert_refused(tweak: TokenTweak) {
    let stack = Stack::start().await;
    let client = browser();
    let r = sign_in_with(&stack, &client, tweak).await;
    assert_eq!(r.status(), 401, "{tweak:?}");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        set_cookies(&r)
            .iter()
            .all(|c| !c.starts_with("_cognito_sidecar=")),
        "{tweak:?}: no session cookie"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_id_token", "{tweak:?}");
    assert_eq!(stack.mock.counters().authorization_code_grants, 1);
    let r = client
        .get(stack.url("/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{tweak:?}: no session afterwards");
    let r = navigate(&client, &stack.url("/guarded/page?x=1")).await;
    assert_eq!(r.status(), 302, "{tweak:?}: still signed out");
    assert!(location(&r).starts_with(&stack.mock.base_url()));
    assert_eq!(
        stack.upstream.count(),
        0,
        "{tweak:?}: upstream saw a request"
    );
}

#[tokio::test]
async fn bad_signature_id_token_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::BadSignature).await;
    })
    .await;
}

#[tokio::test]
async fn id_token_signed_by_an_unknown_key_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::WrongKey).await;
    })
    .await;
}

#[tokio::test]
async fn alg_none_id_token_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::AlgNone).await;
    })
    .await;
}

#[tokio::test]
async fn hs256_id_token_keyed_with_the_public_key_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::Hs256).await;
    })
    .await;
}

#[tokio::test]
async fn id_token_from_another_issuer_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::WrongIssuer).await;
    })
    .await;
}

#[tokio::test]
async fn id_token_for_another_client_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::WrongAudience).await;
    })
    .await;
}

#[tokio::test]
async fn expired_id_token_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::Expired).await;
    })
    .await;
}

/// The sidecar's clock decides an ID token's expiry (README: a clock off by
/// more than the 60 s leeway fails sign-in with "the token has expired"). Only
/// the sidecar's clock moves, past a 10-minute token's `exp`: within the
/// leeway the sign-in works, past it the callback is the 401.
#[tokio::test]
async fn a_sidecar_clock_past_the_id_tokens_expiry_refuses_it_beyond_the_leeway() {
    bounded(async {
        let ten_minutes = MockConfig {
            id_token_ttl: Duration::from_secs(600),
            ..MockConfig::demo()
        };
        let stack = Stack::builder().mock(ten_minutes).start().await;
        stack.clock.advance(Duration::from_secs(600 + 60 - 10));
        let r = sign_in_with(&stack, &browser(), TokenTweak::NoTweak).await;
        assert_eq!(r.status(), 302, "within the leeway");
        stack.clock.advance(Duration::from_secs(20));
        let client = browser();
        let r = sign_in_with(&stack, &client, TokenTweak::NoTweak).await;
        assert_eq!(r.status(), 401, "past exp and the leeway");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_id_token");
        let r = navigate(&client, &stack.url("/guarded/page?x=1")).await;
        assert_eq!(r.status(), 302, "no session");
    })
    .await;
}

#[tokio::test]
async fn id_token_with_another_nonce_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::WrongNonce).await;
    })
    .await;
}

/// The same checks as a bearer ID token gets (tests/it/bearer.rs): one list.
#[tokio::test]
async fn id_tokens_from_the_future_or_for_several_clients_without_azp_are_refused() {
    bounded(async {
        for tweak in [
            TokenTweak::IssuedInFuture,
            TokenTweak::NotYetValid,
            TokenTweak::SeveralAudiences,
            TokenTweak::ForeignAuthorizedParty,
        ] {
            assert_refused(tweak).await;
        }
    })
    .await;
}

#[tokio::test]
async fn access_token_posing_as_id_token_is_refused() {
    bounded(async {
        assert_refused(TokenTweak::TokenUseAccess).await;
    })
    .await;
}

#[tokio::test]
async fn untweaked_sign_in_works_after_a_refused_one() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        stack.mock.next_id_token_tweak(TokenTweak::WrongNonce);
        let r = navigate(&client, &stack.url("/guarded/page?x=1")).await;
        let callback = to_callback(&stack, &client, &location(&r)).await;
        let r = navigate(&client, &callback).await;
        assert_eq!(r.status(), 401);
        let html = r.text().await.unwrap();
        assert!(html.contains("could not be verified"), "{html}");
        assert!(html.contains(r#"href="/oauth2/start?rd=%2Fguarded%2Fpage%3Fx%3D1""#));
        // This browser keeps the mock's hosted session, so no form this time.
        let r = sign_in_with(&stack, &client, TokenTweak::NoTweak).await;
        assert_eq!(r.status(), 302);
        assert_eq!(location(&r), "/guarded/page?x=1");
        let r = navigate(&client, &stack.url("/guarded/page?x=1")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(stack.upstream.count(), 1);
        assert_eq!(
            stack.upstream.last().header("x-user-username"),
            Some("alice")
        );
    })
    .await;
}

#[tokio::test]
async fn unknown_kid_floods_do_not_flood_the_jwks_endpoint() {
    bounded(async {
        let stack = Stack::start().await;
        let before = stack.mock.counters().jwks_fetches;
        assert!(before >= 1, "the sidecar loaded the keys when starting");
        let client = browser();
        for _ in 0..5 {
            let r = sign_in_with(&stack, &client, TokenTweak::WrongKey).await;
            assert_eq!(r.status(), 401);
        }
        let after = stack.mock.counters().jwks_fetches;
        assert!(after - before <= 1, "JWKS fetched {} times", after - before);
        assert_eq!(stack.mock.counters().authorization_code_grants, 5);
        let r = sign_in_with(&stack, &client, TokenTweak::NoTweak).await;
        assert_eq!(r.status(), 302, "known keys still verify");
    })
    .await;
}

/// An empty `sub` names nobody (and every such token would share it).
#[tokio::test]
async fn an_id_token_with_an_empty_sub_is_refused() {
    bounded(async {
        let stack = Stack::start().await;
        stack.mock.set_user_sub("alice", "");
        let client = browser();
        let r = sign_in_as(&stack, &client, "/", "alice", "alice-password").await;
        assert_eq!(r.status(), 401);
        assert!(set_cookies(&r)
            .iter()
            .all(|c| !c.starts_with("_cognito_sidecar=")));
        assert_eq!(stack.upstream.count(), 0);
    })
    .await;
}
