//! What a request without a session gets (401 JSON, 401 HTML with a link, or
//! straight to the IdP with PKCE), and the identity a sign-in yields.

use super::*;

#[tokio::test]
async fn deep_link_round_trip_lands_on_the_exact_page_with_identity_headers() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        let r = sign_in_as(
            &stack,
            &client,
            "/reports/2026?year=2026&q=a%20b",
            "alice",
            "alice-password",
        )
        .await;
        assert_eq!(r.status(), 302);
        assert_eq!(location(&r), "/reports/2026?year=2026&q=a%20b");
        let r = navigate(&client, &stack.url("/reports/2026?year=2026&q=a%20b")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.text().await.unwrap(),
            "upstream:/reports/2026?year=2026&q=a%20b"
        );
        let seen = stack.upstream.last();
        assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));
        assert_eq!(seen.header("x-user-username"), Some("alice"));
        assert_eq!(
            seen.header("x-user-sub"),
            Some("7d8ca528-4931-4254-9273-ea5ee853f271")
        );
        assert_eq!(
            seen.header("x-user-name"),
            Some("Zo%C3%AB %C3%85ngstr%C3%B6m-%C5%81ukasiewicz")
        );
        assert_eq!(
            seen.header("x-user-groups"),
            Some("admins,Engineering%2C Platform")
        );
    })
    .await;
}

#[tokio::test]
async fn unverified_email_is_not_forwarded_but_the_other_identity_headers_are() {
    bounded(async {
        let stack = Stack::start().await;
        let bob = cognito_sidecar::mock::MockConfig::demo()
            .users
            .into_iter()
            .find(|u| u.username == "bob")
            .unwrap();
        assert!(!bob.email_verified && bob.email.is_some());
        let client = browser();
        let r = sign_in_as(&stack, &client, "/bob/page", "bob", "bob-password").await;
        assert_eq!(location(&r), "/bob/page");
        let r = navigate(&client, &stack.url("/bob/page")).await;
        assert_eq!(r.status(), 200);
        let seen = stack.upstream.last();
        assert_eq!(seen.path, "/bob/page");
        assert_eq!(seen.header("x-user-email"), None, "unverified email leaked");
        assert_eq!(seen.header("x-user-username"), Some("bob"));
        assert_eq!(seen.header("x-user-sub"), Some(bob.sub.as_str()));
        assert_eq!(seen.header("x-user-name"), Some("Bob Builder"));
    })
    .await;
}

