//! `/metrics` on its own listener, the access log's request id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use support::*;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(stack: &Stack) -> String {
    let addr = stack
        .sidecar
        .metrics_addr()
        .expect("metrics-address is set");
    let r = plain_client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_after_a_sign_in_and_stay_off_the_public_listener() {
    let stack = Stack::builder()
        .with(|s| s.metrics_address = Some("127.0.0.1:0".into()))
        .start()
        .await;
    let before = scrape(&stack).await;
    let client = signed_in(&stack).await;
    assert_eq!(
        client.get(stack.url("/x")).send().await.unwrap().status(),
        200
    );
    let bad = plain_client()
        .get(stack.url("/oauth2/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let after = scrape(&stack).await;

    let moved = |series: &str| value(&after, series) - value(&before, series);
    // Other tests in this process sign in too: the registry is process-wide.
    assert!(moved(r#"sidecar_sign_ins_total{outcome="success",reason="signed_in"}"#) >= 1.0);
    assert_eq!(
        moved(r#"sidecar_sign_ins_total{outcome="failure",reason="state_mismatch"}"#),
        1.0
    );
    assert!(moved(r#"sidecar_requests_total{class="2xx"}"#) >= 1.0);
    assert!(
        moved(r#"sidecar_requests_total{class="3xx"}"#) >= 2.0,
        "start and callback redirects"
    );
    assert!(moved("sidecar_upstream_seconds_count") >= 1.0);
    assert!(moved(r#"sidecar_idp_seconds_count{call="token",result="ok"}"#) >= 1.0);
    assert!(value(&after, "sidecar_sessions_active") >= 1.0, "{after}");
    assert!(
        value(
            &after,
            r#"sidecar_jwks_refreshes_total{call="scheduled",result="ok"}"#
        ) >= 1.0
    );

    let public = plain_client()
        .get(stack.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        public.status(),
        200,
        "metrics are not on the public listener"
    );
    assert!(!public
        .text()
        .await
        .unwrap()
        .contains("sidecar_requests_total"));
}

#[tokio::test]
async fn request_ids_are_generated_for_clients_and_passed_upstream() {
    let stack = Stack::start().await;
    let client = signed_in(&stack).await;
    let r = client
        .get(stack.url("/x"))
        .header("x-request-id", "client-chosen")
        .send()
        .await
        .unwrap();
    let echoed = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(
        echoed, "client-chosen",
        "an untrusted client does not pick the id"
    );
    assert_eq!(echoed.len(), 36, "a UUID");
    assert_eq!(
        stack.upstream.last().header("x-request-id"),
        Some(echoed.as_str())
    );
}

#[tokio::test]
async fn a_trusted_proxy_keeps_its_request_id() {
    let stack = Stack::builder()
        .with(|s| s.trusted_proxies = support::words("127.0.0.1"))
        .start()
        .await;
    let client = signed_in(&stack).await;
    let r = client
        .get(stack.url("/x"))
        .header("x-request-id", "edge-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "edge-1234");
    assert_eq!(
        stack.upstream.last().header("x-request-id"),
        Some("edge-1234")
    );
    let r = plain_client().get(stack.url("/ping")).send().await.unwrap();
    assert!(
        r.headers().contains_key("x-request-id"),
        "the sidecar's own answers carry one too"
    );
}

/// The real binary with `--log-format json`: every line is one JSON object, and
/// each request writes one access line with method, path, status, latency,
/// user and request id.
#[tokio::test]
async fn json_logs_are_one_object_per_line_with_an_access_line_per_request() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cognito-sidecar"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args([
            "--log-format",
            "json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--upstream",
            "http://127.0.0.1:9",
            "--issuer-url",
            "http://127.0.0.1:9/pool",
        ])
        .args([
            "--client-id",
            "c",
            "--redirect-url",
            "http://127.0.0.1/oauth2/callback",
        ])
        .args(["--cookie-secret", "0123456789abcdef0123456789abcdef"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let client = plain_client();
    let mut answered = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/ping"))
            .header("x-request-id", "ignored")
            .send()
            .await
        {
            answered = r.status() == 200;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        answered,
        "the sidecar started without its IdP and answered /ping"
    );
    // Refused before routing (two Host lines): still an id and an access line.
    let refused = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        raw.write_all(b"GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            .await
            .unwrap();
        let mut answer = vec![0u8; 4096];
        let n = raw.read(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer[..n]).to_lowercase()
    };
    assert!(refused.starts_with("http/1.1 400"), "{refused}");
    assert!(refused.contains("x-request-id: "), "{refused}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.join().unwrap();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"message\":\"listening\"")),
        "{lines:#?}"
    );
    let access: serde_json::Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["path"] == "/ping")
        .expect("an access line for /ping");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert!(access["latency_ms"].is_number());
    assert_eq!(access["user"], "-");
    assert_ne!(
        access["request_id"], "ignored",
        "an untrusted client's id is replaced"
    );
    let refused = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["path"] == "/two-hosts")
        .expect("an access line for the refused request");
    assert_eq!(refused["status"], 400);
}

/// Issue 11, item 5: the log of the real binary writing to a file.
#[tokio::test]
async fn logs_have_no_colour_codes_rounded_latency_the_user_and_the_urls_sent() {
    bounded(async {
        use crate::misconfigured::{free_origin, Process};
        let base = free_origin();
        let mock = start_mock_for(cognito_sidecar::mock::MockConfig::demo(), &base).await;
        let dead_upstream = free_origin();
        let sidecar = Process::start(
            &mock,
            &base,
            &[
                ("SIDECAR_LOG", "debug"),
                ("SIDECAR_UPSTREAM", &dead_upstream),
                ("SIDECAR_SIGN_OUT_URL", &format!("{base}/oauth2/signed_out")),
            ],
        )
        .await;
        sidecar.wait_ready().await;
        let client = browser();
        let r = navigate(&client, &format!("{base}/app")).await;
        let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
        let r = client.get(location(&r)).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let r = client
            .get(format!("{base}/oauth2/userinfo"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = navigate(&client, &format!("{base}/app")).await;
        assert_eq!(r.status(), 502);
        let r = client
            .post(format!("{base}/oauth2/sign_out"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);

        // Also where the request brought no session: the callback makes one,
        // sign-out ends one.
        for path in ["/oauth2/userinfo", "/oauth2/callback", "/oauth2/sign_out"] {
            let path = format!("path=\"{path}\"");
            let line = sidecar.wait_for_line(&["request", &path]).await;
            assert!(line.contains("user=\"alice@example.com\""), "{line}");
        }
        let line = sidecar
            .wait_for_line(&["request", "path=\"/oauth2/userinfo\""])
            .await;
        let latency = line
            .split("latency_ms=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap();
        let decimals = latency.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 2, "rounded: {line}");
        let upstream = dead_upstream.trim_start_matches("http://");
        let line = sidecar.wait_for_line(&["upstream failed"]).await;
        assert!(line.contains(&format!("upstream=\"{upstream}\"")), "{line}");
        let line = sidecar.wait_for_line(&["DEBUG", "redirect_uri="]).await;
        assert!(line.contains(&format!("{base}/oauth2/callback")), "{line}");
        let line = sidecar.wait_for_line(&["DEBUG", "sign_out_url="]).await;
        assert!(
            line.contains(&format!("{base}/oauth2/signed_out")),
            "{line}"
        );
        let out = sidecar.output();
        assert!(
            !out.contains('\u{1b}'),
            "no ANSI escape codes in a file:\n{out}"
        );
    })
    .await;
}
