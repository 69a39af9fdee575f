//! The OpenID Connect provider of tests/it/oidc_provider.rs as a child process
//! (`node tests/oidc/provider.mjs`), and small HTML/URL/JWT helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use reqwest::redirect::Policy;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

/// A client that does not follow redirects, keeps cookies when asked, and
/// gives up on any request after 10 s (no test hangs on a stuck server).
pub fn client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(cookies)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The provider as a child process, killed on drop.
pub struct OidcProvider {
    _child: Child,
    pub issuer: String,
    /// What the provider printed (its warnings and errors), for failure messages.
    pub log: Arc<Mutex<String>>,
}

/// Appends everything `pipe` says to `log`, in the background.
fn drain(pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static, log: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

impl OidcProvider {
    pub async fn start(settings: Value) -> Self {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "the OpenID Connect provider for this test is not installed \
             (tests/oidc/node_modules/oidc-provider): run scripts/install-test-deps.sh"
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg(settings.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `node` ({e}): run scripts/install-test-deps.sh")
            });
        let log = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().unwrap(), log.clone());
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let first = timeout(Duration::from_secs(30), out.read_line(&mut line)).await;
        if !matches!(first, Ok(Ok(n)) if n > 0) {
            panic!(
                "the provider did not start ({first:?}): {}",
                log.lock().unwrap()
            );
        }
        // Keep reading: a closed stdout would kill the provider at its next print.
        drain(out.into_inner(), log.clone());
        let issuer = serde_json::from_str::<Value>(&line).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_string();
        let provider = Self {
            _child: child,
            issuer,
            log,
        };
        provider.discovery().await;
        provider
    }

    fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// The discovery document, once the provider answers (bounded wait).
    pub async fn discovery(&self) -> Value {
        let client = client(false);
        for _ in 0..100 {
            if let Ok(r) = client.get(self.discovery_url()).send().await {
                if r.status() == 200 {
                    return r.json().await.unwrap();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no discovery document: {}", self.log.lock().unwrap());
    }
}

pub fn resolve(base: &str, href: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(href)
        .unwrap()
        .to_string()
}

/// The value of `name="…"` in the first tag of `html` that has it.
pub fn attr(html: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = html.find(&key)? + key.len();
    let end = html[start..].find('"')? + start;
    Some(html_escape::decode_html_entities(&html[start..end]).into_owned())
}

/// The JSON payload of a JWT (not verified: only to inspect what was sent).
pub fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

pub fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
