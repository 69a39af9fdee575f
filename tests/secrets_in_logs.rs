//! No secret reaches the logs, even at TRACE for every crate: a whole sign-in,
//! a background refresh and a sign-out run under a subscriber that records
//! everything, then each secret is looked for raw, URL-encoded and in base64.
//! One test only: the subscriber is the process's global default.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "it/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use cognito_sidecar::mock::{MockConfig, DEMO_CLIENT_SECRET};
use cognito_sidecar::session::SessionId;
use support::*;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Every formatted log line, in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// TRACE for every crate (and `log` records from crates like reqwest).
fn capture_all_logs() -> LogBuffer {
    let logs = LogBuffer::default();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish()
        .try_init()
        .expect("the only subscriber of this test process");
    logs
}

/// The forms a secret could take in a log line.
fn encodings(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    vec![
        secret.to_string(),
        url::form_urlencoded::byte_serialize(bytes).collect(),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ]
}

/// `(name, value)` of each `Set-Cookie` of a response, deletions included (empty value).
fn set_cookie_pairs(r: &reqwest::Response) -> Vec<(String, String)> {
    set_cookies(r)
        .iter()
        .filter_map(|c| c.split(';').next()?.trim().split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Collected secrets, each with a label for the failure message.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(
            value.len() >= 16,
            "{what} is too short to search for: {value:?}"
        );
        self.0.push((what.to_string(), value.to_string()));
    }

    /// The tokens of alice's session, and each JWT's signature on its own.
    async fn add_tokens(&mut self, stack: &Stack, session_cookie: &str, when: &str) {
        let state = stack.sidecar.state();
        let flow = &state.flow;
        let opened = flow
            .cookies()
            .open("_cognito_sidecar", session_cookie)
            .unwrap();
        let id = SessionId::parse(&opened.value).unwrap();
        self.add("session id", id.expose());
        let session = state
            .sessions
            .get(&id)
            .await
            .expect("the store answers")
            .expect("a live session");
        let t = &session.tokens;
        for (what, jwt) in [("ID token", &t.id_token), ("access token", &t.access_token)] {
            self.add(&format!("{what} ({when})"), jwt.expose());
            let signature = jwt.expose().rsplit('.').next().unwrap();
            self.add(&format!("{what} signature ({when})"), signature);
        }
        let refresh = t.refresh_token.as_ref().expect("a refresh token");
        self.add(&format!("refresh token ({when})"), refresh.expose());
    }
}

