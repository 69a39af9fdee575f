//! Sign-out: the session ends server-side, the cookie is cleared, the browser
//! goes through the IdP's logout and back to a sanitized `rd`; cross-site
//! sign-outs are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers
use crate::support;

use std::sync::Arc;

use reqwest::cookie::Jar;
use support::*;

const SESSION: &str = "_cognito_sidecar";

/// Alice, signed in with a readable jar; and her session cookie value.
async fn alice(stack: &Stack) -> (reqwest::Client, Arc<Jar>, String) {
    let (client, jar) = browser_with_jar();
    let r = sign_in_as(stack, &client, "/", "alice", "alice-password").await;
    assert_eq!(r.status(), 302);
    let value = session_value(stack, &jar).expect("a session cookie");
    (client, jar, value)
}

fn session_value(stack: &Stack, jar: &Jar) -> Option<String> {
    jar_cookies(jar, &stack.base)
        .into_iter()
        .find(|(n, _)| n == SESSION)
        .map(|(_, v)| v)
}

/// Status of `/oauth2/userinfo` asked with exactly this session cookie value.
async fn userinfo_status(stack: &Stack, value: &str) -> u16 {
    plain_client()
        .get(stack.url("/oauth2/userinfo"))
        .header("cookie", format!("{SESSION}={value}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Where the mock's authorize sends this browser: its form, or straight back.
async fn idp_answer_for_new_login(stack: &Stack, client: &reqwest::Client) -> String {
    let r = navigate(&plain_client(), &stack.url("/oauth2/start")).await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let to = location(&r);
    url::Url::parse(&stack.mock.base_url())
        .unwrap()
        .join(&to)
        .unwrap()
        .to_string()
}

/// Checks the sign-out answer `r` and follows it to the end: the IdP's logout,
/// `signed_out`, and the final redirect, whose target is returned.
async fn follow_sign_out(
    stack: &Stack,
    client: &reqwest::Client,
    jar: &Jar,
    old: &str,
    r: reqwest::Response,
) -> String {
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let to = url::Url::parse(&location(&r)).unwrap();
    let mock = url::Url::parse(&stack.mock.base_url()).unwrap();
    assert_eq!(to.origin(), mock.origin());
    assert_eq!(to.path(), "/logout");
    let q = query_map(to.as_str());
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q["client_id"], cognito_sidecar::mock::DEMO_CLIENT_ID);
    assert_eq!(q["logout_uri"], stack.url("/oauth2/signed_out"));
    let cookies = set_cookies(&r);
    let cleared = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION}=;")))
        .expect("the session cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("_cognito_sidecar_rd=")),
        "{cookies:?}"
    );
    assert_eq!(session_value(stack, jar), None, "the browser dropped it");
    assert_eq!(
        userinfo_status(stack, old).await,
        401,
        "deleted server-side"
    );

    let r = client.get(to).send().await.unwrap();
    assert_eq!(r.status(), 302, "the mock's logout");
    assert_eq!(location(&r), stack.url("/oauth2/signed_out"));
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302, "signed_out goes on to rd");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("_cognito_sidecar_rd=;") && c.contains("Max-Age=0")));
    location(&r)
}

/// After a full sign-out a navigation needs login, and the IdP asks for the password.
async fn assert_needs_login_again(stack: &Stack, client: &reqwest::Client) {
    let r = navigate(client, &stack.url("/after")).await;
    assert_eq!(r.status(), 302);
    assert!(location(&r).starts_with(&stack.mock.base_url()));
    let next = idp_answer_for_new_login(stack, client).await;
    let form = url::Url::parse(&next).unwrap();
    assert_eq!(form.path(), "/login", "the IdP shows its form: {next}");
}

