//! A three-master cluster with a replica each: spreading, sign-out, one
//! refresh across replicas, a slot migration (ASK, then MOVED) and a master's
//! failover.

use super::*;

/// Six cluster nodes, three masters with a replica each, node timeout 1 s.
pub(super) struct Cluster {
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
pub(super) fn session_key(cookie: &str) -> String {
    let value = cookie.split_once('=').unwrap().1;
    let opened = test_codec(false).open("_cognito_sidecar", value).unwrap();
    let hash: String = Sha256::digest(opened.value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("cognito-sidecar:s:{{{hash}}}")
}

pub(super) async fn session_keys_on(port: u16) -> usize {
    let keys: Vec<String> = query(port, None, &["KEYS", "cognito-sidecar:s:*"])
        .await
        .unwrap();
    keys.len()
}

/// Moves `key`'s slot from its master to another: the key first (a request
/// then meets `ASK`), then the slot's owner (then `MOVED`); `between` runs in
/// each state.
pub(super) async fn migrate_slot<F, Fut>(cluster: &Cluster, key: &str, mut between: F)
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
