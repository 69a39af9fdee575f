//! Proxying through the whole sidecar (mock Cognito + sidecar + a real
//! upstream): header hygiene (identity, forwarding, hop-by-hop, cookies both
//! ways), failures on either side, streaming with back-pressure, WebSockets
//! and header limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cognito_sidecar::mock::{Fault, MockEndpoint};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Every identity family and spelling a client might try, as sent on the wire.
const SPOOFED: &[&str] = &[
    "X-User-Email",
    "x-user-name",
    "X_User_Email",
    "x_user_email",
    "X-USER-GROUPS",
    "X-User-Sub",
    "X-User-Username",
    "X-Auth-Request-Email",
    "X-Auth-Request-User",
    "X-Auth-Request-Groups",
    "X-Amzn-Oidc-Data",
    "X-Amzn-Oidc-Identity",
    "X-Amzn-Oidc-Accesstoken",
    "x-forwarded-user",
    "x-forwarded-email",
    "remote-user",
    "X-Remote-User",
    "X-Sidecar-Identity",
    // Look-alikes mixing `_` and `-`.
    "X-User_Groups",
    "x_user-sub",
    "X_USER_USERNAME",
    "X_Auth_Request_Email",
    "x-amzn_oidc-data",
    "X_Amzn_Oidc_Identity",
    "Remote_User",
    "X_Remote-User",
    "X_FORWARDED_USER",
    "x_forwarded-email",
    "x-sidecar_identity",
    "X-User-Is-Admin",
];

const SPOOF_VALUE: &str = "spoofed-admin@evil.example";

/// The identity families, re-stated here independently of the sidecar's code.
fn in_identity_family(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('_', "-");
    ["x-user-", "x-auth-request-", "x-amzn-oidc-"]
        .iter()
        .any(|p| n.starts_with(p))
        || [
            "x-forwarded-user",
            "x-forwarded-email",
            "remote-user",
            "x-remote-user",
            "x-sidecar-identity",
            "x-remote-email",
        ]
        .contains(&n.as_str())
}

/// Signs alice in; the `name=value` of the session cookie the callback set.
async fn session_cookie(stack: &Stack) -> String {
    let r = sign_in_as(stack, &browser(), "/", "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the callback redirects back");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_string())
        .find(|pair| pair.starts_with("_cognito_sidecar="))
        .expect("the callback sets the session cookie")
}

/// One request written byte for byte (header names keep their case and `_`),
/// with `Connection: close`; returns everything the sidecar answered.
async fn raw_request(addr: SocketAddr, path: &str, headers: &[(String, String)]) -> String {
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut answer = Vec::new();
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        stream.read_to_end(&mut answer).await
    };
    timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the sidecar answers in time")
        .expect("a complete answer");
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(raw: &str) -> u16 {
    raw.get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"))
}

fn spoofs(extra: &[&str]) -> Vec<(String, String)> {
    SPOOFED
        .iter()
        .chain(extra)
        .map(|n| (n.to_string(), SPOOF_VALUE.to_string()))
        .collect()
}

#[tokio::test]
async fn spoofed_identity_headers_without_a_session_are_rejected_before_the_upstream() {
    let stack = Stack::start().await;
    let addr = stack.sidecar.addr();
    let mut navigation = spoofs(&[]);
    navigation.push(("Accept".into(), "text/html".into()));
    let raw = raw_request(addr, "/private", &navigation).await;
    assert_eq!(status_of(&raw), 302, "a navigation goes to the IdP: {raw}");
    let raw = raw_request(addr, "/api/private", &spoofs(&[])).await;
    assert_eq!(status_of(&raw), 401, "an API call is refused: {raw}");
    assert_eq!(stack.upstream.count(), 0, "nothing reached the upstream");
}

/// Checks that the upstream saw exactly the sidecar's identity headers.
fn assert_only_sidecar_identity(seen: &Seen, own: &[(&str, &str)]) {
    for (name, value) in &seen.headers {
        assert!(
            !value.contains("spoofed"),
            "a spoofed value reached the upstream in {name}: {value}"
        );
        if in_identity_family(name) {
            assert!(
                own.iter().any(|(n, _)| n == name),
                "identity look-alike {name} reached the upstream"
            );
        }
    }
    for (name, value) in own {
        let values: Vec<&str> = seen
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values, [*value], "{name}");
    }
}

