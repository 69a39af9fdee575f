//! The upstream connection pool, against a hand-written HTTP/1.1 upstream
//! that counts its connections: keep-alive reuse, a request retried when its
//! idle connection was closed by the app, and bodies left unread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Answers every request on a connection with `ok`, keeping it open; after
/// `close_after` answers it closes the connection (an app server's short
/// keep-alive). Returns the URL and the number of connections accepted.
async fn counting_upstream(close_after: usize, body_len: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                for _ in 0..close_after {
                    // Read one request head (GET only: no body).
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match stream.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\n\r\n");
                    let mut answer = head.into_bytes();
                    answer.extend(std::iter::repeat_n(b'k', body_len));
                    if stream.get_mut().write_all(&answer).await.is_err() {
                        return;
                    }
                }
                // Closed while the sidecar holds the connection idle.
            });
        }
    });
    (format!("http://{addr}"), connections)
}

async fn stack_for(upstream: String) -> Stack {
    Stack::builder()
        .with(|s| s.upstream = Some(upstream))
        .with(|s| s.workers = Some("1".into()))
        .start()
        .await
}

#[tokio::test]
async fn sequential_requests_share_one_upstream_connection() {
    let (upstream, connections) = counting_upstream(usize::MAX, 2).await;
    let stack = stack_for(upstream).await;
    let client = signed_in(&stack).await;
    for _ in 0..20 {
        let r = bounded(client.get(stack.url("/x")).send()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "kk");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "kept alive and reused"
    );
}

#[tokio::test]
async fn a_request_on_a_connection_the_app_closed_is_sent_again() {
    // Every upstream connection serves one answer, then closes while idle.
    let (upstream, connections) = counting_upstream(1, 2).await;
    let stack = stack_for(upstream).await;
    let client = signed_in(&stack).await;
    for i in 0..10 {
        // Give the close time to arrive, so the idle connection is dead.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let r = bounded(client.get(stack.url("/x")).send()).await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(r.text().await.unwrap(), "kk");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn a_body_the_client_abandons_does_not_poison_the_pool() {
    let (upstream, _) = counting_upstream(usize::MAX, 4 << 20).await;
    let stack = stack_for(upstream).await;
    let client = signed_in(&stack).await;
    for _ in 0..3 {
        let r = bounded(client.get(stack.url("/big")).send()).await.unwrap();
        assert_eq!(r.status(), 200);
        drop(r); // never read: the connection cannot be reused
    }
    let r = bounded(client.get(stack.url("/big")).send()).await.unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 4 << 20);
}
