//! The sign-in flow end to end: what an unauthenticated request gets, the
//! callback's failure modes, cookie hygiene, and the identity it yields.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers
use crate::support;

use support::*;

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

const SESSION: &str = "_cognito_sidecar";
const LOGIN_PREFIX: &str = "_cognito_sidecar_login_";

/// The value of the session cookie a signed-in browser holds.
fn session_value(stack: &Stack, jar: &reqwest::cookie::Jar) -> String {
    jar_cookies(jar, &stack.base)
        .into_iter()
        .find(|(n, _)| n == SESSION)
        .map(|(_, v)| v)
        .expect("a session cookie in the jar")
}

/// An API request (no `Accept: text/html`) carrying exactly this Cookie header.
async fn api_with_cookie(stack: &Stack, path: &str, cookie: &str) -> reqwest::Response {
    plain_client()
        .get(stack.url(path))
        .header("accept", "application/json")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Status and JSON body of an answer (`null` when the body is not JSON).
async fn status_json(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// The `name=value` of a `Set-Cookie` value.
fn cookie_pair(set_cookie: &str) -> (String, String) {
    let first = set_cookie.split(';').next().unwrap();
    let (n, v) = first.split_once('=').unwrap();
    (n.trim().to_string(), v.trim().to_string())
}

/// Signs `username` in with a jar browser; returns it, its jar and the session cookie value.
async fn jar_sign_in(
    stack: &Stack,
    path: &str,
    username: &str,
    password: &str,
) -> (
    reqwest::Client,
    std::sync::Arc<reqwest::cookie::Jar>,
    String,
) {
    let (client, jar) = browser_with_jar();
    let r = sign_in_as(stack, &client, path, username, password).await;
    assert_eq!(r.status(), 302);
    let value = session_value(stack, &jar);
    (client, jar, value)
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

/// An HTML callback request from `client`.
async fn callback_html(stack: &Stack, client: &reqwest::Client, query: &str) -> reqwest::Response {
    navigate(client, &stack.url(&format!("/oauth2/callback?{query}"))).await
}

/// The `href` of the page's action link.
fn action_href(html: &str) -> String {
    let at = html.find("id=\"action\"").expect("an action link");
    let rest = &html[at..];
    let start = rest.find("href=\"").expect("an href") + 6;
    let end = rest[start..].find('"').unwrap();
    html_escape::decode_html_entities(&rest[start..start + end]).into_owned()
}

/// A navigation that starts a login; returns the IdP URL and the login cookie pair.
async fn start_login(stack: &Stack, client: &reqwest::Client, path: &str) -> (String, String) {
    let r = navigate(client, &stack.url(path)).await;
    assert_eq!(r.status(), 302);
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with(LOGIN_PREFIX))
        .expect("a login cookie");
    let (n, v) = cookie_pair(&cookie);
    (location(&r), format!("{n}={v}"))
}

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

const SESSION_EQ: &str = "_cognito_sidecar=";

#[tokio::test]
async fn wrong_password_shows_the_form_again_and_makes_no_session() {
    bounded(async {
        let stack = Stack::start().await;
        let client = browser();
        let (idp, _) = start_login(&stack, &client, "/secret").await;
        let form = open_login_form(&client, &idp).await;
        let r = post_login_form(&client, &form, "alice", "not-her-password").await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("location").is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("Incorrect username or password."));
        assert!(html.contains("name=\"password\""), "the form again");
        let counters = stack.mock.counters();
        assert_eq!((counters.logins, counters.token_requests), (0, 0));
        let r = client
            .get(stack.url("/oauth2/userinfo"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = navigate(&client, &stack.url("/secret")).await;
        assert_eq!(r.status(), 302);
        assert!(location(&r).starts_with(&stack.mock.base_url()));
        assert_eq!(stack.upstream.count(), 0);
        // The form shown again still works with the right password.
        let retry = LoginForm {
            post: form.post.clone(),
            fields: form_fields(&html),
        };
        let r = post_login_form(&client, &retry, "alice", "alice-password").await;
        assert_eq!(r.status(), 302);
        let r = client.get(location(&r)).send().await.unwrap();
        assert_eq!((r.status().as_u16(), location(&r)), (302, "/secret".into()));
    })
    .await;
}

/// The session cookie value a callback response sets.
fn new_session_value(r: &reqwest::Response) -> String {
    let set = set_cookies(r)
        .into_iter()
        .find(|c| c.starts_with(SESSION_EQ))
        .expect("the callback sets a session cookie");
    cookie_pair(&set).1
}

#[tokio::test]
async fn cookies_planted_before_login_are_replaced_with_a_fresh_session() {
    bounded(async {
        let stack = Stack::start().await;
        let codec = test_codec(false);
        let (_bob, _, bob_value) = jar_sign_in(&stack, "/", "bob", "bob-password").await;
        let bob_id = codec.open(SESSION, &bob_value).unwrap().value;
        let sealed_looking = codec.seal(SESSION, &"F".repeat(43)).unwrap();
        for (planted, start) in [
            (sealed_looking.as_str(), "/fixated"),
            (bob_value.as_str(), "/oauth2/start?rd=%2Ffixated"),
        ] {
            let (client, jar) = browser_with_jar();
            jar.add_cookie_str(
                &format!("{SESSION}={planted}; Path=/"),
                &stack.base.parse().unwrap(),
            );
            let r = sign_in_as(&stack, &client, start, "alice", "alice-password").await;
            assert_eq!(
                (r.status().as_u16(), location(&r)),
                (302, "/fixated".into())
            );
            let fresh = new_session_value(&r);
            assert_ne!(fresh, planted);
            let id = codec.open(SESSION, &fresh).unwrap().value;
            assert_ne!(id, bob_id);
            assert_ne!(id, "F".repeat(43));
            assert_eq!(session_value(&stack, &jar), fresh);
            let me: serde_json::Value = client
                .get(stack.url("/oauth2/userinfo"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(me["username"], "alice");
        }
        // Bob's own session is untouched by the other browser's login.
        let (status, body) = status_json(
            api_with_cookie(
                &stack,
                "/oauth2/userinfo",
                &format!("{SESSION}={bob_value}"),
            )
            .await,
        )
        .await;
        assert_eq!((status, body["username"].as_str()), (200, Some("bob")));
    })
    .await;
}

#[tokio::test]
async fn two_tabs_logging_in_at_once_each_land_on_their_own_page() {
    bounded(async {
        let stack = Stack::start().await;
        let (client, jar) = browser_with_jar();
        let (idp_one, _) = start_login(&stack, &client, "/tab/one?a=1").await;
        let (idp_two, _) = start_login(&stack, &client, "/tab/two?b=2").await;
        let pending = jar_cookies(&jar, &stack.base)
            .into_iter()
            .filter(|(n, _)| n.starts_with(LOGIN_PREFIX))
            .count();
        assert_eq!(pending, 2, "each tab has its own login cookie");
        let form_one = open_login_form(&client, &idp_one).await;
        let form_two = open_login_form(&client, &idp_two).await;
        let back_two = post_login_form(&client, &form_two, "alice", "alice-password").await;
        let back_one = post_login_form(&client, &form_one, "alice", "alice-password").await;
        let (back_one, back_two) = (location(&back_one), location(&back_two));
        assert_eq!(query_map(&back_one)["state"], query_map(&idp_one)["state"]);
        assert_eq!(query_map(&back_two)["state"], query_map(&idp_two)["state"]);
        let r = client.get(&back_two).send().await.unwrap();
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (302, "/tab/two?b=2".into())
        );
        let r = client.get(&back_one).send().await.unwrap();
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (302, "/tab/one?a=1".into())
        );
        let left = jar_cookies(&jar, &stack.base)
            .into_iter()
            .filter(|(n, _)| n.starts_with(LOGIN_PREFIX))
            .count();
        assert_eq!(left, 0, "both login cookies are cleared");
        let r = navigate(&client, &stack.url("/tab/one?a=1")).await;
        assert_eq!(r.text().await.unwrap(), "upstream:/tab/one?a=1");
    })
    .await;
}

#[tokio::test]
async fn pending_logins_stay_bounded_evicting_the_oldest_and_the_newest_complete() {
    bounded(async {
        let stack = Stack::start().await;
        let (client, jar) = browser_with_jar();
        let pending_names = || -> Vec<String> {
            let mut names: Vec<String> = jar_cookies(&jar, &stack.base)
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| n.starts_with(LOGIN_PREFIX))
                .collect();
            names.sort();
            names
        };
        let mut started: Vec<(String, String)> = Vec::new();
        for i in 1..=12 {
            let (idp, cookie) = start_login(&stack, &client, &format!("/pending/{i}")).await;
            started.push((idp, cookie_pair(&cookie).0));
            assert_eq!(pending_names().len(), i.min(5), "after {i} logins");
        }
        let mut newest: Vec<String> = started[7..].iter().map(|(_, n)| n.clone()).collect();
        newest.sort();
        assert_eq!(pending_names(), newest, "the five newest logins are kept");
        let header_len: usize = jar_cookies(&jar, &stack.base)
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum();
        assert!(header_len < 4096, "Cookie header of {header_len} bytes");
        // The newest evicted login is gone; the oldest kept and the last complete.
        let evicted = query_map(&started[6].0)["state"].clone();
        let r = client
            .get(stack.url(&format!("/oauth2/callback?code=x&state={evicted}")))
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(r).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("state_mismatch"))
        );
        let form_8 = open_login_form(&client, &started[7].0).await;
        let form_12 = open_login_form(&client, &started[11].0).await;
        for (form, path) in [(form_12, "/pending/12"), (form_8, "/pending/8")] {
            let r = post_login_form(&client, &form, "alice", "alice-password").await;
            let r = client.get(location(&r)).send().await.unwrap();
            assert_eq!((r.status().as_u16(), location(&r)), (302, path.into()));
        }
    })
    .await;
}

