//! Hardening under load and failure: slow clients are cut off, connections
//! over the limit get a clean 503, sessions outlive an IdP outage, and the IdP
//! rotating its keys costs one JWKS fetch while forged key ids cost none.
//! (Too-large request headers: tests/it/proxying.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cognito_sidecar::mock::{MockConfig, TokenTweak};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::timeout;

/// Writes a request head one byte per second; returns when the sidecar closed
/// the connection (read EOF, reset, or a failed write), and what it answered.
async fn slowloris(addr: SocketAddr) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = b"GET /ping HTTP/1.1\r\nHost: slow\r\nX-Slow: zzzzzzzzzzzzzzzzzzzzzzzz\r\n\r\n";
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        match timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Err(_elapsed) => continue,
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            Ok(_) => break,
        }
    }
    (started.elapsed(), answer)
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_after_the_header_timeout_while_others_are_served() {
    let stack = Stack::builder()
        .with(|s| s.client_header_timeout = "2s".into())
        .start()
        .await;
    let addr = stack.sidecar.addr();
    let slow: Vec<_> = (0..20).map(|_| tokio::spawn(slowloris(addr))).collect();

    // Meanwhile, fresh clients get prompt answers.
    let client = plain_client();
    let mut slowest = Duration::ZERO;
    for _ in 0..12 {
        let started = Instant::now();
        let r = timeout(
            Duration::from_secs(2),
            client.get(stack.url("/ping")).send(),
        )
        .await
        .expect("/ping answers promptly")
        .unwrap();
        assert_eq!(r.status(), 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        slowest < Duration::from_millis(500),
        "slowest /ping {slowest:?}"
    );

    for task in slow {
        let (after, answer) = timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("HTTP/1.1 408"),
            "cut off without a normal answer: {text}"
        );
        assert!(
            after >= Duration::from_millis(1500) && after <= Duration::from_secs(4),
            "cut off after {after:?}"
        );
    }
}

/// How one flood connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Overloaded,
    Other(String),
}

/// Reads one response (head and `content-length` body) from `stream`.
async fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if answer.len() >= end + 4 + len {
                return Ok(answer);
            }
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(answer);
        }
        answer.extend_from_slice(&buf[..n]);
    }
}

