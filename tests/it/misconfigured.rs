//! Issue 11, "errors that say what they are": each setting an operator gets
//! wrong is named on the page (misconfigured, with a request id), at `error`
//! in the log, in `/ready`'s body and in a metric, and never called temporary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_sidecar::mock::{Fault, MockEndpoint, MockHandle, DEMO_CLIENT_ID};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_cognito-sidecar");

/// The real binary, its output (stdout and stderr) going to a file the test reads.
pub struct Process {
    child: Child,
    log: tempfile::NamedTempFile,
    pub base: String,
    _upstream: RecordingUpstream,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// The sidecar against `mock`, on `base`'s port, with `overrides` on top
    /// of a working configuration; returns once it answers `/ping`.
    pub async fn start(mock: &MockHandle, base: &str, overrides: &[(&str, &str)]) -> Self {
        let upstream = RecordingUpstream::start().await;
        let listen = url::Url::parse(base).unwrap();
        let listen = format!("127.0.0.1:{}", listen.port().unwrap());
        let mut env: std::collections::BTreeMap<String, String> = [
            ("SIDECAR_LISTEN", listen),
            ("SIDECAR_UPSTREAM", format!("http://{}", upstream.addr)),
            ("SIDECAR_ISSUER_URL", mock.issuer()),
            ("SIDECAR_DISCOVERY_URL", mock.discovery_url()),
            ("SIDECAR_CLIENT_ID", DEMO_CLIENT_ID.into()),
            (
                "SIDECAR_CLIENT_SECRET",
                cognito_sidecar::mock::DEMO_CLIENT_SECRET.into(),
            ),
            ("SIDECAR_REDIRECT_URL", format!("{base}/oauth2/callback")),
            ("SIDECAR_COOKIE_SECRET", COOKIE_SECRET.into()),
            ("SIDECAR_COOKIE_SECURE", "false".into()),
            ("SIDECAR_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in overrides {
            env.insert(k.to_string(), v.to_string());
        }
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let process = Self {
            child,
            log,
            base: base.to_string(),
            _upstream: upstream,
        };
        let client = plain_client();
        for _ in 0..500 {
            if client.get(format!("{base}/ping")).send().await.is_ok() {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the sidecar did not start:\n{}", process.output());
    }

    /// Waits for `/ready` to answer 200.
    pub async fn wait_ready(&self) {
        let client = plain_client();
        for _ in 0..500 {
            let r = client.get(format!("{}/ready", self.base)).send().await;
            if r.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the sidecar never became ready:\n{}", self.output());
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// Waits until a line of the output contains every one of `needles`.
    pub async fn wait_for_line(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needles:?} in:\n{out}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A loopback origin nothing listens on yet.
pub fn free_origin() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// The whole sign-in against the process; the sidecar's answer to the callback.
async fn sign_in(client: &reqwest::Client, base: &str) -> reqwest::Response {
    let r = navigate(client, &format!("{base}/app")).await;
    assert_eq!(r.status(), 302);
    let r = submit_login(client, &location(&r), "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the mock accepts the password");
    client
        .get(location(&r))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_wrong_client_secret_is_misconfigured_on_the_page_and_an_error_naming_client_secret() {
    bounded(async {
        let base = free_origin();
        let mock = start_mock_for(cognito_sidecar::mock::MockConfig::demo(), &base).await;
        let sidecar = Process::start(
            &mock,
            &base,
            &[("SIDECAR_CLIENT_SECRET", "not-the-secret-of-this-client")],
        )
        .await;
        sidecar.wait_ready().await;
        let client = browser();
        let r = sign_in(&client, &base).await;
        assert_eq!(r.status(), 503);
        let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let page = r.text().await.unwrap();
        assert!(page.contains("Sign-in is misconfigured"), "{page}");
        assert!(
            page.contains(&format!("quoting request id {request_id}")),
            "{page}"
        );
        assert!(page.contains("invalid_client"), "{page}");
        for wrong in ["temporary", "used already", "expired"] {
            assert!(!page.contains(wrong), "{wrong}: {page}");
        }
        let line = sidecar
            .wait_for_line(&["ERROR", "invalid_client", "client-secret"])
            .await;
        assert!(line.contains("/oauth2/token"), "the URL: {line}");
        assert!(line.contains(&request_id), "{line}");
        assert!(!sidecar.output().contains("not-the-secret-of-this-client"));
        let ready: serde_json::Value = plain_client()
            .get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let default = &ready["provider_status"]["default"];
        assert_eq!(default["setting"], "client-secret", "{ready}");
        assert_eq!(default["reason"], "invalid_client", "{ready}");
        assert_eq!(ready["ready"], true, "bearer tokens still work: {ready}");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_issuer_shows_in_ready_and_on_the_page_and_names_issuer_url() {
    bounded(async {
        let base = free_origin();
        let mock = start_mock_for(cognito_sidecar::mock::MockConfig::demo(), &base).await;
        // The pool's issuer with a trailing slash: discovery still answers, the issuer differs.
        let issuer = format!("{}/", mock.issuer());
        let sidecar = Process::start(&mock, &base, &[("SIDECAR_ISSUER_URL", &issuer)]).await;
        let client = plain_client();
        let ready = loop {
            let r = client.get(format!("{base}/ready")).send().await.unwrap();
            assert_eq!(r.status(), 503);
            let body: serde_json::Value = r.json().await.unwrap();
            if body["provider_status"]["default"]["problem"].is_string() {
                break body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(ready["ready"], false);
        assert_eq!(ready["providers"], false, "the old key keeps its meaning");
        let default = &ready["provider_status"]["default"];
        assert_eq!(default["ready"], false);
        assert_eq!(default["setting"], "issuer-url", "{ready}");
        assert_eq!(default["reason"], "issuer_mismatch", "{ready}");
        let problem = default["problem"].as_str().unwrap();
        assert!(problem.contains("trailing slash"), "{problem}");
        assert_eq!(default["url"], mock.discovery_url());
        let r = navigate(&browser(), &format!("{base}/app")).await;
        assert_eq!(r.status(), 503);
        let page = r.text().await.unwrap();
        assert!(page.contains("Sign-in is misconfigured"), "{page}");
        assert!(!page.contains("temporary"), "{page}");
        let line = sidecar
            .wait_for_line(&["ERROR", "issuer_mismatch", "issuer-url"])
            .await;
        assert!(line.contains(&mock.discovery_url()), "the URL: {line}");
    })
    .await;
}

#[tokio::test]
async fn a_discovery_url_that_is_not_found_names_the_url_and_the_setting() {
    bounded(async {
        let base = free_origin();
        let mock = start_mock_for(cognito_sidecar::mock::MockConfig::demo(), &base).await;
        let wrong = format!("{}/wrong/.well-known/openid-configuration", mock.base_url());
        let sidecar = Process::start(&mock, &base, &[("SIDECAR_DISCOVERY_URL", &wrong)]).await;
        let line = sidecar
            .wait_for_line(&["ERROR", "discovery_not_found", "discovery-url"])
            .await;
        assert!(line.contains(&wrong), "{line}");
        assert!(line.contains("404"), "{line}");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_discovery_url_is_transient_names_the_url_and_backs_off() {
    bounded(async {
        let base = free_origin();
        let mock = start_mock_for(cognito_sidecar::mock::MockConfig::demo(), &base).await;
        let nowhere = format!("{}/.well-known/openid-configuration", free_origin());
        let sidecar = Process::start(&mock, &base, &[("SIDECAR_DISCOVERY_URL", &nowhere)]).await;
        tokio::time::sleep(Duration::from_millis(1700)).await;
        let out = sidecar.output();
        let failures: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("loading the identity provider failed"))
            .collect();
        assert!(
            (2..=5).contains(&failures.len()),
            "backs off (0.2 s, 0.4 s, 0.8 s ...), not a fixed fast rate: {failures:?}"
        );
        assert!(
            failures
                .iter()
                .all(|l| l.contains("WARN") && l.contains(&nowhere)),
            "{out}"
        );
        assert!(
            !out.contains("ERROR"),
            "a refused connection is not a configuration problem: {out}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_hung_idp_at_the_callback_gives_the_error_page_within_10_s_by_default() {
    bounded(async {
        // The default IdP timeout (15 s), not the harness's 3 s.
        let stack = Stack::builder()
            .with(|s| s.idp_timeout = "15s".into())
            .start()
            .await;
        let client = browser();
        let r = navigate(&client, &stack.url("/after")).await;
        let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
        let callback = location(&r);
        stack.mock.set_fault(
            MockEndpoint::Token,
            Some(Fault::Hang(Duration::from_secs(30))),
        );
        let started = Instant::now();
        let r = navigate(&client, &callback).await;
        let took = started.elapsed();
        assert_eq!(r.status(), 504);
        assert!(took < Duration::from_millis(10_500), "{took:?}");
        assert!(took >= Duration::from_millis(9_500), "{took:?}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Sign-in unavailable"),
            "a transient failure: {page}"
        );
        stack.mock.set_fault(MockEndpoint::Token, None);
    })
    .await;
}

/// The `name=value` pairs of a response's `Set-Cookie`s that set a value.
fn kept_cookies(r: &reqwest::Response) -> Vec<String> {
    set_cookies(r)
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect()
}

/// One sign-in where the sidecar's cookies are carried by hand (`jar`), as a
/// browser that keeps only the cookies `keep` accepts; the callback's answer.
async fn sign_in_by_hand(
    stack: &Stack,
    jar: &mut Vec<String>,
    host: Option<&str>,
    keep: impl Fn(&str) -> bool,
) -> reqwest::Response {
    let client = plain_client();
    let mut start = client
        .get(stack.url("/oauth2/start?rd=%2Fapp"))
        .header("accept", "text/html");
    if let Some(host) = host {
        start = start.header("host", host);
    }
    let r = start.send().await.unwrap();
    assert_eq!(r.status(), 302);
    jar.extend(kept_cookies(&r).into_iter().filter(|c| keep(c)));
    let r = submit_login(&browser(), &location(&r), "alice", "alice-password").await;
    let callback = location(&r);
    let r = client
        .get(&callback)
        .header("accept", "text/html")
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap();
    jar.retain(|c| !c.contains("_login_"));
    for cookie in kept_cookies(&r).into_iter().filter(|c| keep(c)) {
        let name = cookie.split('=').next().unwrap().to_string();
        jar.retain(|c| !c.starts_with(&format!("{name}=")));
        jar.push(cookie);
    }
    r
}

#[tokio::test]
async fn cookie_secure_on_plain_http_gets_a_diagnosis_page_naming_cookie_secure() {
    bounded(async {
        let stack = Stack::builder()
            .with(|s| s.cookie_secure = "true".into())
            .start()
            .await;
        // A browser keeps no Secure cookie from a plain-http page.
        let mut jar = Vec::new();
        let r = sign_in_by_hand(&stack, &mut jar, None, |_| false).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("Sign-in could not finish"), "{page}");
        assert!(page.contains("you reached it over plain http"), "{page}");
        assert!(
            page.contains("set <code>cookie-secure</code> to false"),
            "{page}"
        );
        assert_eq!(stack.mock.counters().token_requests, 0);
    })
    .await;
}

#[tokio::test]
async fn a_sign_in_started_on_another_host_names_both_hosts_and_the_fix() {
    bounded(async {
        let stack = Stack::start().await;
        let mut jar = Vec::new();
        // The login cookie was set for other.test; the callback's host never sees it.
        let r = sign_in_by_hand(&stack, &mut jar, Some("other.test"), |_| false).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Sign-in started on other.test but returned to 127.0.0.1"),
            "{page}"
        );
        // No cookie can cover a name and an IP address: the page says so and
        // names the setting that does fix it, not a cookie-domain that cannot.
        assert!(
            page.contains("no cookie is shared by other.test and 127.0.0.1"),
            "{page}"
        );
        assert!(page.contains("<code>redirect-url</code>"), "{page}");
        assert!(!page.contains("set <code>cookie-domain</code>"), "{page}");
    })
    .await;
}

#[tokio::test]
async fn a_browser_that_keeps_coming_back_without_a_session_gets_the_loop_page() {
    bounded(async {
        let stack = Stack::start().await;
        // Every cookie but the session's: each sign-in completes, and the next
        // page finds no session.
        let not_session = |c: &str| c.contains("_login_") || c.contains("_signins");
        let mut jar = Vec::new();
        for round in 0..3 {
            let r = sign_in_by_hand(&stack, &mut jar, None, not_session).await;
            assert_eq!(r.status(), 302, "round {round}");
        }
        let r = sign_in_by_hand(&stack, &mut jar, None, not_session).await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("Sign-in keeps starting over"), "{page}");
        assert!(page.contains("signed in 3 times within a minute"), "{page}");
        assert!(page.contains("<code>session-store</code>"), "{page}");
    })
    .await;
}
