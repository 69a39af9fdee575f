//! The forwarder over real sockets: a recording hyper upstream on 127.0.0.1:0,
//! the forwarder served by a small hyper server, and a hyper (or WebSocket) client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cognito_sidecar::body::{self, Body};
use cognito_sidecar::config::*;
use cognito_sidecar::identity::Identity;
use cognito_sidecar::proxy::{ForwardContext, ProxyError, Upstream};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

const MB: u64 = 1024 * 1024;
const BIG: u64 = 50 * MB;
const CHUNK: usize = 64 * 1024;

/// A complete [`Config`] through the real loader, so new settings never break this file.
fn test_config(upstream: &str) -> Config {
    let env = MapSource::new([
        ("SIDECAR_UPSTREAM", upstream),
        (
            "SIDECAR_ISSUER_URL",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test",
        ),
        ("SIDECAR_CLIENT_ID", "client-id"),
        (
            "SIDECAR_REDIRECT_URL",
            "https://app.example.com/oauth2/callback",
        ),
        ("SIDECAR_SIGN_OUT_URL", "https://app.example.com/"),
        ("SIDECAR_COOKIE_NAME", "_sidecar"),
        ("SIDECAR_COOKIE_SECRET", "0123456789abcdef0123456789abcdef"),
        ("SIDECAR_UPSTREAM_TIMEOUT", "30s"),
        ("SIDECAR_MAX_CONNECTIONS", "1024"),
    ]);
    Config::load(&RunArgs::default(), &env).unwrap()
}

fn jose() -> Identity {
    Identity {
        sub: "5f1c-42".into(),
        email: Some("jose@example.com".into()),
        email_verified: true,
        name: "José Núñez".into(),
        username: "jose".into(),
        groups: vec!["admins".into(), "r&d, east".into()],
        ..Default::default()
    }
}

/// What the recording upstream saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    uri: String,
    headers: HeaderMap,
}

/// The recording upstream and the progress of its streaming routes.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes of request body the upstream has read so far on `/upload`.
    uploaded: Arc<Mutex<Option<watch::Sender<u64>>>>,
    /// Bytes of response body `/download` has produced so far.
    produced: Arc<AtomicU64>,
}

impl Recorder {
    fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("upstream saw a request")
    }
}

async fn serve_upstream(rec: Recorder) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let rec = rec.clone();
            let service = service_fn(move |req| upstream_route(rec.clone(), req));
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

async fn upstream_route(
    rec: Recorder,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let seen = Seen {
        uri: req.uri().to_string(),
        headers: req.headers().clone(),
    };
    rec.seen.lock().unwrap().push(seen);
    let response = match req.uri().path() {
        "/base/upload" => upload(&rec, req.into_body()).await,
        "/base/download" => download(&rec),
        _ => Response::builder()
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("keep-alive", "timeout=5")
            .header("proxy-authenticate", "Basic")
            .header("set-cookie", "_sidecar=evil; Path=/")
            .header("set-cookie", "__Host-_sidecar=evil; Secure")
            .header("set-cookie", "_sidecar_rd=/x")
            .header("set-cookie", "app=1; HttpOnly")
            .header("x-app", "kept")
            .body(body::full("hello"))
            .unwrap(),
    };
    Ok(response)
}

/// Reads the body, reporting progress; answers with the byte count and sum.
async fn upload(rec: &Recorder, mut body: Incoming) -> Response<Body> {
    let progress = rec
        .uploaded
        .lock()
        .unwrap()
        .clone()
        .expect("upload watcher");
    let (mut len, mut sum) = (0u64, 0u64);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            len += data.len() as u64;
            sum += data.iter().map(|&b| u64::from(b)).sum::<u64>();
            progress.send_replace(len);
        }
    }
    Response::new(body::full(format!("{len} {sum}")))
}

/// 50 MB in 64 KiB chunks, counting what has been produced.
fn download(rec: &Recorder) -> Response<Body> {
    let produced = rec.produced.clone();
    let chunks = futures_util::stream::iter(0..BIG / CHUNK as u64).map(move |_| {
        produced.fetch_add(CHUNK as u64, Ordering::SeqCst);
        Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'd'; CHUNK])))
    });
    Response::new(body::boxed(StreamBody::new(chunks)))
}