fn classify(answer: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(answer);
    let lower = text.to_ascii_lowercase();
    if text.starts_with("HTTP/1.1 200 ") && text.ends_with(r#"{"status":"ok"}"#) {
        Outcome::Ok
    } else if text.starts_with("HTTP/1.1 503 ")
        && lower.contains("\r\nretry-after: 1\r\n")
        && lower.contains("\r\ncontent-type: application/json\r\n")
        && text.contains(r#"{"error":"overloaded""#)
    {
        Outcome::Overloaded
    } else {
        Outcome::Other(text.into_owned())
    }
}

/// One flood connection: `GET /ping` (keep-alive), its answer, then the
/// connection is held open until `release`, so the server stays at its limit.
async fn flood_connection(
    addr: SocketAddr,
    connecting: Arc<Semaphore>,
    done: mpsc::Sender<Outcome>,
    mut release: watch::Receiver<bool>,
) {
    let permit = connecting.acquire_owned().await.unwrap();
    let request = format!("GET /ping HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        drop(permit);
        stream.write_all(request.as_bytes()).await?;
        let answer = read_response(&mut stream).await?;
        Ok::<_, std::io::Error>((stream, answer))
    };
    let (outcome, stream) = match timeout(Duration::from_secs(10), exchange).await {
        Err(_) => (Outcome::Other("no answer within 10 s".into()), None),
        Ok(Err(e)) => (Outcome::Other(format!("io error: {e}")), None),
        Ok(Ok((stream, answer))) => (classify(&answer), Some(stream)),
    };
    let _ = done.send(outcome).await;
    let _ = release.wait_for(|released| *released).await;
    drop(stream);
}

/// Sign-ins over connections opened before the flood: those keep their slot.
async fn warm_browsers(stack: &Stack, count: usize) -> Vec<reqwest::Client> {
    let mut browsers = Vec::new();
    for _ in 0..count {
        let b = browser();
        assert_eq!(
            b.get(stack.url("/ping")).send().await.unwrap().status(),
            200
        );
        browsers.push(b);
    }
    browsers
}

async fn sign_in_and_use(stack: &Stack, b: &reqwest::Client) -> (u16, u16) {
    let r = sign_in_as(stack, b, "/", "alice", "alice-password").await;
    let callback = r.status().as_u16();
    let app = b
        .get(stack.url("/app"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (callback, app)
}

#[tokio::test]
async fn a_thousand_connections_get_200_or_a_clean_503_and_sign_ins_meanwhile_succeed() {
    let limit = 4096;
    let nofile = rlimit::increase_nofile_limit(limit).unwrap();
    assert!(nofile >= 2600, "open files limit {nofile} is too low");
    let stack = Stack::builder()
        .with(|s| s.max_connections = "500".into())
        .start()
        .await;
    let addr = stack.sidecar.addr();
    let browsers = warm_browsers(&stack, 5).await;

    let whole = async {
        let connecting = Arc::new(Semaphore::new(100));
        let (done_tx, mut done) = mpsc::channel(1000);
        let (release_tx, release) = watch::channel(false);
        for _ in 0..1000 {
            let args = (connecting.clone(), done_tx.clone(), release.clone());
            tokio::spawn(flood_connection(addr, args.0, args.1, args.2));
        }
        let sign_ins: Vec<_> = browsers
            .iter()
            .map(|b| sign_in_and_use(&stack, b))
            .collect();
        let sign_ins = futures_util::future::join_all(sign_ins).await;
        let mut outcomes = Vec::new();
        while outcomes.len() < 1000 {
            outcomes.push(done.recv().await.unwrap());
        }
        release_tx.send(true).unwrap();
        (outcomes, sign_ins)
    };
    let (outcomes, sign_ins) = timeout(Duration::from_secs(30), whole)
        .await
        .expect("the whole flood is over within 30 s");

    for (i, (callback, app)) in sign_ins.iter().enumerate() {
        assert_eq!(
            (*callback, *app),
            (302, 200),
            "sign-in {i} during the flood"
        );
    }
    let ok = outcomes.iter().filter(|o| **o == Outcome::Ok).count();
    let overloaded = outcomes
        .iter()
        .filter(|o| **o == Outcome::Overloaded)
        .count();
    let other: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Other(what) => Some(what),
            _ => None,
        })
        .take(3)
        .collect();
    assert!(
        other.is_empty(),
        "{} odd answers, e.g. {other:?}",
        1000 - ok - overloaded
    );
    // 5 slots are the browsers'; the flood holds the rest and is shed beyond.
    assert!(ok <= 495, "{ok} flood connections served past the limit");
    assert!(ok >= 480, "only {ok} flood connections served");
    assert_eq!(ok + overloaded, 1000);

    // Once the flood is gone, new connections are served again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET /ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = timeout(Duration::from_secs(5), read_response(&mut stream)).await;
        if classify(&answer.unwrap().unwrap()) == Outcome::Ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still overloaded after the flood"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn signed_in_users_keep_working_while_the_idp_is_down() {
    // Short ID tokens: the refresh falls due while the IdP is down.
    let mock = MockConfig {
        id_token_ttl: Duration::from_secs(3),
        ..MockConfig::demo()
    };
    let stack = Stack::builder().mock(mock).start().await;
    let alice = signed_in(&stack).await;
    stack.mock.clone().shutdown().await;

    let bounded = Duration::from_secs(2);
    let get = |client: &reqwest::Client, path: &str| {
        let request = client.get(stack.url(path)).send();
        async move { timeout(bounded, request).await.expect("no hang").unwrap() }
    };
    let r = get(&alice, "/app/before-expiry").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "upstream:/app/before-expiry");
    let userinfo = get(&alice, "/oauth2/userinfo").await;
    assert_eq!(userinfo.status(), 200);

    // Past the ID token's expiry: the refresh fails (connection refused), the session stays.
    stack.advance(4);
    for _ in 0..3 {
        let r = get(&alice, "/app/after-expiry").await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            stack.upstream.last().header("x-user-username"),
            Some("alice")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Newcomers: a navigation is sent to the IdP, an API client gets 401, promptly.
    let newcomer = browser();
    let started = Instant::now();
    let r = timeout(
        bounded,
        newcomer
            .get(stack.url("/app"))
            .header("accept", "text/html")
            .send(),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(r.status(), 302);
    assert!(
        location(&r).starts_with(&stack.mock.base_url()),
        "{}",
        location(&r)
    );
    assert_eq!(get(&plain_client(), "/app").await.status(), 401);
    assert!(started.elapsed() < bounded);
}

/// Signs alice in on a fresh browser; the sidecar's answer to the callback.
async fn sign_in_status(stack: &Stack) -> (reqwest::Client, u16) {
    let b = browser();
    let r = sign_in_as(stack, &b, "/", "alice", "alice-password").await;
    (b, r.status().as_u16())
}

#[tokio::test]
async fn idp_key_rotation_costs_one_jwks_fetch_and_forged_key_ids_cost_at_most_one_more() {
    let stack = Stack::start().await;
    let (old_browser, status) = sign_in_status(&stack).await;
    assert_eq!(status, 302);
    let fetches_at_start = stack.mock.counters().jwks_fetches;

    let mock = stack.mock.clone();
    tokio::task::spawn_blocking(move || mock.rotate_keys())
        .await
        .unwrap();
    let (_, status) = sign_in_status(&stack).await;
    assert_eq!(status, 302, "a token signed with the new key is accepted");
    assert_eq!(stack.mock.counters().jwks_fetches, fetches_at_start + 1);
    let r = old_browser.get(stack.url("/app")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the existing session is unaffected");

    // 50 callbacks whose ID tokens name unknown keys, within the 10 s window.
    let started = Instant::now();
    for i in 0..50 {
        stack.mock.next_id_token_tweak(TokenTweak::WrongKey);
        let (_, status) = sign_in_status(&stack).await;
        assert_eq!(status, 401, "forged key id {i} is refused");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let fetches = stack.mock.counters().jwks_fetches;
    assert!(
        fetches <= fetches_at_start + 2,
        "{} JWKS fetches for 50 unknown key ids",
        fetches - fetches_at_start - 1
    );
    let (_, status) = sign_in_status(&stack).await;
    assert_eq!(status, 302, "genuine sign-ins still work");
}

/// Waits until the sidecar closes `stream` (EOF or reset); how long it took.
async fn closed_by_peer(mut stream: TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 => continue,
            _ => return started.elapsed(),
        }
    }
}

/// An HTTP/2 connection (h2c) that sends its preface and settings, then no stream.
async fn h2_without_streams(addr: SocketAddr) -> tokio::task::JoinHandle<Duration> {
    let io = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let started = Instant::now();
        let _ = conn.await;
        drop(client);
        started.elapsed()
    })
}

