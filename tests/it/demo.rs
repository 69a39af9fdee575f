//! The README's first command: `cognito-sidecar demo` signs a newcomer in at
//! `http://localhost:PORT` against the embedded mock Cognito.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_demo_signs_alice_in_and_the_demo_app_shows_her() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _demo = Demo(
        Command::new(env!("CARGO_BIN_EXE_cognito-sidecar"))
            .args(["demo", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let base = format!("http://localhost:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await {
            if r.status() == 200 {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the demo came up");
    let r = navigate(&client, &format!("{base}/hello?from=demo")).await;
    assert_eq!(r.status(), 302);
    let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(location(&r), "/hello?from=demo");
    let page = navigate(&client, &format!("{base}/hello?from=demo"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Signed in as <strong>alice@example.com</strong>"),
        "{page}"
    );
    assert!(page.contains("Zoë Ångström-Łukasiewicz"));
}
