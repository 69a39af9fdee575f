//! Cookie hygiene: fresh sessions over planted cookies, tabs and pending
//! logins bounded, `__Host-` attributes, junk login cookies cleared.

use super::*;

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
