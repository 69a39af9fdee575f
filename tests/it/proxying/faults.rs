//! Failures on either side: an upstream down or hanging, an IdP hanging,
//! answering garbage or refusing connections at the callback.

use super::*;

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
