//! Redis reached only over TLS, with a private CA (`redis-ca-file`): a
//! cluster (`rediss+cluster://`), and Sentinel (`rediss+sentinel://`: TLS to
//! the sentinels and to the master they name, every port TLS-only).

use super::cluster::*;
use super::sentinel::*;
use super::*;
use cognito_sidecar::config::Settings;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

/// A test CA and a certificate for 127.0.0.1 it signed, in a directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let ca_pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
        Pki { dir, ca_pem }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn via(&self) -> Via<'_> {
        Via::Tls(&self.ca_pem)
    }

    /// redis-server's TLS flags; replication over TLS too.
    fn server_args(&self) -> Vec<String> {
        let args = [
            ("--tls-cert-file", self.file("cert.pem")),
            ("--tls-key-file", self.file("key.pem")),
            ("--tls-ca-cert-file", self.file("ca.pem")),
            ("--tls-auth-clients", "no".into()),
            ("--tls-replication", "yes".into()),
        ];
        args.into_iter()
            .flat_map(|(k, v)| [k.to_string(), v])
            .collect()
    }

    /// The same for sentinel.conf: `tls-replication` makes a sentinel speak
    /// TLS to the master, the replicas and the other sentinels.
    fn sentinel_conf(&self) -> String {
        self.server_args()
            .chunks(2)
            .map(|kv| format!("{} {}\n", kv[0].trim_start_matches("--"), kv[1]))
            .collect()
    }
}

/// A CA and a certificate for 127.0.0.1 it signed, in `dir`: `ca.pem`,
/// `cert.pem`, `key.pem`.
fn write_pki(dir: &std::path::Path) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Names of their own: OpenSSL (redis-cli) takes a leaf named like its issuer for self-signed.
    ca.distinguished_name
        .push(DnType::CommonName, "redis-ha test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn a_tls_cluster_with_a_private_ca_shares_sessions_and_sign_out() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let pki = Pki::new();
        let (via, tls, ca) = (pki.via(), pki.server_args(), pki.file("ca.pem"));
        let cluster = [
            "--tls-cluster",
            "yes",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "1000",
        ];
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(redis_server_via(via, &tls, &cluster, None).await);
        }
        let tls_ports: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        assert!(
            query::<String>(nodes[0].port, None, &["PING"])
                .await
                .is_err(),
            "TLS only"
        );
        let created = tokio::process::Command::new(binary("redis-cli"))
            .args(["--tls", "--cacert", &ca, "--cluster", "create"])
            .args(&tls_ports)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output();
        let created = tokio::time::timeout(Duration::from_secs(30), created)
            .await
            .expect("redis-cli --cluster create within 30 s")
            .unwrap();
        assert!(
            created.status.success(),
            "redis-cli --tls --cluster create: {} {}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        for n in &nodes {
            let port = n.port;
            wait_for("cluster_state:ok", Duration::from_secs(15), || async move {
                let info: String = query_via(via, port, None, &["CLUSTER", "INFO"])
                    .await
                    .unwrap();
                info.contains("cluster_state:ok")
            })
            .await;
        }
        let stacks = Stack::builder()
            .with(|s| {
                s.redis_url = Some(support::secret(format!(
                    "rediss+cluster://{}",
                    tls_ports[0]
                )))
            })
            .with(|s| s.redis_ca_file = Some(ca.clone()))
            .start_replicas(2)
            .await;
        let (a, b) = (&stacks[0], &stacks[1]);
        let cookie = sign_in(a, "alice").await;
        assert_eq!(
            whoami(b, &cookie).await,
            200,
            "over TLS, on the other replica"
        );
        let r = plain_client()
            .get(b.url("/oauth2/sign_out"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(whoami(a, &cookie).await, 401, "signed out everywhere");
        never_as_nobody(a);
    })
    .await
    .expect("the TLS cluster test did not finish within 60 s");
}

