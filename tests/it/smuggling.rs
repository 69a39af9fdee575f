//! Request smuggling and malformed framing: raw bytes written to the sidecar
//! must never reach the upstream unless they parse as exactly one well-formed
//! request. The upstream here records every byte it receives on raw TCP.
//!
//! hyper refuses bad framing and bad header lines itself; `server::framing`
//! refuses ambiguous target hosts. Two inputs are accepted on purpose, as
//! RFC 9112 allows: `Content-Length` with `Transfer-Encoding: chunked` (the
//! length is dropped, the body read as chunked, the connection closed after),
//! and bare LF line ends. Both reach the upstream only as one re-serialized
//! request, which the last two tests pin down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// An upstream on raw TCP that keeps every byte it receives and answers a
/// fixed 200 once a complete request (headers plus a sized or chunked body) arrived.
#[derive(Clone)]
struct ByteUpstream {
    addr: SocketAddr,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl ByteUpstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bytes: Arc<Mutex<Vec<u8>>> = Arc::default();
        let store = bytes.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(record_connection(stream, store.clone()));
            }
        });
        Self { addr, bytes }
    }

    fn received(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

/// Length of the first complete request in `buf` (None while incomplete).
fn complete_request(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        let tail = buf[end..].windows(5).position(|w| w == b"0\r\n\r\n")?;
        return Some(end + tail + 5);
    }
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= end + len).then_some(end + len)
}

async fn record_connection(mut stream: TcpStream, store: Arc<Mutex<Vec<u8>>>) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        store.lock().unwrap().extend_from_slice(&chunk[..n]);
        pending.extend_from_slice(&chunk[..n]);
        while let Some(len) = complete_request(&pending) {
            pending.drain(..len);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
    }
}

/// A stack whose upstream is a [`ByteUpstream`], and alice's `name=value` session cookie.
async fn stack_with_byte_upstream() -> (Stack, ByteUpstream, String) {
    stack_with_byte_upstream_at("/").await
}

/// Like [`stack_with_byte_upstream`], with `base` as the upstream URL's path.
async fn stack_with_byte_upstream_at(base: &str) -> (Stack, ByteUpstream, String) {
    let upstream = ByteUpstream::start().await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{}{base}", upstream.addr)))
        .start()
        .await;
    let r = sign_in_as(&stack, &browser(), "/", "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the callback redirects back");
    let cookie = set_cookies(&r)
        .iter()
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_string())
        .find(|pair| pair.starts_with("_cognito_sidecar=") && pair.len() > 20)
        .expect("the callback sets the session cookie");
    (stack, upstream, cookie)
}

/// Writes `raw` to the sidecar and reads until it closes (bounded); the answer
/// and whether the sidecar closed the connection.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut answer = Vec::new();
    let talk = async {
        stream.write_all(raw).await?;
        stream.read_to_end(&mut answer).await
    };
    // A reset after the answer counts as closed; what was read so far is kept.
    let closed = timeout(Duration::from_secs(5), talk).await.is_ok();
    (answer, closed)
}

fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

/// Host, alice's cookie and `Connection: close`, CRLF-terminated.
fn common(addr: SocketAddr, cookie: &str) -> String {
    format!("Host: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n")
}

/// What the upstream received while `raw` was exchanged with the sidecar.
async fn upstream_bytes_for(
    stack: &Stack,
    upstream: &ByteUpstream,
    raw: &[u8],
) -> (Vec<u8>, bool, Vec<u8>) {
    let before = upstream.received().len();
    let (answer, closed) = exchange(stack.sidecar.addr(), raw).await;
    // The sidecar answers only after the upstream did, so nothing is in flight;
    // a short pause still catches bytes sent after a refusal by mistake.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let got = upstream.received()[before..].to_vec();
    (answer, closed, got)
}

