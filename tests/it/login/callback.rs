//! The callback's failure modes: forged or missing state and code, the IdP's
//! own errors, a replayed code.

use super::*;

#[tokio::test]
async fn forged_state_is_refused_with_400_and_no_token_request() {
    bounded(async {
        let stack = Stack::start().await;
        let victim = browser();
        let (victim_idp, _) = start_login(&stack, &victim, "/victim").await;
        let victim_state = query_map(&victim_idp)["state"].clone();
        let attacker = browser();
        let (attacker_idp, _) = start_login(&stack, &attacker, "/mine").await;
        let attacker_state = query_map(&attacker_idp)["state"].clone();
        for state in ["forged-state-value", victim_state.as_str()] {
            let r = callback_html(&stack, &attacker, &format!("code=abc&state={state}")).await;
            assert_eq!(r.status(), 400, "state {state}");
            assert_eq!(r.headers()["cache-control"], "no-store");
            assert!(set_cookies(&r).is_empty());
            let html = r.text().await.unwrap();
            assert!(html.contains("not for this browser"), "{html}");
            assert_eq!(action_href(&html), "/oauth2/start?rd=%2F");
        }
        // A JSON client gets the code.
        let r = plain_client()
            .get(stack.url(&format!("/oauth2/callback?code=abc&state={attacker_state}")))
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(r).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("state_mismatch"))
        );
        assert_eq!(stack.mock.counters().token_requests, 0);
    })
    .await;
}

#[tokio::test]
async fn callback_without_state_or_code_is_refused_with_400() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        let (idp, _) = start_login(&stack, &client, "/where?x=1").await;
        let state = query_map(&idp)["state"].clone();
        for query in [
            "code=abc".to_string(),
            format!("state={state}"),
            String::new(),
        ] {
            let r = client
                .get(stack.url(&format!("/oauth2/callback?{query}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.headers()["cache-control"], "no-store");
            let (status, body) = status_json(r).await;
            assert_eq!(status, 400, "{query}");
            assert_eq!(body["error"], "bad_callback", "{query}");
        }
        let r = callback_html(&stack, &client, &format!("state={state}")).await;
        assert_eq!(r.status(), 400);
        let html = r.text().await.unwrap();
        assert!(html.contains("missing its code or state"));
        assert_eq!(action_href(&html), "/oauth2/start?rd=%2Fwhere%3Fx%3D1");
        assert_eq!(stack.mock.counters().token_requests, 0);
    })
    .await;
}

#[tokio::test]
async fn idp_error_with_state_explains_and_retries_to_the_original_page() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        let (idp, _) = start_login(&stack, &client, "/reports/q3?year=2026").await;
        let state = query_map(&idp)["state"].clone();
        let query = format!(
        "error=access_denied&error_description=User+cancelled+%3Cb%3Elogin%3C%2Fb%3E&state={state}"
    );
        let r = callback_html(&stack, &client, &query).await;
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(html.contains("Sign-in cancelled"), "{html}");
        assert!(html.contains("access_denied"));
        assert!(
            !html.contains("User cancelled"),
            "the query's description is never shown"
        );
        assert_eq!(
            action_href(&html),
            "/oauth2/start?rd=%2Freports%2Fq3%3Fyear%3D2026"
        );
        // The retry link starts a login that returns to the original page.
        let r = navigate(&client, &stack.url(&action_href(&html))).await;
        assert_eq!(r.status(), 302);
        let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
        let r = client.get(location(&r)).send().await.unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(location(&r), "/reports/q3?year=2026");
        assert_eq!(stack.mock.counters().authorization_code_grants, 1);
    })
    .await;
}

#[tokio::test]
async fn idp_error_without_state_explains_and_retries_to_home() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        let _ = start_login(&stack, &client, "/somewhere").await;
        let r = callback_html(
            &stack,
            &client,
            "error=server_error&error_description=Something+broke",
        )
        .await;
        assert_eq!(r.status(), 502);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        assert!(html.contains("internal error"), "{html}");
        assert!(html.contains("server_error"));
        assert!(!html.contains("Something broke"));
        assert_eq!(action_href(&html), "/oauth2/start?rd=%2F");
        let r = plain_client()
            .get(stack.url("/oauth2/callback?error=access_denied"))
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(r).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("idp_error")));
        assert_eq!(stack.mock.counters().token_requests, 0);
    })
    .await;
}

#[tokio::test]
async fn replayed_code_is_refused_by_the_idp_and_makes_no_session() {
    bounded(async {
        let stack = Stack::start().await;
        let alice = browser();
        let (idp, login_cookie) = start_login(&stack, &alice, "/first").await;
        let r = submit_login(&alice, &idp, "alice", "alice-password").await;
        let callback = location(&r);
        let r = alice.get(&callback).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let before = stack.mock.counters();
        assert_eq!(before.authorization_code_grants, 1);

        // The same callback with its own (still valid) login cookie: the code is spent.
        let r = plain_client()
            .get(&callback)
            .header("cookie", &login_cookie)
            .send()
            .await
            .unwrap();
        assert!(set_cookies(&r).iter().all(|c| !c.starts_with(SESSION_EQ)));
        let (status, body) = status_json(r).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("code_refused"))
        );
        let after = stack.mock.counters();
        assert_eq!(after.token_requests, before.token_requests + 1);
        assert_eq!(after.authorization_code_grants, 2);

        // A fresh browser that started its own login, handed the used code.
        let other = browser();
        let (other_idp, _) = start_login(&stack, &other, "/other").await;
        let code = query_map(&callback)["code"].clone();
        let state = query_map(&other_idp)["state"].clone();
        let r = callback_html(&stack, &other, &format!("code={code}&state={state}")).await;
        assert_eq!(r.status(), 400);
        assert!(set_cookies(&r).iter().all(|c| !c.starts_with(SESSION_EQ)));
        let html = r.text().await.unwrap();
        assert!(html.contains("used already"), "{html}");
        assert_eq!(action_href(&html), "/oauth2/start?rd=%2Fother");
        assert_eq!(
            stack.mock.counters().token_requests,
            before.token_requests + 2
        );
        let r = other
            .get(stack.url("/oauth2/userinfo"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    })
    .await;
}
