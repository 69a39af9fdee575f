//! Sentinel: a master, a replica and three sentinels through a failover.

use super::*;

/// A redis-sentinel watching `mymaster` at `master`, deciding within ~1 s.
pub(super) async fn sentinel(master: u16, master_password: &str, password: &str) -> Proc {
    sentinel_via(Via::Plain, "", master, master_password, password).await
}

/// With `tls` configuration lines its port is TLS-only, reached `via` TLS.
pub(super) async fn sentinel_via(
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
pub(super) async fn sentinels_agree(via: Via<'_>, sentinels: &[Proc], password: &str) {
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
