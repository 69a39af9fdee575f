//! Highly available Redis with Debian's redis-server and redis-sentinel
//! (scripts/install-test-deps.sh), every process started here on loopback
//! ephemeral ports and killed on drop: a master, a replica and three sentinels
//! through a failover; a three-master cluster with a replica each through
//! spreading, sign-out, one refresh across replicas, a slot migration (ASK,
//! then MOVED) and a master's failover. The same over TLS with a private CA
//! in [`tls`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

/// A redis-sentinel watching `mymaster` at `master`, deciding within ~1 s.
async fn sentinel(master: u16, master_password: &str, password: &str) -> Proc {
    sentinel_via(Via::Plain, "", master, master_password, password).await
}

/// With `tls` configuration lines its port is TLS-only, reached `via` TLS.
async fn sentinel_via(
    via: Via<'_>,
    tls: &str,
    master: u16,
    master_password: &str,
    password: &str,
) -> Proc {
    let (port, dir) = (free_port(), tempfile::tempdir().unwrap());
    let conf = dir.path().join("sentinel.conf");
    let listen = match tls.is_empty() {
        true => format!("port {port}\n"),
        false => format!("port 0\ntls-port {port}\n{tls}"),
    };
    let text = format!(
        "{listen}bind 127.0.0.1\ndir {dir}\nrequirepass {password}\n\
         sentinel sentinel-pass {password}\n\
         sentinel monitor mymaster 127.0.0.1 {master} 2\n\
         sentinel auth-pass mymaster {master_password}\n\
         sentinel down-after-milliseconds mymaster 1000\n\
         sentinel failover-timeout mymaster 4000\n\
         sentinel parallel-syncs mymaster 1\n",
        dir = dir.path().display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new(binary("redis-sentinel"))
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-sentinel starts");
    let node = Proc {
        port,
        child: Some(child),
        _dir: dir,
    };
    wait_for(
        "redis-sentinel to answer",
        Duration::from_secs(10),
        || async {
            query_via::<String>(via, port, Some(password), &["PING"])
                .await
                .is_ok()
        },
    )
    .await;
    node
}

/// Until every sentinel knows the two others and the replica, so a vote can
/// happen (they find each other through the master every 2 s).
async fn sentinels_agree(via: Via<'_>, sentinels: &[Proc], password: &str) {
    for s in sentinels {
        let port = s.port;
        wait_for(
            "sentinels to find each other",
            Duration::from_secs(20),
            || async move {
                let fields: Vec<String> = query_via(
                    via,
                    port,
                    Some(password),
                    &["SENTINEL", "MASTER", "mymaster"],
                )
                .await
                .unwrap_or_default();
                let field = |name: &str| {
                    let at = fields.iter().position(|f| f == name)?;
                    fields.get(at + 1).cloned()
                };
                field("num-other-sentinels").as_deref() == Some("2")
                    && field("num-slaves").as_deref() == Some("1")
            },
        )
        .await;
    }
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

#[tokio::test]
async fn a_sentinel_failover_keeps_replicated_sessions_and_answers_503_at_worst() {
    bounded(async {
        let (mp, sp) = ("master-pw", "sentinel-pw");
        let auth = ["--requirepass", mp, "--masterauth", mp];
        let mut master = redis_server(&auth, Some(mp)).await;
        let replica_of = ["--replicaof", "127.0.0.1", &master.port.to_string()];
        let args: Vec<&str> = auth.iter().chain(replica_of.iter()).copied().collect();
        let replica = redis_server(&args, Some(mp)).await;
        let sentinels = [
            sentinel(master.port, mp, sp).await,
            sentinel(master.port, mp, sp).await,
            sentinel(master.port, mp, sp).await,
        ];
        sentinels_agree(Via::Plain, &sentinels, sp).await;
        let hosts: Vec<String> = sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let url = format!("redis+sentinel://:{mp}@{}/mymaster", hosts.join(","));
        let stacks = Stack::builder()
            .with(|s| s.redis_url = Some(support::secret(url)))
            .with(|s| s.redis_sentinel_password = Some(support::secret(sp)))
            .start_replicas(2)
            .await;
        let (a, b) = (&stacks[0], &stacks[1]);
        let cookie = sign_in(a, "alice").await;
        assert_eq!(whoami(b, &cookie).await, 200);
        replicated(Via::Plain, master.port, Some(mp)).await;

        master.kill();
        let outage = outage_until_served(&[a, b], &cookie, SENTINEL_FAILOVER_BOUND).await;
        println!("sentinel failover: service back after {outage:?}");
        let role: Vec<redis::Value> = query(replica.port, Some(mp), &["ROLE"]).await.unwrap();
        assert_eq!(
            role.first(),
            Some(&redis::Value::BulkString(b"master".to_vec())),
            "the replica was promoted"
        );
        // Writes reach the new master: a new sign-in, and a sign-out.
        let bobs = sign_in(b, "bob").await;
        assert_eq!(whoami(a, &bobs).await, 200);
        let r = plain_client()
            .get(a.url("/oauth2/sign_out"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(whoami(b, &cookie).await, 401, "signed out everywhere");
        never_as_nobody(a);
        never_as_nobody(b);
        drop(sentinels);
    })
    .await;
}

/// Six cluster nodes, three masters with a replica each, node timeout 1 s.
struct Cluster {
    nodes: Vec<Proc>,
}

impl Cluster {
    async fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
            ];
            nodes.push(redis_server(&args, None).await);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = tokio::process::Command::new(binary("redis-cli"))
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let created = tokio::time::timeout(Duration::from_secs(30), created)
            .await
            .expect("redis-cli --cluster create within 30 s")
            .unwrap();
        assert!(created.success(), "redis-cli --cluster create");
        let cluster = Self { nodes };
        for n in &cluster.nodes {
            let port = n.port;
            wait_for("cluster_state:ok", Duration::from_secs(15), || async move {
                let info: String = query(port, None, &["CLUSTER", "INFO"]).await.unwrap();
                info.contains("cluster_state:ok")
            })
            .await;
        }
        cluster
    }

    fn url(&self) -> String {
        format!(
            "redis+cluster://127.0.0.1:{},127.0.0.1:{}",
            self.nodes[0].port, self.nodes[1].port
        )
    }

    /// Ports of the live masters.
    async fn masters(&self) -> Vec<u16> {
        let mut masters = Vec::new();
        for n in self.nodes.iter().filter(|n| n.child.is_some()) {
            let role: Vec<redis::Value> = query(n.port, None, &["ROLE"]).await.unwrap();
            if role.first() == Some(&redis::Value::BulkString(b"master".to_vec())) {
                masters.push(n.port);
            }
        }
        masters
    }

    /// The live master serving `key`'s slot.
    async fn master_of(&self, key: &str) -> u16 {
        for port in self.masters().await {
            let found: redis::RedisResult<i64> = query(port, None, &["EXISTS", key]).await;
            if found.is_ok() {
                return port; // any other master answers MOVED
            }
        }
        panic!("no master serves {key}")
    }

    fn kill(&mut self, port: u16) {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap()
            .kill();
    }
}

/// The Redis key of the session in `cookie`.
fn session_key(cookie: &str) -> String {
    let value = cookie.split_once('=').unwrap().1;
    let opened = test_codec(false).open("_cognito_sidecar", value).unwrap();
    let hash: String = Sha256::digest(opened.value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("cognito-sidecar:s:{{{hash}}}")
}

async fn session_keys_on(port: u16) -> usize {
    let keys: Vec<String> = query(port, None, &["KEYS", "cognito-sidecar:s:*"])
        .await
        .unwrap();
    keys.len()
}

/// Moves `key`'s slot from its master to another: the key first (a request
/// then meets `ASK`), then the slot's owner (then `MOVED`); `between` runs in
/// each state.
async fn migrate_slot<F, Fut>(cluster: &Cluster, key: &str, mut between: F)
where
    F: FnMut(&'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let from = cluster.master_of(key).await;
    let to = *cluster
        .masters()
        .await
        .iter()
        .find(|p| **p != from)
        .unwrap();
    let slot: i64 = query(from, None, &["CLUSTER", "KEYSLOT", key])
        .await
        .unwrap();
    let slot = slot.to_string();
    let from_id: String = query(from, None, &["CLUSTER", "MYID"]).await.unwrap();
    let to_id: String = query(to, None, &["CLUSTER", "MYID"]).await.unwrap();
    let _: () = query(
        to,
        None,
        &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id],
    )
    .await
    .unwrap();
    let _: () = query(
        from,
        None,
        &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id],
    )
    .await
    .unwrap();
    let keys: Vec<String> = query(from, None, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"])
        .await
        .unwrap();
    let to_port = to.to_string();
    let mut migrate = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
    migrate.extend(keys.iter().map(String::as_str));
    let _: () = query(from, None, &migrate).await.unwrap();
    between("ask").await;
    for port in cluster.masters().await {
        let _: () = query(port, None, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id])
            .await
            .unwrap();
    }
    assert_eq!(cluster.master_of(key).await, to);
    between("moved").await;
}

#[tokio::test]
async fn a_cluster_spreads_sessions_follows_redirects_and_survives_a_master_failover() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let mut cluster = Cluster::start().await;
        let short_lived = MockConfig {
            id_token_ttl: Duration::from_secs(4),
            access_token_ttl: Duration::from_secs(4),
            ..MockConfig::demo()
        };
        let stacks = Stack::builder()
            .with(|s| s.session_store = Some(support::secret(cluster.url())))
            .with(|s| s.sessions_per_user = "100".into())
            .mock(short_lived)
            .start_replicas(2)
            .await;
        let (a, b) = (&stacks[0], &stacks[1]);
        let mock = a.mock.clone();

        // One refresh grant across both replicas, the lock in the cluster.
        let refreshed = sign_in(a, "alice").await;
        a.advance(3);
        let before = mock.counters().refresh_grants;
        let requests = (0..16).map(|i| whoami(&stacks[i % 2], &refreshed));
        let statuses = futures_util::future::join_all(requests).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(mock.counters().refresh_grants, before + 1, "one refresh");

        // Sessions spread over every master; each works on both replicas.
        let mut cookies = Vec::new();
        for i in 0..24 {
            cookies.push(sign_in(&stacks[i % 2], "alice").await);
        }
        let masters = cluster.masters().await;
        assert_eq!(masters.len(), 3);
        let mut total = 0;
        for port in &masters {
            let n = session_keys_on(*port).await;
            println!("cluster: {n} sessions on the master at port {port}");
            assert!(n > 0, "no session on the master at port {port}");
            total += n as u64;
        }
        let counted = a.sidecar.state().sessions.count().await.unwrap();
        assert_eq!(counted, total, "the session count scans every master");
        for cookie in &cookies {
            assert_eq!(whoami(b, cookie).await, 200);
        }

        // A slot moving between masters: ASK, then MOVED, both followed.
        let moving = cookies[0].clone();
        migrate_slot(&cluster, &session_key(&moving), |state| {
            let moving = moving.clone();
            async move {
                assert_eq!(whoami(a, &moving).await, 200, "{state} followed on A");
                assert_eq!(whoami(b, &moving).await, 200, "{state} followed on B");
            }
        })
        .await;

        // A master dies after its replica caught up: its sessions survive.
        let victim_cookie = cookies[1].clone();
        let victim = cluster.master_of(&session_key(&victim_cookie)).await;
        replicated(Via::Plain, victim, None).await;
        cluster.kill(victim);
        let outage = outage_until_served(&[a, b], &victim_cookie, CLUSTER_FAILOVER_BOUND).await;
        println!("cluster failover: service back after {outage:?}");
        assert_eq!(cluster.masters().await.len(), 3, "a replica took over");
        for cookie in &cookies {
            let status = whoami(a, cookie).await;
            assert_eq!(status, 200, "a replicated session survives the failover");
        }

        // Sign-out on one replica ends the session on the other.
        let r = plain_client()
            .get(b.url("/oauth2/sign_out"))
            .header("cookie", &cookies[2])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(whoami(a, &cookies[2]).await, 401, "signed out everywhere");
        assert_eq!(whoami(a, &cookies[3]).await, 200, "the others stay");
        never_as_nobody(a);
        never_as_nobody(b);
    })
    .await
    .expect("the cluster test did not finish within 90 s");
}
