//! Proxying through the whole sidecar (mock Cognito + sidecar + a real
//! upstream): header [`hygiene`] (identity, forwarding, hop-by-hop, cookies
//! both ways), [`faults`] on either side, [`streaming`] with back-pressure,
//! [`websocket`]s and header [`limits`]. Here: what several of them use.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cognito_sidecar::mock::{Fault, MockEndpoint};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

mod faults;
mod hygiene;
mod limits;
mod streaming;
mod websocket;

const SPOOF_VALUE: &str = "spoofed-admin@evil.example";

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