/// Each request gets a 400 (or a bare close) and the upstream receives no byte.
async fn assert_refused(stack: &Stack, upstream: &ByteUpstream, cases: Vec<(&str, Vec<u8>)>) {
    for (what, raw) in cases {
        let (answer, closed, got) = upstream_bytes_for(stack, upstream, &raw).await;
        assert!(closed, "{what}: the sidecar closes the connection");
        let status = status_of(&answer);
        assert!(
            status == Some(400) || answer.is_empty(),
            "{what}: answered {:?}",
            String::from_utf8_lossy(&answer)
        );
        assert!(
            got.is_empty(),
            "{what}: the upstream received {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// The requests (request lines) in what the upstream received.
fn request_lines(got: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(got)
        .split("\r\n")
        .filter(|line| line.ends_with(" HTTP/1.1") && !line.contains(':'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_well_formed_request_reaches_the_recording_upstream() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let h = common(stack.sidecar.addr(), &cookie);
    let raw = format!("GET /fine HTTP/1.1\r\n{h}\r\n");
    let (answer, closed, got) = upstream_bytes_for(&stack, &upstream, raw.as_bytes()).await;
    assert!(closed);
    assert_eq!(status_of(&answer), Some(200), "{answer:?}");
    assert_eq!(request_lines(&got), ["GET /fine HTTP/1.1"]);
}

#[tokio::test]
async fn conflicting_or_unknown_body_framing_gets_400_and_sends_no_byte_upstream() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let h = common(stack.sidecar.addr(), &cookie);
    let cases = vec![
        (
            "two different Content-Length",
            format!("POST /a HTTP/1.1\r\n{h}Content-Length: 4\r\nContent-Length: 40\r\n\r\nabcd"),
        ),
        (
            "a Content-Length list",
            format!("POST /a HTTP/1.1\r\n{h}Content-Length: 4, 40\r\n\r\nabcd"),
        ),
        (
            "Transfer-Encoding: chunked, identity",
            format!("POST /a HTTP/1.1\r\n{h}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding: xchunked",
            format!("POST /a HTTP/1.1\r\n{h}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            format!("POST /a HTTP/1.0\r\n{h}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ),
    ];
    let cases = cases
        .into_iter()
        .map(|(w, r)| (w, r.into_bytes()))
        .collect();
    assert_refused(&stack, &upstream, cases).await;
}

#[tokio::test]
async fn malformed_header_lines_get_400_and_send_no_byte_upstream() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let h = common(stack.sidecar.addr(), &cookie);
    let line = |extra: &str| format!("GET /a HTTP/1.1\r\n{h}{extra}\r\n\r\n").into_bytes();
    let cases = vec![
        ("obsolete line folding", line("X-Foo: a\r\n b")),
        ("a space before the colon", line("X-Foo : bar")),
        ("a tab inside the name", line("X\tFoo: bar")),
        ("a NUL inside the name", line("X-F\0oo: bar")),
        ("a NUL inside the value", line("X-Foo: b\0ar")),
        ("a non-ASCII name", line("X-F\u{f6}o: bar")),
        ("a bare CR inside the value", line("X-Foo: a\rb")),
        (
            "a space inside the target",
            format!("GET /a b HTTP/1.1\r\n{h}\r\n").into_bytes(),
        ),
    ];
    assert_refused(&stack, &upstream, cases).await;
}

#[tokio::test]
async fn ambiguous_target_hosts_get_400_and_send_no_byte_upstream() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let addr = stack.sidecar.addr();
    let h = common(addr, &cookie);
    let bare = format!("Cookie: {cookie}\r\nConnection: close\r\n");
    let cases = vec![
        (
            "absolute-form naming another host",
            format!("GET http://evil.example/a HTTP/1.1\r\n{h}\r\n"),
        ),
        (
            "two Host lines",
            format!("GET /a HTTP/1.1\r\n{h}Host: evil.example\r\n\r\n"),
        ),
        (
            "HTTP/1.1 without Host",
            format!("GET /a HTTP/1.1\r\n{bare}\r\n"),
        ),
        (
            "CONNECT",
            format!("CONNECT evil.example:443 HTTP/1.1\r\n{h}\r\n"),
        ),
    ];
    let cases = cases
        .into_iter()
        .map(|(w, r)| (w, r.into_bytes()))
        .collect();
    assert_refused(&stack, &upstream, cases).await;

    // RFC 9112 3.2.2: absolute-form naming the Host itself must be accepted.
    let raw = format!("GET http://{addr}/same HTTP/1.1\r\n{h}\r\n");
    let (answer, _, got) = upstream_bytes_for(&stack, &upstream, raw.as_bytes()).await;
    assert_eq!(status_of(&answer), Some(200), "{answer:?}");
    assert_eq!(request_lines(&got), ["GET /same HTTP/1.1"]);
}

#[tokio::test]
async fn content_length_with_chunked_reaches_the_upstream_as_one_chunked_request_then_closes() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let addr = stack.sidecar.addr();
    // No `Connection: close`: the sidecar must close by itself after such a request.
    let h = format!("Host: {addr}\r\nCookie: {cookie}\r\n");
    let smuggled = format!("GET /smuggled HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n");
    for (what, framing) in [
        (
            "CL first",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        ),
        (
            "TE first",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        ),
    ] {
        let raw = format!("POST /form HTTP/1.1\r\n{h}{framing}\r\n0\r\n\r\n{smuggled}");
        let (answer, closed, got) = upstream_bytes_for(&stack, &upstream, raw.as_bytes()).await;
        assert!(closed, "{what}: the connection closes after the answer");
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status_of(&answer), Some(200), "{what}: {text}");
        assert_eq!(
            text.matches("HTTP/1.1 ").count(),
            1,
            "{what}: one answer: {text}"
        );
        assert_eq!(request_lines(&got), ["POST /form HTTP/1.1"], "{what}");
        let seen = String::from_utf8_lossy(&got).to_ascii_lowercase();
        assert!(!seen.contains("content-length"), "{what}: {seen}");
        assert!(
            seen.contains("transfer-encoding: chunked\r\n"),
            "{what}: {seen}"
        );
        assert!(seen.ends_with("\r\n\r\n0\r\n\r\n"), "{what}: {seen:?}");
    }
}

#[tokio::test]
async fn bare_lf_line_ends_reach_the_upstream_only_as_one_crlf_request() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let h = common(stack.sidecar.addr(), &cookie).replace("\r\n", "\n");
    // RFC 9112 2.2 lets a recipient accept bare LF; the sidecar re-serializes.
    let raw = format!("GET /lf HTTP/1.1\n{h}X-A: 1\n\n");
    let (answer, closed, got) = upstream_bytes_for(&stack, &upstream, raw.as_bytes()).await;
    assert!(closed);
    assert_eq!(status_of(&answer), Some(200), "{answer:?}");
    assert_eq!(request_lines(&got), ["GET /lf HTTP/1.1"]);
    let bare_lf = got
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || got[i - 1] != b'\r'));
    assert!(!bare_lf, "{:?}", String::from_utf8_lossy(&got));
    assert!(String::from_utf8_lossy(&got).contains("\r\nx-a: 1\r\n"));

    // A request line hidden among bare-LF header lines is no header: refused.
    let raw = format!("GET /lf HTTP/1.1\n{h}GET /smuggled HTTP/1.1\n\n");
    assert_refused(
        &stack,
        &upstream,
        vec![("a hidden request line", raw.into_bytes())],
    )
    .await;
}

