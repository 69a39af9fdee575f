//! The README's first commands, run as written with the real binary:
//! `cognito-sidecar demo`, and `mock-cognito` with the sidecar command line it
//! prints, each signing a user in and out at `http://localhost:PORT`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_cognito-sidecar");

/// A child process killed on drop (also when an assertion fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A cookie-keeping client that reaches `localhost:port` on 127.0.0.1.
fn localhost_browser(port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

/// `cognito-sidecar demo --port N`, ready; its client and base URL.
async fn start_demo() -> (Running, reqwest::Client, String) {
    let port = free_port();
    let demo = Running(
        Command::new(BIN)
            .args(["demo", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = localhost_browser(port);
    let base = format!("http://localhost:{port}");
    wait_ready(&client, &base).await;
    (demo, client, base)
}

/// Signs `user` in through the demo's deep link; the demo app's page.
async fn demo_page_as(client: &reqwest::Client, base: &str, user: &str) -> String {
    let r = navigate(client, &format!("{base}/hello?from=demo")).await;
    assert_eq!(r.status(), 302);
    let r = submit_login(client, &location(&r), user, &format!("{user}-password")).await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(location(&r), "/hello?from=demo");
    navigate(client, &format!("{base}/hello?from=demo"))
        .await
        .text()
        .await
        .unwrap()
}

/// Follows redirects by hand (the client keeps cookies) up to a non-redirect.
async fn follow(client: &reqwest::Client, mut r: reqwest::Response) -> (String, reqwest::Response) {
    let mut url = r.url().to_string();
    for _ in 0..10 {
        if !r.status().is_redirection() {
            return (url, r);
        }
        url = url::Url::parse(&url)
            .unwrap()
            .join(&location(&r))
            .unwrap()
            .to_string();
        r = navigate(client, &url).await;
    }
    panic!("more than 10 redirects, last {url}");
}

#[tokio::test]
async fn the_demo_signs_alice_in_and_the_demo_app_shows_her() {
    let (_demo, client, base) = start_demo().await;
    let page = demo_page_as(&client, &base, "alice").await;
    assert!(
        page.contains("Signed in as <strong>alice@example.com</strong>"),
        "{page}"
    );
    assert!(page.contains("Zoë Ångström-Łukasiewicz"));
    assert!(
        page.contains("<ul id=\"groups\"><li>admins</li><li>Engineering, Platform</li></ul>"),
        "groups as a list, the comma inside a name kept: {page}"
    );
    assert!(!page.contains("id=\"email-note\""), "{page}");
}

#[tokio::test]
async fn the_demo_app_says_why_bob_has_no_email() {
    let (_demo, client, base) = start_demo().await;
    let page = demo_page_as(&client, &base, "bob").await;
    assert!(
        page.contains(
            "No email: bob@example.com is not verified at the identity provider, \
             and the sidecar sends X-User-Email only for an email the identity provider verified"
        ),
        "{page}"
    );
    assert!(
        page.contains("<p id=\"groups\">Groups: none.</p>"),
        "{page}"
    );
}

#[tokio::test]
async fn demo_sign_out_lands_on_a_signed_out_page_with_a_sign_in_button() {
    let (_demo, client, base) = start_demo().await;
    let page = demo_page_as(&client, &base, "alice").await;
    // The app's own sign-out form, as the button submits it.
    let action = page
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let r = client.post(format!("{base}{action}")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let (url, r) = follow(&client, r).await;
    assert_eq!(url, format!("{base}/signed-out"));
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("You are signed out"), "{page}");
    assert!(page.contains("id=\"sign-in\""), "{page}");
    // The button starts a sign-in at the hosted form, not the app.
    let r = navigate(&client, &format!("{base}/oauth2/start?rd=/")).await;
    assert_eq!(r.status(), 302);
    let r = client.get(location(&r)).send().await.unwrap();
    assert!(
        location(&r).contains("/login?"),
        "asks for a password again"
    );
}

/// Exits within 10 s: its exit code and stderr.
async fn exit_of(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running with its port taken");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn demo_with_its_port_taken_on_either_loopback_exits_naming_port() {
    let mut holders = vec!["127.0.0.1"];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        holders.push("[::1]");
    }
    for host in holders {
        let held = std::net::TcpListener::bind(format!("{host}:0")).unwrap();
        let port = held.local_addr().unwrap().port();
        let child = Command::new(BIN)
            .args(["demo", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (code, stderr) = exit_of(child).await;
        assert_ne!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!("{host}:{port}")) && stderr.contains("--port"),
            "{stderr}"
        );
    }
}

/// Reads the mock's stdout on a thread; the lines so far.
fn read_lines(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The `cognito-sidecar \` ... block mock-cognito prints, as words.
fn printed_command(lines: &std::sync::mpsc::Receiver<String>) -> (Vec<String>, String) {
    let mut all = String::new();
    let mut words: Vec<String> = Vec::new();
    let mut inside = false;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(20)) {
        all.push_str(&line);
        all.push('\n');
        let trimmed = line.trim();
        if !inside && trimmed.ends_with("cognito-sidecar \\") {
            inside = true;
        }
        if inside {
            words.extend(
                trimmed
                    .split_whitespace()
                    .filter(|w| *w != "\\")
                    .map(String::from),
            );
            if !trimmed.ends_with('\\') {
                return (words, all);
            }
        }
    }
    panic!("mock-cognito printed no sidecar command:\n{all}");
}

/// The sidecar command of the README's "Your own app against the mock Cognito", as words.
fn readme_sidecar_command() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Your own app against the mock Cognito")
        .nth(1)
        .expect("the README's mock section");
    assert!(section.contains("target/release/cognito-sidecar mock-cognito "));
    let start = section
        .find("target/release/cognito-sidecar \\\n")
        .expect("the README's sidecar command");
    let mut words = Vec::new();
    for line in section[start..].lines() {
        words.extend(
            line.split_whitespace()
                .filter(|w| *w != "\\")
                .map(String::from),
        );
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    words
}

/// Flags and values without what differs from run to run: the program's
/// path, ports, the upstream and the fresh cookie secret.
fn comparable(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for word in &words[1..] {
        if skip_value {
            skip_value = false;
            out.push("VALUE".into());
            continue;
        }
        skip_value = word == "--cookie-secret" || word == "--upstream";
        let mut word = word.clone();
        for host in ["127.0.0.1:", "localhost:"] {
            if let Some(at) = word.find(host) {
                let from = at + host.len();
                let digits = word[from..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .count();
                word.replace_range(from..from + digits, "PORT");
            }
        }
        out.push(word);
    }
    out
}

#[tokio::test]
async fn mock_cognito_prints_a_sidecar_command_that_signs_in_and_out_when_pasted() {
    let upstream = RecordingUpstream::start().await;
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let mut mock = Command::new(BIN)
        .args([
            "mock-cognito",
            "--listen",
            "127.0.0.1:0",
            "--sidecar-url",
            &base,
        ])
        .args(["--sidecar-upstream", &format!("http://{}", upstream.addr)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = read_lines(mock.stdout.take().unwrap());
    let _mock = Running(mock);
    let (words, printed) = printed_command(&lines);
    for needed in [
        "4fmvht22tjrgd7d3k3tghttct7",
        "demo-client-secret-",
        "alice / alice-password",
        "/.well-known/openid-configuration",
    ] {
        assert!(printed.contains(needed), "{needed} in:\n{printed}");
    }
    assert!(words[0].ends_with("cognito-sidecar"), "{words:?}");
    assert_eq!(
        comparable(&words),
        comparable(&readme_sidecar_command()),
        "the README's sidecar command is the one mock-cognito prints"
    );
    let _sidecar = Running(
        Command::new(&words[0])
            .args(&words[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = localhost_browser(port);
    wait_ready(&client, &base).await;

    let r = navigate(&client, &format!("{base}/app")).await;
    assert_eq!(r.status(), 302);
    let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(location(&r), "/app");
    let r = navigate(&client, &format!("{base}/app")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        upstream.last().header("x-user-email"),
        Some("alice@example.com")
    );

    // Sign-out goes through the mock's /logout and back, with nothing registered by hand.
    let r = client
        .post(format!("{base}/oauth2/sign_out"))
        .send()
        .await
        .unwrap();
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), format!("{base}/oauth2/signed_out"));
    let r = navigate(&client, &format!("{base}/app")).await;
    assert_eq!(r.status(), 302, "signed out: the app asks for a sign-in");
}

#[test]
fn mock_cognito_help_documents_its_pool_file_and_prints_one_to_start_from() {
    let help = Command::new(BIN)
        .args(["mock-cognito", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needed in [
        "[[clients]]",
        "[[users]]",
        "email_verified",
        "--print-config",
    ] {
        assert!(help.contains(needed), "{needed} in:\n{help}");
    }
    let file = Command::new(BIN)
        .args(["mock-cognito", "--print-config"])
        .output()
        .unwrap();
    assert!(file.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.toml");
    std::fs::write(&path, &file.stdout).unwrap();
    let pool = cognito_sidecar::mock::MockConfig::from_file(&path).unwrap();
    assert_eq!(pool.users.len(), 3);
}
