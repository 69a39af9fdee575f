//! WebSockets pass through for signed-in users only.

use super::*;

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
