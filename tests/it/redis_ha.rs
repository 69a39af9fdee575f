//! Highly available Redis with Debian's redis-server and redis-sentinel
//! (scripts/install-test-deps.sh), every process started here on loopback
//! ephemeral ports and killed on drop: a master, a replica and three sentinels
//! through a failover; a three-master cluster with a replica each through
//! spreading, sign-out, one refresh across replicas, a slot migration (ASK,
//! then MOVED) and a master's failover. The same over TLS with a private CA
//! in [`tls`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cluster;
mod sentinel;
mod tls;

use crate::support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_sidecar::mock::MockConfig;
use sha2::{Digest, Sha256};
use support::*;

/// How long service may be gone during a Sentinel failover (down-after 1 s,
/// then the vote and the promotion); measured values are printed.
const SENTINEL_FAILOVER_BOUND: Duration = Duration::from_secs(12);
/// The same for a cluster master (node timeout 1 s).
const CLUSTER_FAILOVER_BOUND: Duration = Duration::from_secs(12);

/// A child process, killed on drop.
struct Proc {
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Proc {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{name} is not installed: run scripts/install-test-deps.sh"))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A redis-server on a fresh port, in its own directory, nothing persisted.
async fn redis_server(extra: &[&str], password: Option<&str>) -> Proc {
    redis_server_via(Via::Plain, &[], extra, password).await
}

/// With `tls` settings (`--tls-cert-file`, ...) its port is TLS-only,
/// reached `via` TLS; without, plain.
async fn redis_server_via(
    via: Via<'_>,
    tls: &[String],
    extra: &[&str],
    password: Option<&str>,
) -> Proc {
    let (port, dir) = (free_port(), tempfile::tempdir().unwrap());
    let listen = match tls.is_empty() {
        true => vec!["--port".to_string(), port.to_string()],
        false => ["--port", "0", "--tls-port", &port.to_string()]
            .map(String::from)
            .into_iter()
            .chain(tls.iter().cloned())
            .collect(),
    };
    let child = Command::new(binary("redis-server"))
        .args(listen)
        .args(["--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let node = Proc {
        port,
        child: Some(child),
        _dir: dir,
    };
    wait_for(
        "redis-server to answer",
        Duration::from_secs(10),
        || async {
            query_via::<String>(via, port, password, &["PING"])
                .await
                .is_ok()
        },
    )
    .await;
    node
}

/// How the tests reach a node: in plain text, or over TLS trusting a CA (PEM).
#[derive(Clone, Copy)]
enum Via<'a> {
    Plain,
    Tls(&'a [u8]),
}

/// One command to the node at `port` (no cluster redirects followed).
async fn query<T: redis::FromRedisValue>(
    port: u16,
    password: Option<&str>,
    args: &[&str],
) -> redis::RedisResult<T> {
    query_via(Via::Plain, port, password, args).await
}

async fn query_via<T: redis::FromRedisValue>(
    via: Via<'_>,
    port: u16,
    password: Option<&str>,
    args: &[&str],
) -> redis::RedisResult<T> {
    let auth = password.map_or(String::new(), |p| format!(":{p}@"));
    let client = match via {
        Via::Plain => redis::Client::open(format!("redis://{auth}127.0.0.1:{port}/"))?,
        Via::Tls(ca) => redis::Client::build_with_tls(
            format!("rediss://{auth}127.0.0.1:{port}/"),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.to_vec()),
            },
        )?,
    };
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let mut c = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(&mut c).await
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Until the master's replica has acknowledged everything the master has
/// (its offset caught up with the master's), so nothing written is lost.
async fn replicated(via: Via<'_>, master: u16, password: Option<&str>) {
    wait_for(
        "the replica to catch up",
        Duration::from_secs(10),
        || async {
            let info: String = query_via(via, master, password, &["INFO", "replication"])
                .await
                .unwrap();
            let field = |name: &str| {
                info.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
            };
            let master_offset: u64 = field("master_repl_offset:").unwrap().parse().unwrap();
            let replica_offset = field("slave0:").and_then(|v| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix("offset="))
                    .and_then(|o| o.parse::<u64>().ok())
            });
            replica_offset.is_some_and(|o| o >= master_offset && master_offset > 0)
        },
    )
    .await;
}

/// Signs `user` in through `stack`; the session cookie (`name=value`).
async fn sign_in(stack: &Stack, user: &str) -> String {
    let (client, jar) = browser_with_jar();
    let r = sign_in_as(stack, &client, "/", user, &format!("{user}-password")).await;
    assert_eq!(r.status(), 302, "the callback signs {user} in");
    let (name, value) = jar_cookies(&jar, &stack.base)
        .into_iter()
        .find(|(n, _)| n == "_cognito_sidecar")
        .expect("a session cookie");
    format!("{name}={value}")
}

/// `GET /whoami` with `cookie` as an API client (`accept`: JSON) or a browser.
async fn whoami_as(stack: &Stack, cookie: &str, accept: &str) -> u16 {
    plain_client()
        .get(stack.url("/whoami"))
        .header("cookie", cookie)
        .header("accept", accept)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn whoami(stack: &Stack, cookie: &str) -> u16 {
    whoami_as(stack, cookie, "application/json").await
}

/// Every request the upstream saw came with an identity.
fn never_as_nobody(stack: &Stack) {
    let seen = stack.upstream.seen.lock().unwrap();
    for s in seen.iter() {
        assert!(
            s.header("x-user-username").is_some(),
            "{} reached the upstream signed in as nobody",
            s.path
        );
    }
}

/// Polls `cookie` on `stacks` until every answer is 200: only 200 or 503
/// meanwhile (never a sign-in redirect or 401). How long it took.
async fn outage_until_served(stacks: &[&Stack], cookie: &str, bound: Duration) -> Duration {
    let started = Instant::now();
    let mut i = 0usize;
    loop {
        let accept = if i.is_multiple_of(2) {
            "application/json"
        } else {
            "text/html"
        };
        let statuses =
            futures_util::future::join_all(stacks.iter().map(|s| whoami_as(s, cookie, accept)))
                .await;
        for s in &statuses {
            assert!(
                *s == 200 || *s == 503,
                "during the failover only 200 or the documented 503, got {s}"
            );
        }
        if statuses.iter().all(|s| *s == 200) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "service not back within {bound:?}"
        );
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
