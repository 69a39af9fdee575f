//! Session refresh against the mock's short-lived tokens: exact grant counts,
//! group changes reaching the upstream, dead grants ending the session, and a
//! failing IdP leaving sessions working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use cognito_sidecar::mock::{Fault, MockConfig, MockEndpoint, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use cognito_sidecar::session::SessionId;
use support::*;

/// ID tokens living 4 s are refreshed in their last second.
fn short_lived() -> MockConfig {
    MockConfig {
        id_token_ttl: Duration::from_secs(4),
        access_token_ttl: Duration::from_secs(4),
        ..MockConfig::demo()
    }
}

async fn groups_seen(stack: &Stack, client: &reqwest::Client) -> Option<String> {
    let r = client.get(stack.url("/whoami")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the session keeps working");
    stack
        .upstream
        .last()
        .header("x-user-groups")
        .map(str::to_string)
}

/// Polls until the upstream sees `want` as the groups, for at most `limit`.
async fn wait_for_groups(
    stack: &Stack,
    client: &reqwest::Client,
    want: Option<&str>,
    limit: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if groups_seen(stack, client).await.as_deref() == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_group_removed_at_the_idp_disappears_after_one_refresh() {
    let stack = Stack::builder().mock(short_lived()).start().await;
    let client = signed_in(&stack).await;
    assert_eq!(
        groups_seen(&stack, &client).await.as_deref(),
        Some("admins,Engineering%2C Platform")
    );
    assert_eq!(
        stack.mock.counters().refresh_grants,
        0,
        "nothing refreshed while the token is fresh"
    );

    stack.mock.set_user_groups("alice", vec!["staff".into()]);
    stack.advance(3);
    assert!(wait_for_groups(&stack, &client, Some("staff"), Duration::from_secs(3)).await);
    assert_eq!(
        stack.mock.counters().refresh_grants,
        1,
        "one refresh grant for many requests"
    );

    stack.mock.set_user_groups("alice", vec![]);
    stack.advance(3);
    assert!(
        wait_for_groups(&stack, &client, Some(""), Duration::from_secs(3)).await,
        "no groups: an empty header"
    );
    assert_eq!(stack.mock.counters().refresh_grants, 2);
}

/// Hours past an hour-long ID token (the sidecar's and the IdP's clocks moved
/// together): the next request refreshes it, and the new tokens, dated by the
/// moved IdP clock, verify against the sidecar's moved clock.
#[tokio::test]
async fn a_session_hours_past_its_id_tokens_expiry_refreshes_by_the_moved_clock() {
    let hour_long = MockConfig {
        id_token_ttl: Duration::from_secs(3600),
        access_token_ttl: Duration::from_secs(3600),
        ..MockConfig::demo()
    };
    let stack = Stack::builder().mock(hour_long).start().await;
    let client = signed_in(&stack).await;
    stack.mock.set_user_groups("alice", vec!["staff".into()]);
    stack.advance(3 * 3600);
    assert!(wait_for_groups(&stack, &client, Some("staff"), Duration::from_secs(3)).await);
    assert_eq!(stack.mock.counters().refresh_grants, 1);
}

#[tokio::test]
async fn concurrent_requests_trigger_a_single_refresh() {
    let stack = Stack::builder().mock(short_lived()).start().await;
    let client = signed_in(&stack).await;
    stack.advance(3);
    let requests = (0..20).map(|_| client.get(stack.url("/x")).send());
    for r in futures_util::future::join_all(requests).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.mock.counters().refresh_grants, 1);
}

#[tokio::test]
async fn an_idp_failing_at_refresh_keeps_the_session_on_its_claims() {
    let stack = Stack::builder().mock(short_lived()).start().await;
    let client = signed_in(&stack).await;
    stack
        .mock
        .set_fault(MockEndpoint::Token, Some(Fault::Status500));
    stack.advance(5);
    for _ in 0..5 {
        assert_eq!(
            groups_seen(&stack, &client).await.as_deref(),
            Some("admins,Engineering%2C Platform")
        );
    }
    assert_eq!(
        stack.mock.counters().refresh_grants,
        0,
        "the 500 was answered before counting a grant"
    );
    assert!(
        stack.mock.counters().token_requests >= 2,
        "a refresh was attempted"
    );
}

/// The session's refresh token, read through the sidecar's own cookie codec.
async fn refresh_token_of(stack: &Stack, cookie_value: &str) -> String {
    let state = stack.sidecar.state();
    let flow = &state.flow;
    let name = flow.cookies().name("");
    let opened = flow
        .cookies()
        .open(&name, cookie_value)
        .expect("the cookie opens");
    let id = SessionId::parse(&opened.value).unwrap();
    let session = state
        .sessions
        .get(&id)
        .await
        .expect("the store answers")
        .expect("a live session");
    session
        .tokens
        .refresh_token
        .as_ref()
        .unwrap()
        .expose()
        .clone()
}

/// Signs alice in on `client`, then revokes her refresh token at the mock (as
/// Cognito's global sign-out does).
async fn revoke_after_sign_in(stack: &Stack, client: &reqwest::Client) {
    let r = sign_in_as(stack, client, "/", "alice", "alice-password").await;
    let value = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("_cognito_sidecar="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let refresh_token = refresh_token_of(stack, &value).await;
    let revoked = plain_client()
        .post(format!("{}/oauth2/revoke", stack.mock.base_url()))
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&[("token", refresh_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
}

/// Makes one request (which starts a due refresh), then polls for at most 3 s
/// until the answer is no longer 200; returns the last status.
async fn status_once_refreshed(stack: &Stack, client: &reqwest::Client) -> u16 {
    let _ = client.get(stack.url("/x")).send().await.unwrap(); // starts the refresh
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut status = 200;
    while tokio::time::Instant::now() < deadline && status == 200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = client
            .get(stack.url("/x"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    status
}

/// Cognito lets ID tokens live up to a day; `session-refresh-interval` still
/// refreshes sooner, so a refresh token revoked by a global sign-out ends the
/// session within the interval. Control: without the interval passing, the
/// session stays.
#[tokio::test]
async fn a_revoked_refresh_token_ends_the_session_within_the_refresh_interval() {
    let day_long = MockConfig {
        id_token_ttl: Duration::from_secs(86_400),
        access_token_ttl: Duration::from_secs(86_400),
        ..MockConfig::demo()
    };
    let stack = Stack::builder()
        .mock(day_long)
        .with(|s| s.session_refresh_interval = "2s".into())
        .start()
        .await;
    let client = browser();
    revoke_after_sign_in(&stack, &client).await;
    let r = client.get(stack.url("/x")).send().await.unwrap();
    assert_eq!(r.status(), 200, "within the interval: no refresh yet");
    assert_eq!(stack.mock.counters().refresh_grants, 0);

    stack.advance(2);
    assert_eq!(
        status_once_refreshed(&stack, &client).await,
        401,
        "refreshed once the interval passed: invalid_grant ends the session"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_ends_the_session_and_the_next_navigation_signs_in_again() {
    let stack = Stack::builder().mock(short_lived()).start().await;
    let client = browser();
    revoke_after_sign_in(&stack, &client).await;

    stack.advance(3);
    assert_eq!(
        status_once_refreshed(&stack, &client).await,
        401,
        "invalid_grant ends the session"
    );
    let r = navigate(&client, &stack.url("/x")).await;
    assert_eq!(r.status(), 302);
    assert!(
        location(&r).starts_with(&stack.mock.base_url()),
        "back through sign-in"
    );
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token() {
    let stack = Stack::start().await;
    let client = signed_in(&stack).await;
    let r = client
        .get(stack.url("/oauth2/sign_out"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while stack.mock.counters().revocations == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stack.mock.counters().revocations, 1);
}

/// OIDC Core 12.2: a refresh answer for another `sub` is not this user. The
/// session ends (401) instead of taking on the other identity.
#[tokio::test]
async fn a_refresh_answer_for_another_subject_ends_the_session() {
    let stack = Stack::builder().mock(short_lived()).start().await;
    let client = signed_in(&stack).await;
    let r = client.get(stack.url("/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let alice_sub = stack
        .upstream
        .last()
        .header("x-user-sub")
        .map(str::to_string);
    stack.mock.set_user_sub("alice", "someone-else");
    stack.advance(3);
    let before = stack.upstream.count();
    let status = status_once_refreshed(&stack, &client).await;
    assert_eq!(status, 401, "the session ended");
    assert_eq!(stack.mock.counters().refresh_grants, 1);
    let seen: Vec<Option<String>> = stack.upstream.seen.lock().unwrap()[before..]
        .iter()
        .map(|s| s.header("x-user-sub").map(str::to_string))
        .collect();
    assert!(
        seen.iter().all(|s| *s == alice_sub),
        "the upstream never saw the other subject: {seen:?}"
    );
}
