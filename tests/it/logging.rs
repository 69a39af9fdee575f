//! Log output never stalls a request: the real binary with its stdout a pipe
//! that nobody reads still answers, line after line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::startup::{reserve, spawn, valid_env};
use crate::support::plain_client;

/// Far more access lines than a pipe's 64 KiB buffer holds.
const REQUESTS: usize = 3000;

#[tokio::test]
async fn a_log_reader_that_stalls_does_not_stall_requests() {
    let listen = reserve();
    // The IdP is down: /ping answers all the same, and its warnings add lines.
    let mut env = valid_env(listen, &format!("http://{}/discovery", reserve()));
    env.insert("SIDECAR_LOG".into(), "info".into());
    env.insert("SIDECAR_LOG_FORMAT".into(), "json".into());
    // stdout is piped and never read: once the pipe is full, a blocking
    // writer would hang the worker writing to it.
    let mut child = spawn(&env, &[]);
    let client = plain_client();
    let ping = format!("http://{listen}/ping");
    let mut up = false;
    for _ in 0..500 {
        if client.get(&ping).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up, "the sidecar never listened");
    for i in 0..REQUESTS {
        let answer = tokio::time::timeout(Duration::from_secs(5), client.get(&ping).send()).await;
        let status = answer
            .unwrap_or_else(|_| panic!("request {i} hung: the log writer blocked it"))
            .unwrap()
            .status();
        assert_eq!(status, 200, "request {i}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