#[tokio::test]
async fn sign_out_by_get_ends_everything_and_returns_to_rd() {
    bounded(async {
        let stack = Stack::start().await;
        let (client, jar, old) = alice(&stack).await;
        assert_eq!(userinfo_status(&stack, &old).await, 200);
        let sso = idp_answer_for_new_login(&stack, &client).await;
        assert!(
            sso.starts_with(&stack.url("/oauth2/callback?")),
            "control: the IdP's hosted session skips the form: {sso}"
        );
        let r = client
            .get(stack.url("/oauth2/sign_out?rd=%2Fafter%2Fhere%3Fx%3D1"))
            .send()
            .await
            .unwrap();
        let end = follow_sign_out(&stack, &client, &jar, &old, r).await;
        assert_eq!(end, "/after/here?x=1");
        assert_eq!(stack.mock.counters().logouts, 1);
        assert_needs_login_again(&stack, &client).await;
    })
    .await;
}

#[tokio::test]
async fn sign_out_by_same_site_post_ends_everything_and_returns_to_rd() {
    bounded(async {
        let stack = Stack::start().await;
        for origin in [None, Some(stack.base.clone())] {
            let (client, jar, old) = alice(&stack).await;
            let mut post = client
                .post(stack.url("/oauth2/sign_out?rd=%2Fbye"))
                .header("accept", "text/html")
                .header("sec-fetch-site", "same-origin");
            if let Some(origin) = &origin {
                post = post.header("origin", origin);
            }
            let r = post.send().await.unwrap();
            let end = follow_sign_out(&stack, &client, &jar, &old, r).await;
            assert_eq!(end, "/bye", "origin {origin:?}");
            assert_needs_login_again(&stack, &client).await;
        }
        assert_eq!(stack.mock.counters().logouts, 2);
    })
    .await;
}

#[tokio::test]
async fn cross_site_sign_out_is_refused_and_the_session_survives() {
    bounded(async {
        let stack = Stack::start().await;
        let (client, jar, old) = alice(&stack).await;
        let attempts = [
            client
                .get(stack.url("/oauth2/sign_out"))
                .header("accept", "text/html")
                .header("sec-fetch-site", "cross-site"),
            // A sibling subdomain (without a shared cookie-domain) is another site too.
            client
                .get(stack.url("/oauth2/sign_out"))
                .header("accept", "text/html")
                .header("sec-fetch-site", "same-site"),
            client
                .post(stack.url("/oauth2/sign_out?rd=%2F"))
                .header("accept", "text/html")
                .header("origin", "https://evil.example"),
            client
                .post(stack.url("/oauth2/sign_out"))
                .header("origin", "null"),
            client
                .post(stack.url("/oauth2/sign_out"))
                .header("origin", stack.base.replace("127.0.0.1", "localhost")),
        ];
        for (i, attempt) in attempts.into_iter().enumerate() {
            let r = attempt.send().await.unwrap();
            assert_eq!(r.status(), 403, "attempt {i}");
            assert_eq!(r.headers()["cache-control"], "no-store");
            assert!(r.headers().get("location").is_none());
            assert!(set_cookies(&r).is_empty(), "attempt {i} touched cookies");
            let body = r.text().await.unwrap();
            assert!(
                body.contains("Sign-out must be started from this site."),
                "{body}"
            );
        }
        assert_eq!(session_value(&stack, &jar).as_deref(), Some(old.as_str()));
        assert_eq!(userinfo_status(&stack, &old).await, 200);
        let r = navigate(&client, &stack.url("/still/here")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "upstream:/still/here");
        assert_eq!(stack.mock.counters().logouts, 0);
    })
    .await;
}

#[tokio::test]
async fn sign_out_to_another_site_ends_at_home() {
    bounded(async {
        let stack = Stack::start().await;
        for rd in [
            "https%3A%2F%2Fevil.example%2F",
            "%2F%2Fevil.example%2Fx",
            "%2F%5Cevil.example",
        ] {
            let (client, jar, old) = alice(&stack).await;
            let r = client
                .get(stack.url(&format!("/oauth2/sign_out?rd={rd}")))
                .send()
                .await
                .unwrap();
            let end = follow_sign_out(&stack, &client, &jar, &old, r).await;
            assert_eq!(end, "/", "rd {rd}");
        }
    })
    .await;
}