/// The forwarder behind a small hyper server, as the router will use it.
async fn serve_sidecar(config: Config, identity: Option<Identity>) -> SocketAddr {
    let upstream = Upstream::new(&config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let (upstream, identity) = (upstream.clone(), identity.clone());
            let service = service_fn(move |req| {
                let (upstream, identity) = (upstream.clone(), identity.clone());
                async move {
                    let ctx = ForwardContext {
                        client_addr: peer,
                        identity: identity.as_ref(),
                        session: None,
                        tls: false,
                    };
                    Ok::<_, Infallible>(
                        upstream
                            .forward(req, &ctx)
                            .await
                            .unwrap_or_else(error_response),
                    )
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(conn.with_upgrades());
        }
    });
    addr
}

/// Test-only mapping that tells the variants apart.
fn error_response(error: ProxyError) -> Response<Body> {
    let (status, kind) = match error {
        ProxyError::Connect(_) => (StatusCode::BAD_GATEWAY, "connect"),
        ProxyError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        ProxyError::Upstream(_) => (StatusCode::INTERNAL_SERVER_ERROR, "upstream"),
    };
    Response::builder()
        .status(status)
        .header("x-proxy-error", kind)
        .body(body::empty())
        .unwrap()
}

async fn send(addr: SocketAddr, req: Request<Body>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender.send_request(req).await.unwrap()
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::get(path).header("host", "app.example.com");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(body::empty()).unwrap()
}

/// Upstream + sidecar; the upstream URL has a base path.
async fn setup(
    config: impl FnOnce(&mut Config),
    identity: Option<Identity>,
) -> (Recorder, SocketAddr) {
    let rec = Recorder::default();
    let up = serve_upstream(rec.clone()).await;
    let mut cfg = test_config(&format!("http://{up}/base/"));
    config(&mut cfg);
    (rec, serve_sidecar(cfg, identity).await)
}

const SPOOFS: [&str; 20] = [
    "x-user-email",
    "X-User-Name",
    "x_user_sub",
    "X_User_Groups",
    "x-user_username",
    "x-user-admin",
    "x-auth-request-user",
    "x_auth_request_email",
    "x-amzn-oidc-data",
    "X-Amzn-Oidc-Identity",
    "x-forwarded-user",
    "x-forwarded-email",
    "x_forwarded_groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-sidecar-identity",
    "remote-user",
    "Remote_User",
    "x-remote-user",
    "X_REMOTE_USER",
];

fn spoofed_request() -> Request<Body> {
    let mut headers: Vec<(&str, &str)> =
        SPOOFS.iter().map(|n| (*n, "admin@evil.example")).collect();
    headers.push((
        "cookie",
        "_sidecar=SESSION; app=1; __Host-_sidecar=S2;theme=\"dark blue\"",
    ));
    headers.push(("cookie", "_sidecar_login_abc=L; _sidecar_rd=/x"));
    get("/p/q?x=1&y=%2F", &headers)
}

fn assert_no_spoof(headers: &HeaderMap) {
    for (name, value) in headers {
        assert_ne!(
            value, "admin@evil.example",
            "spoofed {name} reached the upstream"
        );
    }
}

#[tokio::test]
async fn identity_is_set_and_every_spoof_is_removed() {
    let (rec, sidecar) = setup(|_| {}, Some(jose())).await;
    let res = send(sidecar, spoofed_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen = rec.last();
    assert_eq!(seen.uri, "/base/p/q?x=1&y=%2F");
    assert_eq!(seen.headers["host"], "app.example.com");
    assert_no_spoof(&seen.headers);
    let h = &seen.headers;
    assert_eq!(h["x-user-email"], "jose@example.com");
    assert_eq!(h["x-user-name"], "Jos%C3%A9 N%C3%BA%C3%B1ez");
    assert_eq!(h["x-user-sub"], "5f1c-42");
    assert_eq!(h["x-user-groups"], "admins,r&d%2C east");
    assert_eq!(h["x-user-username"], "jose");
    assert_eq!(h.get_all("x-user-email").iter().count(), 1);
    assert_eq!(
        h.get_all("cookie").iter().collect::<Vec<_>>(),
        ["app=1; theme=\"dark blue\""]
    );
}

#[tokio::test]
async fn anonymous_requests_are_stripped_too() {
    let (rec, sidecar) = setup(|_| {}, None).await;
    send(sidecar, spoofed_request()).await;
    let seen = rec.last();
    assert_no_spoof(&seen.headers);
    let identity_like: Vec<_> = seen
        .headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-user"))
        .collect();
    assert!(identity_like.is_empty(), "{identity_like:?}");
}

fn forwarded_request() -> Request<Body> {
    get(
        "/",
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "for=6.6.6.6"),
        ],
    )
}

#[tokio::test]
async fn untrusted_peers_get_the_sidecars_view() {
    let (rec, sidecar) = setup(
        |c| c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()],
        None,
    )
    .await;
    send(sidecar, forwarded_request()).await;
    let h = rec.last().headers;
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "app.example.com");
    assert!(h.get("forwarded").is_none());
}

#[tokio::test]
async fn trusted_peers_are_appended_to() {
    let (rec, sidecar) = setup(
        |c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()],
        None,
    )
    .await;
    send(sidecar, forwarded_request()).await;
    let h = rec.last().headers;
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "evil.example");
    assert_eq!(h["forwarded"], "for=6.6.6.6");
}