/// Asserts the attributes every sidecar cookie has with default settings.
fn assert_host_cookie(set_cookie: &str, name_prefix: &str) {
    let mut parts = set_cookie.split(';').map(str::trim);
    let (name, _) = parts.next().unwrap().split_once('=').unwrap();
    assert!(name.starts_with(name_prefix), "{set_cookie}");
    let attrs: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
    for want in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "{set_cookie} lacks {want}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "{set_cookie} has a Domain"
    );
}

#[tokio::test]
async fn default_cookies_are_host_prefixed_secure_httponly_lax() {
    bounded(async {
        let stack = Stack::builder()
            .with(|s| s.cookie_secure = cognito_sidecar::config::Settings::default().cookie_secure)
            .start()
            .await;
        let sidecar = plain_client();
        let r = navigate(&sidecar, &stack.url("/secure/page")).await;
        assert_eq!(r.status(), 302);
        let cookies = set_cookies(&r);
        assert_eq!(cookies.len(), 1);
        assert_host_cookie(&cookies[0], "__Host-_cognito_sidecar_login_");
        assert!(cookies[0].contains("Max-Age=600"));
        let (login_name, login_value) = cookie_pair(&cookies[0]);
        let r = submit_login(&browser(), &location(&r), "alice", "alice-password").await;
        let callback = location(&r);
        // Without the login cookie the callback is refused; with it, it succeeds.
        let r = sidecar.get(&callback).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let r = sidecar
            .get(&callback)
            .header("cookie", format!("{login_name}={login_value}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (302, "/secure/page".into())
        );
        let cookies = set_cookies(&r);
        // The session, the cleared login, and the sign-in counter (loop diagnosis).
        assert_eq!(cookies.len(), 3, "{cookies:?}");
        for c in &cookies {
            assert_host_cookie(c, "__Host-_cognito_sidecar");
        }
        let session = cookies
            .iter()
            .find(|c| c.starts_with("__Host-_cognito_sidecar="))
            .expect("a session cookie");
        assert!(session.contains("Max-Age=43200"), "{session}");
        let cleared = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{login_name}=;")))
            .expect("the login cookie is cleared");
        assert!(cleared.contains("Max-Age=0"));
        let (name, value) = cookie_pair(session);
        let r = sidecar
            .get(stack.url("/secure/page"))
            .header("cookie", format!("{name}={value}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            stack.upstream.last().header("x-user-username"),
            Some("alice")
        );
        // The unprefixed name is not the session cookie.
        let (status, _) =
            status_json(api_with_cookie(&stack, "/x", &format!("{SESSION}={value}")).await).await;
        assert_eq!(status, 401);
    })
    .await;
}

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

/// ~480 junk login cookies (a sibling subdomain can plant them) must not turn
/// one sign-in answer into hundreds of `Set-Cookie` lines.
#[tokio::test]
async fn junk_login_cookies_are_cleared_a_bounded_batch_at_a_time() {
    bounded(async {
        let stack = Stack::start().await;
        let junk: Vec<String> = (0..480).map(|i| format!("{LOGIN_PREFIX}j{i}=x")).collect();
        let r = plain_client()
            .get(stack.url("/oauth2/start?rd=/"))
            .header("cookie", junk.join("; "))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let lines = set_cookies(&r);
        let cleared = lines
            .iter()
            .filter(|c| c.starts_with(LOGIN_PREFIX) && c.contains("Max-Age=0"))
            .count();
        assert_eq!(cleared, 16, "{} Set-Cookie lines", lines.len());
        assert_eq!(lines.len(), 17, "the new login cookie and one batch");
    })
    .await;
}
