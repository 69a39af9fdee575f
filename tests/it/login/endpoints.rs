//! The sidecar's own answers: userinfo, and `no-store` on every one.

use super::*;

#[tokio::test]
async fn userinfo_returns_the_identity_when_signed_in_and_401_otherwise() {
    bounded(async {
        let stack = Stack::start().await;
        let alice = cognito_sidecar::mock::MockConfig::demo().users[0].clone();
        assert_eq!(alice.username, "alice");
        let client = signed_in(&stack).await;
        let r = client
            .get(stack.url("/oauth2/userinfo"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["content-type"], "application/json");
        let me: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            me,
            serde_json::json!({
                "sub": alice.sub,
                "email": alice.email,
                "name": alice.name,
                "username": alice.username,
                "groups": alice.groups,
            })
        );
        let r = plain_client()
            .get(stack.url("/oauth2/userinfo"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        let (status, body) = status_json(r).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthenticated"))
        );
        assert_eq!(
            stack.upstream.count(),
            0,
            "userinfo never reaches the upstream"
        );
    })
    .await;
}

#[tokio::test]
async fn every_response_of_the_sidecar_itself_is_no_store() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        let mut answers: Vec<(String, reqwest::Response)> = Vec::new();
        let r = navigate(&client, &stack.url("/page")).await;
        let idp = location(&r);
        answers.push(("navigation to the IdP".into(), r));
        let r = navigate(&client, &stack.url("/oauth2/start?rd=%2Fpage")).await;
        answers.push(("start".into(), r));
        let r = submit_login(&client, &idp, "alice", "alice-password").await;
        let callback = location(&r);
        answers.push((
            "callback".into(),
            client.get(&callback).send().await.unwrap(),
        ));
        answers.push((
            "replayed callback".into(),
            client.get(&callback).send().await.unwrap(),
        ));
        for path in [
            "/oauth2/userinfo",
            "/ping",
            "/ready",
            "/oauth2/callback?error=access_denied",
            "/oauth2/callback",
            "/oauth2/nope",
            "/oauth2/signed_out",
        ] {
            answers.push((
                path.into(),
                client.get(stack.url(path)).send().await.unwrap(),
            ));
        }
        answers.push((
            "POST start".into(),
            client
                .post(stack.url("/oauth2/start"))
                .send()
                .await
                .unwrap(),
        ));
        answers.push((
            "userinfo without session".into(),
            plain_client()
                .get(stack.url("/oauth2/userinfo"))
                .send()
                .await
                .unwrap(),
        ));
        answers.push((
            "cross-site sign-out".into(),
            client
                .post(stack.url("/oauth2/sign_out"))
                .header("origin", "https://evil.example")
                .send()
                .await
                .unwrap(),
        ));
        answers.push((
            "sign-out".into(),
            client
                .get(stack.url("/oauth2/sign_out"))
                .send()
                .await
                .unwrap(),
        ));
        let statuses: Vec<u16> = answers.iter().map(|(_, r)| r.status().as_u16()).collect();
        assert_eq!(
            statuses,
            [302, 302, 302, 400, 200, 200, 200, 403, 400, 404, 200, 405, 401, 403, 302]
        );
        for (what, r) in &answers {
            assert_eq!(
                r.headers()
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap()),
                Some("no-store"),
                "{what}"
            );
        }
    })
    .await;
}
