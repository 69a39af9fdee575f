//! Cookie secret rotation: with `SIDECAR_COOKIE_SECRET=<new>,<old>` a cookie
//! sealed with the old secret still signs its holder in and comes back
//! re-sealed with the new one; once the old secret is dropped it opens nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use cognito_sidecar::config::Settings;
use cognito_sidecar::session::cookie::CookieCodec;
use support::*;

/// The secret that replaces [`COOKIE_SECRET`] (the stacks' default).
const NEW_SECRET: &str = "rotated-cookie-secret-fedcba9876543210-fedcba98";
const COOKIE_NAME: &str = "_cognito_sidecar";

/// A codec built the way the sidecar builds its own, from a loaded config.
fn codec_from_config(stack: &Stack, secrets: &str) -> CookieCodec {
    let settings = Settings {
        cookie_secret: support::secrets(secrets),
        ..test_settings()
    };
    let config = sidecar_config(&stack.base, &stack.mock, &stack.upstream, &settings);
    CookieCodec::new(&config.cookie)
}

/// Signs alice in; the sealed value of the session cookie the callback set.
async fn sign_in_cookie(stack: &Stack) -> String {
    let r = sign_in_as(stack, &browser(), "/", "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the callback redirects back");
    session_cookie_value(&set_cookies(&r)).expect("the callback sets the session cookie")
}

/// The non-empty session cookie value among `Set-Cookie` values.
fn session_cookie_value(set_cookies: &[String]) -> Option<String> {
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// The session id inside a cookie the running sidecar sealed.
fn session_id(stack: &Stack, sealed: &str) -> String {
    let opened = stack
        .sidecar
        .state()
        .flow
        .cookies()
        .open(COOKIE_NAME, sealed);
    let opened = opened.expect("the sidecar opens its own cookie");
    assert!(
        !opened.stale_key,
        "a fresh cookie is sealed with the first secret"
    );
    opened.value
}

/// An API request to the upstream carrying `sealed` as the session cookie.
async fn with_cookie(stack: &Stack, sealed: &str) -> reqwest::Response {
    plain_client()
        .get(stack.url("/app/data"))
        .header("cookie", format!("{COOKIE_NAME}={sealed}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_config_with_new_then_old_secret_opens_old_cookies_as_stale_and_reseals_fresh() {
    let stack = Stack::start().await;
    let old_cookie = sign_in_cookie(&stack).await;
    let id = session_id(&stack, &old_cookie);

    let rotated = codec_from_config(&stack, &format!("{NEW_SECRET},{COOKIE_SECRET}"));
    let opened = rotated
        .open(COOKIE_NAME, &old_cookie)
        .expect("the old secret still opens");
    assert_eq!(opened.value, id);
    assert!(opened.stale_key, "sealed with a retired secret");

    let resealed = rotated.seal(COOKIE_NAME, &id).unwrap();
    let reopened = rotated.open(COOKIE_NAME, &resealed).unwrap();
    assert_eq!(reopened.value, id);
    assert!(!reopened.stale_key, "sealed with the current secret");

    let new_only = codec_from_config(&stack, NEW_SECRET);
    assert!(new_only.open(COOKIE_NAME, &old_cookie).is_none());
    assert_eq!(new_only.open(COOKIE_NAME, &resealed).unwrap().value, id);
}

#[tokio::test]
async fn a_cookie_sealed_with_the_old_secret_passes_and_comes_back_resealed_with_the_new() {
    let stack = Stack::builder()
        .with(|s| s.cookie_secret = support::secrets(format!("{NEW_SECRET},{COOKIE_SECRET}")))
        .start()
        .await;
    let id = session_id(&stack, &sign_in_cookie(&stack).await);
    // The same live session, as a browser from before the rotation holds it.
    let old_cookie = test_codec(false).seal(COOKIE_NAME, &id).unwrap();
    let new_only = codec_from_config(&stack, NEW_SECRET);
    assert!(new_only.open(COOKIE_NAME, &old_cookie).is_none());

    let seen_before = stack.upstream.count();
    let r = with_cookie(&stack, &old_cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(stack.upstream.count(), seen_before + 1);
    assert_eq!(
        stack.upstream.last().header("x-user-username"),
        Some("alice")
    );
    let resealed = session_cookie_value(&set_cookies(&r)).expect("a re-sealed cookie");
    let opened = new_only
        .open(COOKIE_NAME, &resealed)
        .expect("sealed with the new secret");
    assert_eq!(opened.value, id);
    assert!(!opened.stale_key);
    let attributes = set_cookies(&r).join("\n");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(attributes.contains(attr), "{attributes} lacks {attr}");
    }

    // The re-sealed cookie works and is not re-sealed again.
    let r = with_cookie(&stack, &resealed).await;
    assert_eq!(r.status(), 200);
    assert_eq!(session_cookie_value(&set_cookies(&r)), None);
}

#[tokio::test]
async fn once_the_old_secret_is_dropped_its_cookies_are_not_signed_in() {
    let stack = Stack::builder()
        .with(|s| s.cookie_secret = support::secrets(NEW_SECRET))
        .start()
        .await;
    let id = session_id(&stack, &sign_in_cookie(&stack).await);
    let old_cookie = test_codec(false).seal(COOKIE_NAME, &id).unwrap();
    let fresh_cookie = codec_from_config(&stack, NEW_SECRET)
        .seal(COOKIE_NAME, &id)
        .unwrap();

    let seen_before = stack.upstream.count();
    let r = with_cookie(&stack, &old_cookie).await;
    assert_eq!(r.status(), 401, "an API client without a session gets 401");
    assert_eq!(session_cookie_value(&set_cookies(&r)), None);
    assert_eq!(
        stack.upstream.count(),
        seen_before,
        "nothing reached the upstream"
    );

    // Control: the same live session under the current secret is signed in.
    let r = with_cookie(&stack, &fresh_cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(stack.upstream.count(), seen_before + 1);
}
