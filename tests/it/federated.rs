//! Federated sign-in through Cognito's hosted login: the `identity-provider`
//! hint sends users straight to their IdP (simulated by the mock), and the
//! federated user's Cognito identity reaches the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use support::*;

#[tokio::test]
async fn the_identity_provider_hint_signs_in_a_federated_user() {
    let stack = Stack::builder()
        .with(|s| s.provider.identity_provider = Some("Google".into()))
        .start()
        .await;
    let client = browser();
    let r = navigate(&client, &stack.url("/team?x=1")).await;
    let to_idp = location(&r);
    assert!(to_idp.contains("identity_provider=Google"), "{to_idp}");
    let page = client.get(&to_idp).send().await.unwrap();
    let page = client
        .get(location(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Sign in with Google"),
        "the mock stands in for Google's page"
    );

    let r = submit_login(&client, &to_idp, "alice", "alice-password").await;
    assert_eq!(
        r.status(),
        200,
        "a pool user cannot sign in at the federated IdP"
    );

    let r = submit_login(&client, &to_idp, "Google_109876543210", "carol-password").await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(location(&r), "/team?x=1");
    let r = client.get(stack.url("/team?x=1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = stack.upstream.last();
    assert_eq!(seen.header("x-user-username"), Some("Google_109876543210"));
    assert_eq!(seen.header("x-user-email"), Some("carol@gmail.example"));
    assert_eq!(seen.header("x-user-name"), Some("Carol Federated"));
    assert_eq!(
        seen.header("x-user-groups"),
        Some("us-east-1_DemoPool1_Google")
    );
}

#[tokio::test]
async fn an_unknown_identity_provider_ends_on_a_clear_error_page() {
    let stack = Stack::builder()
        .with(|s| s.provider.identity_provider = Some("Okta".into()))
        .start()
        .await;
    let client = browser();
    let r = navigate(&client, &stack.url("/x")).await;
    let r = client.get(location(&r)).send().await.unwrap();
    let back = location(&r);
    assert!(
        back.starts_with(&stack.url("/oauth2/callback")) && back.contains("error=invalid_request"),
        "{back}"
    );
    let r = navigate(&client, &back).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("cognito-sidecar") && page.contains("/oauth2/start?rd=%2Fx"),
        "a page with a way to try again"
    );
}