#[tokio::test]
async fn spoofed_identity_headers_with_a_session_are_replaced_by_the_sidecars_values() {
    let stack = Stack::start().await;
    let mut headers = spoofs(&[]);
    headers.push(("Cookie".into(), session_cookie(&stack).await));
    let raw = raw_request(stack.sidecar.addr(), "/private", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    assert!(raw.ends_with("upstream:/private"), "{raw}");
    assert_eq!(stack.upstream.count(), 1);
    let own = [
        ("x-user-email", "alice@example.com"),
        ("x-user-username", "alice"),
        ("x-user-sub", "7d8ca528-4931-4254-9273-ea5ee853f271"),
        (
            "x-user-name",
            "Zo%C3%AB %C3%85ngstr%C3%B6m-%C5%81ukasiewicz",
        ),
        ("x-user-groups", "admins,Engineering%2C Platform"),
        ("x-user-provider", "default"),
    ];
    assert_only_sidecar_identity(&stack.upstream.last(), &own);
}

#[tokio::test]
async fn a_configured_email_header_is_set_and_its_spoofs_are_stripped() {
    let stack = Stack::builder()
        .with(|s| s.header_email = "X-Remote-Email".into())
        .start()
        .await;
    let mut headers = spoofs(&["X-Remote-Email", "X_Remote_Email", "x-remote_email"]);
    headers.push(("Cookie".into(), session_cookie(&stack).await));
    let raw = raw_request(stack.sidecar.addr(), "/private", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let seen = stack.upstream.last();
    let own = [
        ("x-remote-email", "alice@example.com"),
        ("x-user-username", "alice"),
        ("x-user-sub", "7d8ca528-4931-4254-9273-ea5ee853f271"),
        (
            "x-user-name",
            "Zo%C3%AB %C3%85ngstr%C3%B6m-%C5%81ukasiewicz",
        ),
        ("x-user-groups", "admins,Engineering%2C Platform"),
        ("x-user-provider", "default"),
    ];
    assert_only_sidecar_identity(&seen, &own);
    assert_eq!(seen.header("x-user-email"), None);
}

/// A signed-in GET of `/fwd` with client-made forwarding headers.
async fn forwarded_request(stack: &Stack) -> Seen {
    let cookie = session_cookie(stack).await;
    let r = plain_client()
        .get(stack.url("/fwd"))
        .header("cookie", cookie)
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "for=6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stack.upstream.last()
}

#[tokio::test]
async fn client_forwarding_headers_are_replaced_by_default() {
    let stack = Stack::start().await;
    let seen = forwarded_request(&stack).await;
    let host = stack.sidecar.addr().to_string();
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.header("x-forwarded-host"), Some(host.as_str()));
    assert_eq!(seen.header("forwarded"), None);
    assert_eq!(seen.header("x-real-ip"), None);
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_are_kept_and_appended_to() {
    let stack = Stack::builder()
        .with(|s| s.trusted_proxies = support::words("127.0.0.1/32"))
        .start()
        .await;
    let seen = forwarded_request(&stack).await;
    assert_eq!(seen.header("x-forwarded-for"), Some("6.6.6.6, 127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-host"), Some("evil.example"));
}

/// Headers apps read as the URL, method, scheme, port, prefix or client
/// address (README "Security"), sent by the client.
const ROUTING: [&str; 14] = [
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-HTTP-Method-Override",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "True-Client-IP",
    "X-Forwarded-Server",
    "X-Real-IP",
    "X-Client-IP",
    "Forwarded",
    "X-Forwarded-Uri",
    "X-Method-Override",
    "X_Original_URL",
    "CF-Connecting-IP",
];

async fn with_routing_headers(stack: &Stack) -> Seen {
    let cookie = session_cookie(stack).await;
    let mut request = plain_client()
        .get(stack.url("/fwd"))
        .header("cookie", cookie);
    for name in ROUTING {
        request = request.header(name, "/admin");
    }
    let request = request
        .header("Remote-Groups", "admins")
        .header("Remote-Email", "admin@example.com");
    assert_eq!(request.send().await.unwrap().status(), 200);
    stack.upstream.last()
}

#[tokio::test]
async fn routing_and_identity_look_alikes_from_untrusted_clients_are_stripped() {
    let stack = Stack::start().await;
    let seen = with_routing_headers(&stack).await;
    for name in ROUTING.iter().chain(&["Remote-Groups", "Remote-Email"]) {
        assert_eq!(seen.header(name), None, "{name}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_keeps_routing_headers_but_never_identity_ones() {
    let stack = Stack::builder()
        .with(|s| s.trusted_proxies = support::words("127.0.0.1/32"))
        .start()
        .await;
    let seen = with_routing_headers(&stack).await;
    for name in ROUTING {
        assert_eq!(seen.header(name), Some("/admin"), "{name}");
    }
    assert_eq!(seen.header("Remote-Groups"), None);
    assert_eq!(seen.header("Remote-Email"), None);
}

#[tokio::test]
async fn the_sidecars_cookies_stay_with_the_sidecar_and_others_pass() {
    let stack = Stack::start().await;
    let session = session_cookie(&stack).await;
    let client = plain_client();
    let cookies = format!("theme=dark; {session}; lang=en; _cognito_sidecar_login=abc");
    let r = client
        .get(stack.url("/c"))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        stack.upstream.last().header("cookie"),
        Some("theme=dark; lang=en")
    );
    let r = client
        .get(stack.url("/c"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(stack.upstream.count(), 2);
    assert_eq!(stack.upstream.last().header("cookie"), None);
    // Two Cookie headers, the `__Host-` spelling and a quoted value, kept byte for byte.
    let headers = [
        (
            "Cookie".to_string(),
            format!("{session}; app=1; __Host-_cognito_sidecar=S2;theme=\"dark blue\""),
        ),
        (
            "Cookie".to_string(),
            "_cognito_sidecar_login_abc=L; _cognito_sidecar_rd=/x".to_string(),
        ),
    ];
    let raw = raw_request(stack.sidecar.addr(), "/c", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let seen = stack.upstream.last();
    let cookies: Vec<&str> = seen
        .headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["app=1; theme=\"dark blue\""]);
}

/// An upstream answering with hop-by-hop headers and cookies named like the
/// sidecar's; records the request headers it got.
async fn hop_upstream() -> (
    SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<http::HeaderMap>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    record.lock().unwrap().push(req.headers().clone());
                    let response = http::Response::builder()
                        .header("connection", "x-hop")
                        .header("x-hop", "1")
                        .header("keep-alive", "timeout=5")
                        .header("proxy-authenticate", "Basic")
                        .header("set-cookie", "_cognito_sidecar=evil; Path=/")
                        .header("set-cookie", "__Host-_cognito_sidecar=evil; Secure")
                        .header("set-cookie", "_cognito_sidecar_rd=/x")
                        .header("set-cookie", "app=1; HttpOnly")
                        .header("x-app", "kept")
                        .body(http_body_util::Full::new(bytes::Bytes::from("hello")));
                    async move { response }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn hop_by_hop_headers_go_both_ways_and_sidecar_cookies_cannot_be_set() {
    let (upstream, seen) = hop_upstream().await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let mut headers: Vec<(String, String)> = [
        ("Connection", "x-drop"),
        ("x-drop", "1"),
        ("keep-alive", "300"),
        ("proxy-connection", "keep-alive"),
        ("proxy-authorization", "Basic cHJveHk6cHc="),
        ("authorization", "Bearer app-token"),
        ("te", "trailers"),
        ("trailer", "x-t"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    headers.push(("Cookie".into(), session_cookie(&stack).await));
    let raw = raw_request(stack.sidecar.addr(), "/", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let h = seen.lock().unwrap().last().cloned().unwrap();
    for gone in [
        "x-drop",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "trailer",
    ] {
        assert!(h.get(gone).is_none(), "{gone} reached the upstream");
    }
    assert_eq!(h["authorization"], "Bearer app-token");
    assert_eq!(h["te"], "trailers");

    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let answer: Vec<(String, &str)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim()))
        .collect();
    let values = |name: &str| -> Vec<&str> {
        let named = answer.iter().filter(|(n, _)| n == name);
        named.map(|(_, v)| *v).collect()
    };
    for gone in ["x-hop", "keep-alive", "proxy-authenticate"] {
        assert!(values(gone).is_empty(), "{gone} reached the client: {head}");
    }
    assert_eq!(values("x-app"), ["kept"]);
    assert_eq!(values("set-cookie"), ["app=1; HttpOnly"]);
    assert!(body.ends_with("hello"), "{body}");
}

/// A loopback port nothing listens on (bound, then released).
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn upstream_down_gives_502_then_recovers_when_it_comes_back() {
    let down = closed_port().await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{down}")))
        .start()
        .await;
    let client = signed_in(&stack).await;
    let r = navigate(&client, &stack.url("/app")).await;
    assert_eq!(r.status(), 502);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("Application unavailable"));
    let r = client
        .get(stack.url("/api/items"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"], "upstream_unavailable");

    let revived = RecordingUpstream::start_on(TcpListener::bind(down).await.unwrap()).await;
    let r = navigate(&client, &stack.url("/app")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "upstream:/app");
    assert_eq!(revived.count(), 1);
}

#[tokio::test]
async fn a_hanging_upstream_gives_504_after_the_upstream_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{addr}")))
        .with(|s| s.upstream_timeout = "1s".into())
        .start()
        .await;
    let client = signed_in(&stack).await;
    let started = Instant::now();
    let r = timeout(
        Duration::from_secs(10),
        client.get(stack.url("/slow")).send(),
    )
    .await
    .expect("the sidecar answers")
    .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 504);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"], "upstream_timeout");
}

/// A navigation and the IdP's form, up to (not including) the callback.
async fn callback_url(stack: &Stack, client: &reqwest::Client) -> String {
    let r = navigate(client, &stack.url("/after")).await;
    assert_eq!(r.status(), 302);
    let r = submit_login(client, &location(&r), "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the mock accepts the password");
    location(&r)
}

/// Follows the callback like a browser; the status, the page and how long it took.
async fn timed_callback(client: &reqwest::Client, callback: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = timeout(Duration::from_secs(20), navigate(client, callback))
        .await
        .expect("the callback answers");
    let took = started.elapsed();
    let status = r.status().as_u16();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    (status, r.text().await.unwrap(), took)
}

async fn assert_sign_in_works(stack: &Stack) {
    let client = signed_in(stack).await;
    let r = navigate(&client, &stack.url("/welcome")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "upstream:/welcome");
}

#[tokio::test]
async fn a_hanging_token_endpoint_gives_504_in_bounded_time_and_sign_in_recovers() {
    let stack = Stack::builder()
        .with(|s| s.idp_timeout = "1s".into())
        .start()
        .await;
    let client = browser();
    let callback = callback_url(&stack, &client).await;
    let hang = Fault::Hang(Duration::from_secs(30));
    stack.mock.set_fault(MockEndpoint::Token, Some(hang));
    let (status, page, took) = timed_callback(&client, &callback).await;
    assert_eq!(status, 504);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(page.contains("Sign-in unavailable"), "{page}");
    assert!(
        page.contains("/oauth2/start?rd=%2Fafter"),
        "a retry link: {page}"
    );
    assert_eq!(stack.upstream.count(), 0);
    stack.mock.set_fault(MockEndpoint::Token, None);
    assert_sign_in_works(&stack).await;
}

#[tokio::test]
async fn broken_token_answers_give_502_and_sign_in_recovers() {
    let stack = Stack::builder()
        .with(|s| s.idp_timeout = "1s".into())
        .start()
        .await;
    for fault in [
        Fault::Status500,
        Fault::Html,
        Fault::TruncatedJson,
        Fault::MissingIdToken,
    ] {
        let client = browser();
        let callback = callback_url(&stack, &client).await;
        stack
            .mock
            .set_fault(MockEndpoint::Token, Some(fault.clone()));
        let (status, page, took) = timed_callback(&client, &callback).await;
        assert_eq!(status, 502, "{fault:?}: {page}");
        assert!(took < Duration::from_secs(5), "{fault:?}: {took:?}");
        assert!(page.contains("Sign-in unavailable"), "{fault:?}: {page}");
        let r = navigate(&client, &stack.url("/after")).await;
        assert_eq!(r.status(), 302, "{fault:?}: no session was made");
        stack.mock.set_fault(MockEndpoint::Token, None);
    }
    assert_eq!(stack.upstream.count(), 0);
    assert_sign_in_works(&stack).await;
}

#[tokio::test]
async fn an_idp_refusing_connections_at_the_callback_gives_502_in_bounded_time() {
    let stack = Stack::builder()
        .with(|s| s.idp_timeout = "1s".into())
        .start()
        .await;
    let client = browser();
    let callback = callback_url(&stack, &client).await;
    stack.mock.clone().shutdown().await;
    let (status, page, took) = timed_callback(&client, &callback).await;
    assert_eq!(status, 502, "{page}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(page.contains("Sign-in unavailable"), "{page}");
}

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 800;
const FIFTY_MB: u64 = (CHUNK * CHUNKS) as u64;

/// Transfers that measure memory run one at a time.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The resident memory of this process (sidecar included), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// How much more than `before` the resident memory reached while `work` ran,
/// sampled every 5 ms, so a buffer freed at the end is still seen.
async fn peak_growth<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = resident_bytes();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(resident_bytes(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let out = timeout(Duration::from_secs(120), work)
        .await
        .expect("the transfer finishes");
    sampler.abort();
    let peak = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(resident_bytes());
    (out, peak.saturating_sub(before))
}

/// An upstream that counts an uploaded body (`POST /upload`, reporting its
/// first bytes on `first`) or streams 50 MB of generated chunks (`GET /download`,
/// counting the bytes it has produced so far).
async fn streaming_upstream(
    first: tokio::sync::mpsc::Sender<()>,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let produced = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = produced.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (first, counter) = (first.clone(), counter.clone());
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (first, counter) = (first.clone(), counter.clone());
                    async move {
                        if req.uri().path() == "/download" {
                            let chunk = bytes::Bytes::from(vec![b'd'; CHUNK]);
                            let frames = futures_util::stream::iter((0..CHUNKS).map(move |_| {
                                counter
                                    .fetch_add(CHUNK as u64, std::sync::atomic::Ordering::SeqCst);
                                Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))
                            }));
                            return Ok::<_, hyper::Error>(http::Response::new(
                                StreamBody::new(frames).boxed(),
                            ));
                        }
                        let mut body = req.into_body();
                        let mut received = 0u64;
                        while let Some(frame) = body.frame().await {
                            if let Ok(data) = frame?.into_data() {
                                if received == 0 && !data.is_empty() {
                                    let _ = first.try_send(());
                                }
                                received += data.len() as u64;
                            }
                        }
                        let text = bytes::Bytes::from(received.to_string());
                        let frames = futures_util::stream::iter([Ok(Frame::data(text))]);
                        Ok(http::Response::new(StreamBody::new(frames).boxed()))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, produced)
}

type Frames = http_body_util::StreamBody<
    futures_util::stream::BoxStream<
        'static,
        Result<hyper::body::Frame<bytes::Bytes>, std::convert::Infallible>,
    >,
>;

/// 50 MB in chunks: one chunk, then a wait (at most 10 s) until the upstream
/// reports its first bytes (`early` says whether it did), then the rest.
fn upload_body(
    first: tokio::sync::mpsc::Receiver<()>,
    early: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Frames {
    use futures_util::StreamExt;
    let chunk = bytes::Bytes::from(vec![b'u'; CHUNK]);
    let frames = futures_util::stream::unfold((0, Some(first)), move |(i, mut first)| {
        let (chunk, early) = (chunk.clone(), early.clone());
        async move {
            if i == CHUNKS {
                return None;
            }
            if let (1, Some(rx)) = (i, first.as_mut()) {
                let got = timeout(Duration::from_secs(10), rx.recv()).await;
                early.store(
                    matches!(got, Ok(Some(()))),
                    std::sync::atomic::Ordering::SeqCst,
                );
            }
            Some((Ok(hyper::body::Frame::data(chunk)), (i + 1, first)))
        }
    });
    http_body_util::StreamBody::new(frames.boxed())
}

#[tokio::test]
async fn a_50_mb_upload_streams_to_the_upstream_with_bounded_memory() {
    use http_body_util::BodyExt;
    let _serial = MEMORY.lock().await;
    let (first_tx, first_rx) = tokio::sync::mpsc::channel(1);
    let (upstream, _) = streaming_upstream(first_tx).await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let cookie = session_cookie(&stack).await;
    let addr = stack.sidecar.addr();
    let early = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let upload = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let req = http::Request::post("/upload")
            .header("host", addr.to_string())
            .header("cookie", &cookie)
            .header("content-type", "application/octet-stream")
            .body(upload_body(first_rx, early.clone()))
            .unwrap();
        let r = sender.send_request(req).await.unwrap();
        let status = r.status();
        (status, r.into_body().collect().await.unwrap().to_bytes())
    };
    let ((status, body), grown) = peak_growth(upload).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        FIFTY_MB.to_string().as_bytes(),
        "bytes the upstream got"
    );
    assert!(
        early.load(std::sync::atomic::Ordering::SeqCst),
        "the upstream got the first bytes while the client was still sending"
    );
    assert!(grown < 20 << 20, "resident memory grew by {grown} bytes");
}

#[tokio::test]
async fn a_50_mb_download_streams_to_the_client_with_bounded_memory() {
    let _serial = MEMORY.lock().await;
    let (first_tx, _first_rx) = tokio::sync::mpsc::channel(1);
    let (upstream, _) = streaming_upstream(first_tx).await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let cookie = session_cookie(&stack).await;
    let download = async {
        let mut r = plain_client()
            .get(stack.url("/download"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (mut total, mut chunks) = (0u64, 0u64);
        while let Some(chunk) = r.chunk().await.unwrap() {
            assert!(chunk.iter().all(|&b| b == b'd'), "the upstream's bytes");
            total += chunk.len() as u64;
            chunks += 1;
        }
        (total, chunks)
    };
    let ((total, chunks), grown) = peak_growth(download).await;
    assert_eq!(total, FIFTY_MB);
    assert!(chunks > 100, "arrived in {chunks} chunks");
    assert!(grown < 20 << 20, "resident memory grew by {grown} bytes");
}

#[tokio::test]
async fn a_download_the_client_does_not_read_holds_the_upstream_back() {
    let (first_tx, _first_rx) = tokio::sync::mpsc::channel(1);
    let (upstream, produced) = streaming_upstream(first_tx).await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let mut r = plain_client()
        .get(stack.url("/download"))
        .header("cookie", session_cookie(&stack).await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut total = r.chunk().await.unwrap().unwrap().len() as u64;
    // Buffers fill within this; without back-pressure all 50 MB would be produced.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held_back = produced.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        held_back < FIFTY_MB / 2,
        "the upstream wrote {held_back} bytes while the client read nothing"
    );
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
    }
    assert_eq!(total, FIFTY_MB);
}

/// An upstream WebSocket echo server; records each handshake's headers.
async fn ws_echo_upstream() -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                // The error type is tungstenite's `Callback` contract.
                #[allow(clippy::result_large_err)]
                let callback = |req: &Request, resp: Response| {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect();
                    let path = req.uri().path().to_string();
                    let method = req.method().to_string();
                    record.lock().unwrap().push(Seen {
                        method,
                        path,
                        headers,
                    });
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, handshakes)
}

#[tokio::test]
async fn a_websocket_echoes_through_the_sidecar_for_a_signed_in_user_only() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Error, Message};

    let (upstream, handshakes) = ws_echo_upstream().await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let url = format!("ws://{}/ws/chat", stack.sidecar.addr());
    let anonymous = url.clone().into_client_request().unwrap();
    match timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(anonymous),
    )
    .await
    {
        Ok(Err(Error::Http(response))) => assert_eq!(response.status(), 401),
        other => panic!("an upgrade without a session must be refused: {other:?}"),
    }
    assert!(
        handshakes.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );

    let mut request = url.into_client_request().unwrap();
    let cookie = session_cookie(&stack).await;
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("x-user-email", SPOOF_VALUE.parse().unwrap());
    let (mut ws, response) = timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .expect("the handshake finishes")
    .expect("the upgrade succeeds");
    assert_eq!(response.status(), 101);
    for text in ["hello through the sidecar", "and a second message"] {
        ws.send(Message::text(text)).await.unwrap();
        let echoed = timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the echo arrives")
            .expect("the socket is open")
            .unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    let blob = vec![7u8; 200_000];
    ws.send(Message::binary(blob.clone())).await.unwrap();
    let echoed = timeout(Duration::from_secs(10), ws.next()).await;
    let echoed = echoed.expect("the echo arrives").unwrap().unwrap();
    assert_eq!(echoed, Message::binary(blob), "a large binary frame");
    ws.close(None).await.unwrap();
    let seen = handshakes.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/ws/chat");
    assert_eq!(seen[0].header("x-user-email"), Some("alice@example.com"));
    assert_eq!(
        seen[0].header("cookie"),
        None,
        "the session cookie stays behind"
    );
}

/// Sends `headers` with a valid session; the raw answer, or `None` when the
/// sidecar closed the connection without a readable answer.
async fn with_big_headers(stack: &Stack, headers: Vec<(String, String)>) -> Option<String> {
    let mut head = format!(
        "GET /big HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {}\r\n",
        stack.sidecar.addr(),
        session_cookie(stack).await
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(stack.sidecar.addr()).await.unwrap();
    let mut answer = Vec::new();
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        stream.read_to_end(&mut answer).await
    };
    let result = timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the sidecar answers or closes in time");
    match result {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) if answer.is_empty() => {
            eprintln!("connection ended without an answer: {e}");
            None
        }
        Err(e) => panic!("partial answer then {e}: {answer:?}"),
    }
}

fn padding(count: usize, value_len: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| (format!("x-pad-{i:03}"), "p".repeat(value_len)))
        .collect()
}

#[tokio::test]
async fn request_headers_over_the_limit_get_431_and_never_reach_the_upstream() {
    let stack = Stack::builder()
        .with(|s| s.max_header_bytes = "16KiB".into())
        .start()
        .await;
    let under = with_big_headers(&stack, padding(20, 100)).await.unwrap();
    assert_eq!(status_of(&under), 200, "a normal request passes: {under}");
    assert_eq!(stack.upstream.count(), 1);
    // Past hyper's read buffer or its 100-header cap: hyper answers 431 (the kernel may turn the
    // close with unread bytes into a reset, so an answer is not guaranteed).
    for (what, headers) in [
        ("one 40 KB header", padding(1, 40 * 1024)),
        ("200 headers of 100 bytes", padding(200, 100)),
    ] {
        let answer = with_big_headers(&stack, headers).await;
        if let Some(answer) = &answer {
            assert_eq!(status_of(answer), 431, "{what}: {answer}");
        }
        assert_eq!(stack.upstream.count(), 1, "{what} reached the upstream");
    }
    // Within hyper's buffer but over the limit: the sidecar's own 431.
    let answer = with_big_headers(&stack, padding(16, 1010)).await;
    let answer = answer.expect("an answer to a head that was read whole");
    assert_eq!(status_of(&answer), 431, "{answer}");
    assert!(answer.contains("headers_too_large"), "{answer}");
    assert_eq!(
        stack.upstream.count(),
        1,
        "16 KB of headers reached the upstream"
    );
}