#[tokio::test]
async fn connection_options_cannot_remove_the_host_or_forwarded_headers() {
    let (stack, upstream, cookie) = stack_with_byte_upstream().await;
    let raw = format!(
        "GET /conn HTTP/1.1\r\nHost: app.localhost\r\nCookie: {cookie}\r\n\
         Connection: close, host, x-forwarded-host, x-forwarded-for, cookie\r\nCookie: app=1\r\n\r\n"
    );
    let (answer, _, got) = upstream_bytes_for(&stack, &upstream, raw.as_bytes()).await;
    assert_eq!(status_of(&answer), Some(200), "{answer:?}");
    let got = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(got.contains("\r\nhost: app.localhost\r\n"), "{got}");
    assert!(
        got.contains("\r\nx-forwarded-host: app.localhost\r\n"),
        "{got}"
    );
    assert!(got.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"), "{got}");
    assert!(got.contains("\r\ncookie: app=1\r\n"), "{got}");
    assert!(!got.contains(&format!("{}\r\n", upstream.addr)), "{got}");
}

#[tokio::test]
async fn dot_segments_cannot_leave_the_upstream_base_path() {
    let (stack, upstream, cookie) = stack_with_byte_upstream_at("/base/").await;
    let h = common(stack.sidecar.addr(), &cookie);
    let cases = [
        "/../internal/admin",
        "/%2e%2e/internal/admin",
        "/%2E%2E/internal/admin",
        "/.%2e/internal/admin",
        "/app/..%2f..%2finternal/admin",
        "/..;/internal/admin",
    ]
    .iter()
    .map(|path| {
        (
            *path,
            format!("GET {path} HTTP/1.1\r\n{h}\r\n").into_bytes(),
        )
    })
    .collect();
    assert_refused(&stack, &upstream, cases).await;
    let raw = format!("GET /app/x HTTP/1.1\r\n{h}\r\n");
    let (answer, _, got) = upstream_bytes_for(&stack, &upstream, raw.as_bytes()).await;
    assert_eq!(status_of(&answer), Some(200), "{answer:?}");
    assert_eq!(request_lines(&got), ["GET /base/app/x HTTP/1.1"]);
}
