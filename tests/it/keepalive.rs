//! Idle keep-alive connections do not stay open forever: for HTTP/1.1,
//! hyper arms the header timeout while a connection waits for its next request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed_after_the_header_timeout() {
    let stack = Stack::builder()
        .with(|s| s.client_header_timeout = "2s".into())
        .start()
        .await;
    let addr = stack.sidecar.addr();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /ping HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle_since = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(8), conn.read(&mut buf)).await;
    let waited = idle_since.elapsed();
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the server closes the idle connection"
    );
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
}
