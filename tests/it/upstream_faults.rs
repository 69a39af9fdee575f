//! An upstream that resets the connection in the middle of a response body:
//! the client sees a cut-short body (never a forged complete one), and the next
//! request succeeds on a fresh upstream connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The first connection announces 1 MiB, sends 64 KiB and resets; later ones answer properly.
async fn resetting_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = stream.read(&mut buf).await;
                if n == 0 {
                    let head = "HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n";
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&vec![b'x'; 64 * 1024]).await;
                    let _ = stream.set_zero_linger();
                    drop(stream); // RST mid-body
                } else {
                    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(ok.as_bytes()).await;
                }
            });
        }
    });
    (format!("http://{addr}"), connections)
}

#[tokio::test]
async fn a_reset_mid_body_cuts_the_client_short_and_the_next_request_succeeds() {
    let (upstream, connections) = resetting_upstream().await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(upstream))
        .start()
        .await;
    let client = signed_in(&stack).await;
    let r = tokio::time::timeout(Duration::from_secs(5), client.get(stack.url("/big")).send())
        .await
        .expect("the answer starts in bounded time")
        .unwrap();
    assert_eq!(r.status(), 200, "the headers had already gone out");
    let body = tokio::time::timeout(Duration::from_secs(5), r.bytes())
        .await
        .expect("bounded");
    match body {
        Err(_) => {}
        Ok(bytes) => assert!(
            bytes.len() < 1_048_576,
            "a reset body is never passed off as complete"
        ),
    }
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        client.get(stack.url("/small")).send(),
    )
    .await
    .expect("bounded")
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "a fresh upstream connection"
    );
}