#[tokio::test]
async fn sentinel_over_tls_only_finds_the_master_and_follows_a_failover() {
    bounded(async {
        let pki = Pki::new();
        let (via, tls) = (pki.via(), pki.server_args());
        let (mp, sp) = ("master-pw", "sentinel-pw");
        let auth = ["--requirepass", mp, "--masterauth", mp];
        let mut master = redis_server_via(via, &tls, &auth, Some(mp)).await;
        let master_port = master.port.to_string();
        let replica_of = ["--replicaof", "127.0.0.1", &master_port];
        let args: Vec<&str> = auth.iter().chain(replica_of.iter()).copied().collect();
        let replica = redis_server_via(via, &tls, &args, Some(mp)).await;
        let conf = pki.sentinel_conf();
        let sentinels = [
            sentinel_via(via, &conf, master.port, mp, sp).await,
            sentinel_via(via, &conf, master.port, mp, sp).await,
            sentinel_via(via, &conf, master.port, mp, sp).await,
        ];
        sentinels_agree(via, &sentinels, sp).await;
        for port in [master.port, sentinels[0].port] {
            assert!(
                query::<String>(port, Some(sp), &["PING"]).await.is_err(),
                "port {port} speaks TLS only"
            );
        }
        let hosts: Vec<String> = sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let url = format!("rediss+sentinel://:{mp}@{}/mymaster", hosts.join(","));
        let stacks = Stack::builder()
            .with(|s| s.redis_url = Some(support::secret(url)))
            .with(|s| s.redis_sentinel_password = Some(support::secret(sp)))
            .with(|s| s.redis_ca_file = Some(pki.file("ca.pem")))
            .start_replicas(2)
            .await;
        let (a, b) = (&stacks[0], &stacks[1]);
        let cookie = sign_in(a, "alice").await;
        assert_eq!(
            whoami(b, &cookie).await,
            200,
            "over TLS, on the other replica"
        );
        let key = session_key(&cookie);
        let stored: i64 = query_via(via, master.port, Some(mp), &["EXISTS", &key])
            .await
            .unwrap();
        assert_eq!(stored, 1, "the session is in the master Sentinel named");
        replicated(via, master.port, Some(mp)).await;

        master.kill();
        let outage = outage_until_served(&[a, b], &cookie, SENTINEL_FAILOVER_BOUND).await;
        println!("sentinel failover over TLS: service back after {outage:?}");
        let role: Vec<redis::Value> = query_via(via, replica.port, Some(mp), &["ROLE"])
            .await
            .unwrap();
        assert_eq!(
            role.first(),
            Some(&redis::Value::BulkString(b"master".to_vec())),
            "the replica was promoted"
        );
        let bobs = sign_in(b, "bob").await;
        assert_eq!(whoami(a, &bobs).await, 200, "writes reach the new master");
        never_as_nobody(a);
        never_as_nobody(b);
    })
    .await;
}

/// The session store of a sidecar with these settings (never started).
async fn store_for(settings: &Settings) -> cognito_sidecar::session::SessionStore {
    let mock = start_mock_for(MockConfig::demo(), "http://127.0.0.1:9").await;
    let upstream = RecordingUpstream::start().await;
    let config = sidecar_config("http://127.0.0.1:9", &mock, &upstream, settings);
    cognito_sidecar::session::SessionStore::new(
        &config.session,
        &config.cookie,
        config.clock.clone(),
    )
    .unwrap()
}

/// Without `redis-ca-file`, a private CA's certificate is refused with an
/// error naming that setting, for each topology; with it, the same URL works.
#[tokio::test]
async fn an_untrusted_redis_certificate_names_redis_ca_file() {
    bounded(async {
        let pki = Pki::new();
        let (via, tls) = (pki.via(), pki.server_args());
        let master = redis_server_via(via, &tls, &["--requirepass", "mp"], Some("mp")).await;
        let conf = pki.sentinel_conf();
        let sentinel = sentinel_via(via, &conf, master.port, "mp", "sp").await;
        for url in [
            format!("rediss://:mp@127.0.0.1:{}", master.port),
            format!("rediss+sentinel://:mp@127.0.0.1:{}/mymaster", sentinel.port),
            format!("rediss+cluster://:mp@127.0.0.1:{}", master.port),
        ] {
            let mut settings = Settings {
                redis_url: Some(support::secret(url.clone())),
                ..support::test_settings()
            };
            if url.contains("sentinel") {
                settings.redis_sentinel_password = Some(support::secret("sp"));
            }
            let store = store_for(&settings).await;
            let error = store.count().await.unwrap_err().to_string();
            assert!(
                error.contains("certificate was refused (UnknownIssuer)")
                    && error.contains("set redis-ca-file"),
                "{url}: {error}"
            );
            settings.redis_ca_file = Some(pki.file("ca.pem"));
            let trusting = store_for(&settings).await;
            // Past TLS: the server answers (a plain node refuses cluster commands).
            match trusting.count().await {
                Ok(n) => assert_eq!(n, 0, "{url}"),
                Err(e) => assert!(
                    url.contains("cluster") && e.to_string().contains("cluster support disabled"),
                    "{url} with redis-ca-file: {e}"
                ),
            }
        }
    })
    .await;
}
