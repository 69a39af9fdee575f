//! One sidecar for several hosts: the auth host `localhost` (the only plain
//! http host Cognito, and so the mock, accepts in a callback URL) and the app
//! hosts `app1.localhost` and `app2.localhost` (RFC 6761: loopback), all on the
//! sidecar's port. The cookie domain `localhost` makes the session cookie,
//! and the login cookie, reach every one of them.

// Test helpers outside #[test] functions panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::net::SocketAddr;

use reqwest::redirect::Policy;
use support::*;
use tokio::net::TcpListener;

/// Redirects a browser follows before we call it a loop.
const MAX_HOPS: usize = 8;

struct Hosts {
    stack: Stack,
    port: u16,
    addr: SocketAddr,
}

impl Hosts {
    /// `http://{host}:{port}{path}`.
    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }

    /// A cookie-keeping browser for which all three names resolve to the sidecar.
    fn browser(&self) -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .resolve("localhost", self.addr)
            .resolve("app1.localhost", self.addr)
            .resolve("app2.localhost", self.addr)
            .build()
            .unwrap();
        (client, jar)
    }
}

async fn start() -> Hosts {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let stack = Stack::builder()
        .with(|s| s.cookie_domain = Some("localhost".into()))
        .with(|s| {
            s.allowed_redirect_domains =
                support::words(format!("app1.localhost:{port},app2.localhost:{port}"))
        })
        .start_public(listener, &format!("http://localhost:{port}"))
        .await;
    Hosts { stack, port, addr }
}

fn has_domain(set_cookie: &str, domain: &str) -> bool {
    set_cookie
        .split(';')
        .any(|a| a.trim().eq_ignore_ascii_case(&format!("Domain={domain}")))
}

/// Signs alice in from a navigation (or a sign-in URL) at `start_url` and
/// returns the sidecar's answer to the callback, which arrives on the auth host.
async fn sign_in_from(h: &Hosts, client: &reqwest::Client, start_url: &str) -> reqwest::Response {
    let r = navigate(client, start_url).await;
    assert_eq!(r.status(), 302, "no session yet: off to the IdP");
    let login_cookies = set_cookies(&r);
    assert!(
        !login_cookies.is_empty() && login_cookies.iter().all(|c| has_domain(c, "localhost")),
        "the login cookie carries the parent domain: {login_cookies:?}"
    );
    let to_idp = location(&r);
    assert!(to_idp.starts_with(&h.stack.mock.base_url()), "{to_idp}");
    let r = submit_login(client, &to_idp, "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the mock accepts the password");
    let callback = location(&r);
    assert!(
        callback.starts_with(&h.url("localhost", "/oauth2/callback?")),
        "the IdP calls back on the auth host: {callback}"
    );
    client.get(&callback).send().await.unwrap()
}

/// Follows redirects from `url` like a browser, at most [`MAX_HOPS`] times;
/// returns the final answer and how many redirects led to it.
async fn follow(client: &reqwest::Client, url: &str) -> (reqwest::Response, usize) {
    let mut url = url::Url::parse(url).unwrap();
    for hops in 0..=MAX_HOPS {
        let r = navigate(client, url.as_str()).await;
        if !r.status().is_redirection() {
            return (r, hops);
        }
        url = url.join(&location(&r)).unwrap();
    }
    panic!("more than {MAX_HOPS} redirects from {url}: a redirect loop");
}