#[tokio::test]
async fn hop_by_hop_headers_go_both_ways_and_sidecar_cookies_cannot_be_set() {
    let (rec, sidecar) = setup(|_| {}, None).await;
    let res = send(
        sidecar,
        get(
            "/",
            &[
                ("connection", "keep-alive, x-drop"),
                ("x-drop", "1"),
                ("keep-alive", "300"),
                ("proxy-connection", "keep-alive"),
                ("proxy-authorization", "Basic cHJveHk6cHc="),
                ("authorization", "Bearer app-token"),
                ("te", "trailers"),
                ("trailer", "x-t"),
            ],
        ),
    )
    .await;
    let h = rec.last().headers;
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

    let r = res.headers();
    for gone in ["x-hop", "keep-alive", "proxy-authenticate"] {
        assert!(r.get(gone).is_none(), "{gone} reached the client");
    }
    assert_eq!(r["x-app"], "kept");
    assert_eq!(
        r.get_all("set-cookie").iter().collect::<Vec<_>>(),
        ["app=1; HttpOnly"]
    );
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "hello");
}

#[tokio::test]
async fn upload_streams_before_the_client_has_finished() {
    let (rec, sidecar) = setup(|_| {}, None).await;
    let (progress_tx, mut progress) = watch::channel(0u64);
    *rec.uploaded.lock().unwrap() = Some(progress_tx);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let req = Request::post("/upload")
        .header("host", "h")
        .body(body::boxed(StreamBody::new(stream)))
        .unwrap();
    let response = tokio::spawn(send(sidecar, req));

    let (mut len, mut sum) = (0u64, 0u64);
    let mut chunk = |i: u64| {
        let byte = (i % 251) as u8;
        len += CHUNK as u64;
        sum += u64::from(byte) * CHUNK as u64;
        Bytes::from(vec![byte; CHUNK])
    };
    tx.send(chunk(0)).await.unwrap();
    // The watch guard is dropped at once: holding it would block the upstream's progress.
    let first = tokio::time::timeout(Duration::from_secs(10), progress.wait_for(|&n| n > 0))
        .await
        .is_ok_and(|got| got.is_ok());
    assert!(
        first,
        "the upstream got no bytes while the client held back the rest"
    );
    for i in 1..BIG / CHUNK as u64 {
        tx.send(chunk(i)).await.unwrap();
    }
    drop(tx);
    let res = response.await.unwrap();
    let answer = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(answer, format!("{len} {sum}"));
    assert_eq!(len, BIG);
}

#[tokio::test]
async fn download_streams_with_backpressure() {
    let (rec, sidecar) = setup(|_| {}, None).await;
    let res = send(sidecar, get("/download", &[])).await;
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(!first.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let produced = rec.produced.load(Ordering::SeqCst);
    eprintln!("produced while the client held back: {} MB", produced / MB);
    assert!(
        produced < BIG,
        "the upstream wrote everything while the client read nothing"
    );
    let mut total = first.len() as u64;
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().into_data().map_or(0, |d| d.len() as u64);
    }
    assert_eq!(total, BIG);
    assert_eq!(rec.produced.load(Ordering::SeqCst), BIG);
}

#[tokio::test]
async fn upstream_down_is_a_connect_error() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let sidecar = serve_sidecar(test_config(&format!("http://{closed}/")), None).await;
    let res = send(sidecar, get("/", &[])).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(res.headers()["x-proxy-error"], "connect");
}

#[tokio::test]
async fn hanging_upstream_times_out() {
    let hang = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hang.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hang.accept().await {
            held.push(stream);
        }
    });
    let mut config = test_config(&format!("http://{addr}/"));
    config.timeouts.upstream_headers = Duration::from_millis(300);
    let sidecar = serve_sidecar(config, None).await;
    let started = Instant::now();
    let res = send(sidecar, get("/", &[])).await;
    let elapsed = started.elapsed();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(res.headers()["x-proxy-error"], "timeout");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

/// A WebSocket echo upstream that records the upgrade request's headers.
async fn serve_ws_echo(seen: Arc<Mutex<Option<HeaderMap>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        #[allow(clippy::result_large_err)] // tungstenite's callback signature
        let record = |req: &tokio_tungstenite::tungstenite::handshake::server::Request, res| {
            *seen.lock().unwrap() = Some(req.headers().clone());
            Ok(res)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(stream, record)
            .await
            .unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await.unwrap();
            }
        }
    });
    addr
}

#[tokio::test]
async fn websocket_echo_through_the_forwarder() {
    let seen = Arc::new(Mutex::new(None));
    let up = serve_ws_echo(seen.clone()).await;
    let sidecar = serve_sidecar(test_config(&format!("http://{up}/")), Some(jose())).await;
    let mut req = format!("ws://{sidecar}/socket")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "x-user-email",
        HeaderValue::from_static("admin@evil.example"),
    );
    req.headers_mut().insert(
        "cookie",
        HeaderValue::from_static("_sidecar=SESSION; app=1"),
    );
    let (mut ws, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);

    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    let blob = vec![7u8; 200_000];
    ws.send(Message::binary(blob.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(blob));
    ws.close(None).await.unwrap();

    let h = seen.lock().unwrap().clone().unwrap();
    assert_eq!(h["x-user-email"], "jose@example.com");
    assert_eq!(h["cookie"], "app=1");
    assert_eq!(
        h["upgrade"].to_str().unwrap().to_ascii_lowercase(),
        "websocket"
    );
}