#[tokio::test]
async fn idle_connections_are_closed_and_never_lock_everyone_out() {
    let nofile = rlimit::increase_nofile_limit(8192).unwrap();
    // Both ends of every socket are in this process.
    let idle = usize::try_from(nofile / 3).unwrap_or(2000).min(2000);
    let stack = Stack::builder()
        .with(|s| s.client_header_timeout = "1s".into())
        .with(|s| s.h2c = "true".into())
        .start()
        .await;
    let addr = stack.sidecar.addr();
    bounded(async {
        let mut waits = Vec::new();
        for i in 0..idle {
            if i % 4 == 0 {
                waits.push(h2_without_streams(addr).await);
            } else {
                let stream = TcpStream::connect(addr).await.unwrap();
                waits.push(tokio::spawn(closed_by_peer(stream)));
            }
        }
        let r = plain_client().get(stack.url("/ping")).send().await.unwrap();
        assert_eq!(r.status(), 200, "served while {idle} sockets idle");
        for wait in waits {
            let waited = timeout(Duration::from_secs(4), wait).await;
            assert!(waited.is_ok(), "an idle connection is closed in time");
        }
    })
    .await;

    // 50 idle sockets fill max-connections 50: the next client is refused
    // until the idle ones are closed, then served.
    let stack = Stack::builder()
        .with(|s| s.client_header_timeout = "1s".into())
        .with(|s| s.max_connections = "50".into())
        .start()
        .await;
    let addr = stack.sidecar.addr();
    bounded(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut sockets = Vec::new();
        for _ in 0..50 {
            sockets.push(TcpStream::connect(addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let client = || {
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap()
        };
        let r = client().get(stack.url("/ping")).send().await.unwrap();
        assert_eq!(r.status(), 503, "the limit is full");
        for socket in sockets {
            let closed = timeout(Duration::from_secs(3), closed_by_peer(socket)).await;
            assert!(closed.is_ok(), "an idle socket is closed in time");
        }
        let r = client().get(stack.url("/ping")).send().await.unwrap();
        assert_eq!(r.status(), 200, "served once the idle sockets are gone");
    })
    .await;
}