#[tokio::test]
async fn sign_in_started_on_app1_returns_to_app1_and_covers_app2_without_a_second_login() {
    bounded(async {
        let h = start().await;
        let (client, jar) = h.browser();
        let r = sign_in_from(&h, &client, &h.url("app1.localhost", "/x?a=1")).await;
        assert_eq!(r.status(), 302, "the callback on the auth host succeeds");
        assert_eq!(
            location(&r),
            h.url("app1.localhost", "/x?a=1"),
            "back to the app host, not a path on the auth host"
        );
        let session = set_cookies(&r);
        assert!(
            session
                .iter()
                .any(|c| c.starts_with("_cognito_sidecar=") && has_domain(c, "localhost")),
            "the session cookie is set for the parent domain: {session:?}"
        );
        for host in ["localhost", "app1.localhost", "app2.localhost"] {
            assert!(
                jar_cookies(&jar, &h.url(host, "/"))
                    .iter()
                    .any(|(n, _)| n == "_cognito_sidecar"),
                "the browser sends the session to {host}"
            );
        }

        let (r, hops) = follow(&client, &h.url("app1.localhost", "/x?a=1")).await;
        assert_eq!((r.status().as_u16(), hops), (200, 0));
        assert_eq!(r.text().await.unwrap(), "upstream:/x?a=1");
        let seen = h.stack.upstream.last();
        assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));
        assert_eq!(
            seen.header("host"),
            Some(&*format!("app1.localhost:{}", h.port))
        );

        let (r, hops) = follow(&client, &h.url("app2.localhost", "/y")).await;
        assert_eq!(
            (r.status().as_u16(), hops),
            (200, 0),
            "app2 is signed in too"
        );
        assert_eq!(r.text().await.unwrap(), "upstream:/y");
        assert_eq!(
            h.stack.upstream.last().header("x-user-email"),
            Some("alice@example.com")
        );
        let counters = h.stack.mock.counters();
        assert_eq!(
            (counters.logins, counters.authorization_code_grants),
            (1, 1),
            "one password sign-in and one code exchange for both hosts"
        );
    })
    .await;
}

#[tokio::test]
async fn without_a_session_app2_goes_to_the_idp_once_and_never_loops() {
    bounded(async {
        let h = start().await;
        let (client, _jar) = h.browser();
        let r = navigate(&client, &h.url("app2.localhost", "/deep/page")).await;
        assert_eq!(r.status(), 302);
        assert!(location(&r).starts_with(&h.stack.mock.base_url()));
        assert_eq!(h.stack.upstream.count(), 0, "nothing reaches the app");

        let r = sign_in_from(&h, &client, &h.url("app2.localhost", "/deep/page")).await;
        let back = location(&r);
        assert_eq!(back, h.url("app2.localhost", "/deep/page"));
        let (r, hops) = follow(&client, &back).await;
        assert_eq!((r.status().as_u16(), hops), (200, 0));
        // The auth host itself proxies too, and keeps a local return path.
        let (r, hops) = follow(&client, &h.url("localhost", "/z")).await;
        assert_eq!((r.status().as_u16(), hops), (200, 0));
        assert_eq!(r.text().await.unwrap(), "upstream:/z");
        assert_eq!(h.stack.mock.counters().logins, 1);
    })
    .await;
}

#[tokio::test]
async fn ingress_signin_url_with_rd_on_app1_lands_on_app1_and_forward_auth_admits_both_hosts() {
    bounded(async {
        let h = start().await;
        let (client, _jar) = h.browser();
        // ingress-nginx asks /oauth2/auth with the app request's cookies: none yet.
        let r = client
            .get(h.url("app1.localhost", "/oauth2/auth"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        let rd = h.url("app1.localhost", "/x");
        let signin = h.url("localhost", &format!("/oauth2/start?rd={rd}"));
        let r = sign_in_from(&h, &client, &signin).await;
        assert_eq!(r.status(), 302);
        assert_eq!(location(&r), rd, "auth-signin's rd brings the user back");

        for host in ["app1.localhost", "app2.localhost"] {
            let r = client
                .get(h.url(host, "/oauth2/auth"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{host} is signed in");
            assert_eq!(r.headers()["x-user-email"], "alice@example.com");
        }
        assert_eq!(h.stack.upstream.count(), 0, "forward-auth never proxies");
        assert_eq!(h.stack.mock.counters().logins, 1);
    })
    .await;
}

#[tokio::test]
async fn rd_off_the_allow_list_lands_on_the_auth_hosts_root() {
    bounded(async {
        let h = start().await;
        let refused = [
            "http://evil.example/".to_string(),
            h.url("evil.localhost", "/"),
            format!("http://app1.localhost:{}/", h.port.wrapping_add(1).max(1)),
            "https://app1.localhost/".to_string(),
        ];
        for rd in refused {
            let (client, _jar) = h.browser();
            let signin = h.url("localhost", "/oauth2/start");
            let signin = format!(
                "{signin}?rd={}",
                url::form_urlencoded::byte_serialize(rd.as_bytes()).collect::<String>()
            );
            let r = sign_in_from(&h, &client, &signin).await;
            assert_eq!(r.status(), 302, "{rd}");
            assert_eq!(location(&r), "/", "{rd} is not allow-listed");
        }
    })
    .await;
}
