//! `/oauth2/auth`: the answers ingress controllers act on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use support::*;

#[tokio::test]
async fn without_a_session_the_answer_is_401_and_never_a_redirect() {
    let stack = Stack::start().await;
    let r = navigate(&plain_client(), &stack.url("/oauth2/auth")).await;
    assert_eq!(
        r.status(),
        401,
        "sub-request architectures need 401, not a redirect loop"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(stack.upstream.count(), 0, "forward-auth never proxies");
}

#[tokio::test]
async fn a_session_gets_202_with_identity_and_auth_request_headers() {
    let stack = Stack::start().await;
    let client = signed_in(&stack).await;
    let before = stack.upstream.count();
    let r = client
        .get(stack.url("/oauth2/auth"))
        .header("x-user-email", "spoof@evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let h = r.headers();
    assert_eq!(h["x-user-email"], "alice@example.com");
    assert_eq!(h["x-user-sub"], "7d8ca528-4931-4254-9273-ea5ee853f271");
    assert_eq!(h["x-user-groups"], "admins,Engineering%2C Platform");
    assert_eq!(h["x-auth-request-email"], "alice@example.com");
    assert_eq!(h["x-auth-request-user"], "alice");
    assert_eq!(h["x-auth-request-groups"], "admins,Engineering%2C Platform");
    assert_eq!(stack.upstream.count(), before, "forward-auth never proxies");
}

#[tokio::test]
async fn query_rules_answer_403_when_not_met() {
    let stack = Stack::start().await;
    let client = signed_in(&stack).await;
    let status = |q: &'static str| {
        let client = client.clone();
        let url = stack.url(&format!("/oauth2/auth?{q}"));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("allowed_groups=admins").await, 202);
    assert_eq!(
        status("allowed_groups=ops,Engineering%2C%20Platform").await,
        403,
        "a comma separates groups in the rule"
    );
    assert_eq!(status("allowed_groups=ops").await, 403);
    assert_eq!(status("allowed_emails=alice@example.com").await, 202);
    assert_eq!(
        status("allowed_emails=ALICE@example.com").await,
        202,
        "emails compare lower-cased"
    );
    assert_eq!(status("allowed_emails=bob@example.com").await, 403);
    assert_eq!(
        status("allowed_groups=admins&allowed_emails=bob@example.com").await,
        403,
        "every rule must hold"
    );
}

#[tokio::test]
async fn envoy_mode_answers_200() {
    let stack = Stack::builder()
        .with(|s| s.forward_auth_status = Some("200".into()))
        .start()
        .await;
    let client = signed_in(&stack).await;
    assert_eq!(
        client
            .get(stack.url("/oauth2/auth"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn traefik_mode_redirects_navigations_and_returns_to_the_original_url() {
    let stack = Stack::builder()
        .with(|s| s.forward_auth_ingress = "traefik".into())
        .with(|s| s.trusted_proxies = support::words("127.0.0.1"))
        .start()
        .await;
    let client = browser();
    let host = stack.base.trim_start_matches("http://").to_string();
    let r = client
        .get(stack.url("/oauth2/auth"))
        .header("accept", "text/html")
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", &host)
        .header("x-forwarded-uri", "/orders/7?view=full")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), format!("{}/orders/7?view=full", stack.base));
    // An API call through Traefik still gets 401.
    let r = plain_client()
        .get(stack.url("/oauth2/auth"))
        .header("x-forwarded-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn forwarded_uri_from_an_untrusted_peer_is_ignored() {
    let stack = Stack::builder()
        .with(|s| s.forward_auth_redirect = Some("true".into()))
        .start()
        .await;
    let client = browser();
    let r = client
        .get(stack.url("/oauth2/auth"))
        .header("accept", "text/html")
        .header("x-forwarded-uri", "/secret-place")
        .header("x-original-url", "https://evil.example/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(location(&r), "/");
}

#[tokio::test]
async fn envoy_style_paths_under_the_auth_path_are_answered_too() {
    let stack = Stack::builder()
        .with(|s| s.forward_auth_status = Some("200".into()))
        .start()
        .await;
    let client = signed_in(&stack).await;
    let r = client
        .get(stack.url("/oauth2/auth/reports/q3?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-user-email"], "alice@example.com");
    assert_eq!(
        plain_client()
            .get(stack.url("/oauth2/auth/reports"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(stack.upstream.count(), 0);
}