/// A browser whose sidecar cookies the test keeps by hand, so the test
/// client's own cookie jar (whose crate logs every cookie it stores) only
/// ever sees the mock IdP's cookies.
struct Tab {
    base: String,
    mock: reqwest::Client,
    sidecar: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Tab {
    fn new(stack: &Stack) -> Self {
        Self {
            base: stack.base.clone(),
            mock: browser(),
            sidecar: plain_client(),
            cookies: BTreeMap::new(),
        }
    }

    /// A navigation; sidecar cookies are sent and stored, every new one kept in `secrets`.
    async fn get(&mut self, url: &str, secrets: &mut Secrets) -> reqwest::Response {
        if !url.starts_with(&self.base) {
            return navigate(&self.mock, url).await;
        }
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let r = self
            .sidecar
            .get(url)
            .header("accept", "text/html")
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .unwrap();
        for (name, value) in set_cookie_pairs(&r) {
            if value.is_empty() {
                self.cookies.remove(&name);
            } else {
                // The sign-in loop counter (a count and a time) is no secret.
                if !name.ends_with("_signins") {
                    secrets.add(&format!("cookie {name}"), &value);
                }
                self.cookies.insert(name, value);
            }
        }
        r
    }
}

/// Sign-in step by step, keeping what a log could leak. Returns the session cookie value.
async fn sign_in_collecting(stack: &Stack, tab: &mut Tab, secrets: &mut Secrets) -> String {
    let r = tab.get(&stack.url("/"), secrets).await;
    assert_eq!(r.status(), 302);
    let authorize = location(&r);
    secrets.add("nonce", &query_map(&authorize)["nonce"]);
    let logins: Vec<_> = set_cookie_pairs(&r)
        .into_iter()
        .filter(|(n, _)| n.starts_with("_cognito_sidecar_login_"))
        .collect();
    let [(login_name, login_value)] = &logins[..] else {
        panic!("one login cookie: {logins:?}");
    };
    let cookies = stack.sidecar.state().flow.cookies();
    let pending = cookies.open(login_name, login_value).expect("it opens");
    let pending: serde_json::Value = serde_json::from_str(&pending.value).unwrap();
    secrets.add("PKCE verifier", pending["verifier"].as_str().unwrap());

    let r = submit_login(&tab.mock, &authorize, "alice", "alice-password").await;
    assert_eq!(r.status(), 302);
    let callback = location(&r);
    let query = query_map(&callback);
    secrets.add("code", &query["code"]);
    secrets.add("state", &query["state"]);
    let r = tab.get(&callback, secrets).await;
    assert_eq!(r.status(), 302, "signed in");
    tab.cookies
        .get("_cognito_sidecar")
        .expect("a session cookie")
        .clone()
}

/// Requests until the background refresh ran once (bounded).
async fn wait_for_refresh(stack: &Stack, tab: &mut Tab, secrets: &mut Secrets) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    while stack.mock.counters().refresh_grants == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh happened"
        );
        let r = tab.get(&stack.url("/app"), secrets).await;
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(stack.mock.counters().refresh_grants, 1);
    // The refreshed tokens land in the store right after the grant answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Sign-out through the IdP's logout and back; waits for the revocation.
async fn sign_out(stack: &Stack, tab: &mut Tab, secrets: &mut Secrets) {
    let mut next = stack.url("/oauth2/sign_out?rd=/");
    let mut hops = Vec::new();
    for _ in 0..5 {
        let r = tab.get(&next, secrets).await;
        hops.push(format!("{} {next}", r.status()));
        if r.status() != 302 {
            break;
        }
        next = url::Url::parse(&next)
            .unwrap()
            .join(&location(&r))
            .unwrap()
            .to_string();
    }
    assert!(!tab.cookies.contains_key("_cognito_sidecar"), "{hops:?}");
    assert!(stack.mock.counters().logouts >= 1, "{hops:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stack.mock.counters().revocations == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no revocation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn no_secret_appears_in_trace_logs_of_sign_in_refresh_and_sign_out() {
    let logs = capture_all_logs();
    let mock = MockConfig {
        id_token_ttl: Duration::from_secs(4),
        ..MockConfig::demo()
    };
    let stack = Stack::builder().mock(mock).start().await;
    let mut secrets = Secrets::default();
    secrets.add("client secret", DEMO_CLIENT_SECRET);
    secrets.add("cookie secret", COOKIE_SECRET);

    let mut tab = Tab::new(&stack);
    let session_cookie = sign_in_collecting(&stack, &mut tab, &mut secrets).await;
    secrets.add_tokens(&stack, &session_cookie, "sign-in").await;
    wait_for_refresh(&stack, &mut tab, &mut secrets).await;
    secrets.add_tokens(&stack, &session_cookie, "refresh").await;
    sign_out(&stack, &mut tab, &mut secrets).await;

    let text = logs.text();
    assert!(
        text.contains("signed in") && text.contains("signed out"),
        "{text}"
    );
    assert!(text.contains("TRACE"), "TRACE events are recorded");
    let mut leaks = Vec::new();
    for (what, secret) in &secrets.0 {
        for form in encodings(secret) {
            if let Some(at) = text.find(&form) {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                leaks.push(format!("{what}: {}", &text[line_start..line_end]));
                break;
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets in the logs:\n{}",
        leaks.join("\n")
    );
}
