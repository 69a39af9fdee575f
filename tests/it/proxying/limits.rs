//! Request headers over the limit: 431, never the upstream.

use super::*;

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