#[tokio::test]
async fn unauthenticated_api_request_gets_401_json_without_caching() {
    bounded(async {
        let stack = Stack::start().await;
        let r = plain_client()
            .get(stack.url("/api/items?x=1"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["www-authenticate"], "Cookie");
        assert!(r.headers().get("location").is_none());
        assert!(
            set_cookies(&r).is_empty(),
            "no login starts for an API call"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(stack.upstream.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn unauthenticated_form_post_gets_401_html_with_a_sign_in_link() {
    bounded(async {
        let stack = Stack::start().await;
        let r = plain_client()
            .post(stack.url("/forms/submit?step=2"))
            .header("accept", "text/html,application/xhtml+xml")
            .form(&[("field", "value")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.headers().get("location").is_none());
        let html = r.text().await.unwrap();
        assert!(
            html.contains(r#"href="/oauth2/start?rd=%2Fforms%2Fsubmit%3Fstep%3D2""#),
            "sign-in link back to the page: {html}"
        );
        assert!(html.contains("Sign in"));
        assert_eq!(stack.upstream.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn unauthenticated_navigation_redirects_straight_to_the_idp_with_pkce() {
    bounded(async {
        let stack = Stack::start().await;
        let r = navigate(&plain_client(), &stack.url("/deep/page?q=1")).await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let to = url::Url::parse(&location(&r)).unwrap();
        let mock = url::Url::parse(&stack.mock.base_url()).unwrap();
        assert_eq!(to.origin(), mock.origin());
        assert_eq!(to.path(), "/oauth2/authorize");
        let q = query_map(to.as_str());
        let mut keys: Vec<&str> = q.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "client_id",
                "code_challenge",
                "code_challenge_method",
                "nonce",
                "redirect_uri",
                "response_type",
                "scope",
                "state"
            ]
        );
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], cognito_sidecar::mock::DEMO_CLIENT_ID);
        assert_eq!(q["redirect_uri"], stack.url("/oauth2/callback"));
        assert_eq!(q["scope"], "openid email profile");
        assert_eq!(q["code_challenge_method"], "S256");
        let b64url = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        assert_eq!(q["code_challenge"].len(), 43, "base64url(SHA-256)");
        assert!(b64url(&q["code_challenge"]));
        for key in ["state", "nonce"] {
            assert!(q[key].len() >= 32 && b64url(&q[key]), "{key}: {}", q[key]);
        }
        assert_ne!(q["state"], q["nonce"]);
        let cookies = set_cookies(&r);
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let (name, value) = cookie_pair(&cookies[0]);
        assert!(name.starts_with(LOGIN_PREFIX), "{name}");
        assert!(!value.contains(&q["state"]), "the login cookie is sealed");
        // A second navigation starts a different login.
        let again = navigate(&plain_client(), &stack.url("/deep/page?q=1")).await;
        let q2 = query_map(&location(&again));
        assert_ne!(q["state"], q2["state"]);
        assert_ne!(q["code_challenge"], q2["code_challenge"]);
    })
    .await;
}

#[tokio::test]
async fn tampered_garbage_and_misnamed_session_cookies_count_as_signed_out() {
    bounded(async {
        let stack = Stack::start().await;
        let (_client, _jar, value) = jar_sign_in(&stack, "/", "alice", "alice-password").await;
        let cookie = |v: &str| format!("{SESSION}={v}");
        let (status, _) = status_json(api_with_cookie(&stack, "/api", &cookie(&value)).await).await;
        assert_eq!(status, 200, "control: the real cookie works");

        let mut tampered = value.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        // The same session id, sealed with the right secret, but for another cookie name.
        let codec = test_codec(false);
        let id = codec.open(SESSION, &value).expect("opens").value;
        let resealed = codec.seal(SESSION, &id).unwrap();
        let (status, _) =
            status_json(api_with_cookie(&stack, "/api", &cookie(&resealed)).await).await;
        assert_eq!(status, 200, "control: a faithful re-seal works");
        let misnamed = codec.seal("_cognito_sidecar_rd", &id).unwrap();
        let forged_id = codec.seal(SESSION, &"A".repeat(43)).unwrap();

        let upstream_before = stack.upstream.count();
        for (what, v) in [
            ("tampered", tampered.as_str()),
            ("garbage", "bm90LWEtc2VhbGVkLXZhbHVl"),
            ("empty", ""),
            ("sealed for another name", misnamed.as_str()),
            ("unknown session id", forged_id.as_str()),
        ] {
            let (status, body) =
                status_json(api_with_cookie(&stack, "/api", &cookie(v)).await).await;
            assert_eq!(status, 401, "{what}");
            assert_eq!(body["error"], "unauthenticated", "{what}");
        }
        assert_eq!(stack.upstream.count(), upstream_before);
    })
    .await;
}

#[tokio::test]
async fn expired_session_counts_as_signed_out() {
    bounded(async {
        let stack = Stack::builder()
            .with(|s| s.session_ttl = "10s".into())
            .start()
            .await;
        let (_client, _jar, value) = jar_sign_in(&stack, "/", "alice", "alice-password").await;
        let cookie = format!("{SESSION}={value}");
        let (status, _) = status_json(api_with_cookie(&stack, "/api", &cookie).await).await;
        assert_eq!(status, 200, "control: fresh session works");
        stack.advance(5);
        let (status, _) = status_json(api_with_cookie(&stack, "/api", &cookie).await).await;
        assert_eq!(status, 200, "control: alive within its ttl");
        stack.advance(6);
        let (status, body) = status_json(api_with_cookie(&stack, "/api", &cookie).await).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "unauthenticated");
        let r = plain_client()
            .get(stack.url("/"))
            .header("accept", "text/html")
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "a navigation must sign in again");
        assert!(location(&r).starts_with(&stack.mock.base_url()));
    })
    .await;
}
