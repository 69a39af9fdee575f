//! Sessions shared by replicas through a real redis-server (Debian's package,
//! installed by scripts/install-test-deps.sh), one per test on an ephemeral
//! loopback port: the store contract, sign-in on one replica used on another,
//! sign-out everywhere, one refresh grant across replicas, a Redis outage
//! answered with 503 and recovered from, and nothing usable in a Redis dump.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

mod server;
use server::free_port;
pub(crate) use server::RedisServer;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_sidecar::config::{CookieConfig, SessionBackend, Settings};
use cognito_sidecar::mock::MockConfig;
use cognito_sidecar::secret::Secret;
use cognito_sidecar::session::{contract, SessionId, SessionStore};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use sha2::{Digest, Sha256};
use support::*;
use tokio::net::TcpListener;

fn replicas(redis: &RedisServer) -> StackBuilder {
    Stack::builder()
        .with(|s| s.session_store = Some(support::secret("redis")))
        .with(|s| s.redis_url = Some(support::secret(redis.url())))
}

/// Signs alice in through `stack` and returns her session cookie (`name=value`).
async fn sign_in_cookie(stack: &Stack) -> String {
    let (client, jar) = browser_with_jar();
    let r = sign_in_as(stack, &client, "/", "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "the callback signs alice in");
    let (name, value) = jar_cookies(&jar, &stack.base)
        .into_iter()
        .find(|(n, _)| n == "_cognito_sidecar")
        .expect("a session cookie");
    format!("{name}={value}")
}

/// `GET /whoami` on `stack` with `cookie`, as an API client: the status.
async fn whoami(stack: &Stack, cookie: &str) -> u16 {
    plain_client()
        .get(stack.url("/whoami"))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn session_id(cookie: &str) -> SessionId {
    let value = cookie.split_once('=').unwrap().1;
    let opened = test_codec(false).open("_cognito_sidecar", value).unwrap();
    SessionId::parse(&opened.value).unwrap()
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_redis_store_keeps_the_store_contract() {
    let redis = RedisServer::start().await;
    let mut config = contract::config();
    config.backend = SessionBackend::Redis {
        url: Secret::new(redis.url()),
        prefix: "contract:".into(),
        ca_file: None,
        sentinel_password: None,
    };
    let cookie = CookieConfig {
        name: "_cs".into(),
        secrets: vec![Secret::new(COOKIE_SECRET.as_bytes().to_vec())],
        secure: true,
        domain: None,
    };
    let store = SessionStore::new(&config, &cookie, Default::default()).unwrap();
    bounded(contract::contract(&store)).await.unwrap();
}

#[tokio::test]
async fn a_session_from_replica_a_works_on_b_and_sign_out_on_b_ends_it_on_a() {
    bounded(async {
        let redis = RedisServer::start().await;
        let stacks = replicas(&redis).start_replicas(2).await;
        let (a, b) = (&stacks[0], &stacks[1]);
        let cookie = sign_in_cookie(a).await;

        assert_eq!(whoami(b, &cookie).await, 200, "replica B knows the session");
        let seen = b.upstream.last();
        assert_eq!(seen.path, "/whoami");
        assert_eq!(seen.header("x-user-username"), Some("alice"));
        assert_eq!(whoami(a, &cookie).await, 200);

        let r = plain_client()
            .get(b.url("/oauth2/sign_out"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "signed out on B");
        let before = a.upstream.count();
        assert_eq!(
            whoami(a, &cookie).await,
            401,
            "replica A no longer knows it"
        );
        assert_eq!(whoami(b, &cookie).await, 401);
        assert_eq!(a.upstream.count(), before, "nothing reached the upstream");
    })
    .await;
}

#[tokio::test]
async fn sessions_survive_a_restart_of_every_replica() {
    bounded(async {
        let redis = RedisServer::start().await;
        let stacks = replicas(&redis).start_replicas(2).await;
        let cookie = sign_in_cookie(&stacks[0]).await;
        let mock = stacks[0].mock.clone();
        let settings = Settings {
            session_store: Some(support::secret("redis")),
            redis_url: Some(support::secret(redis.url())),
            ..test_settings()
        };
        for stack in stacks {
            stack.sidecar.shutdown().await;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fresh = start_sidecar_with(&mock, listener, &base, &settings).await;
        assert_eq!(
            whoami(&fresh, &cookie).await,
            200,
            "the session outlived every replica"
        );
        assert_eq!(
            fresh.upstream.last().header("x-user-username"),
            Some("alice")
        );
    })
    .await;
}

#[tokio::test]
async fn replicas_hit_concurrently_near_expiry_refresh_exactly_once() {
    bounded(async {
        let redis = RedisServer::start().await;
        let short_lived = MockConfig {
            id_token_ttl: Duration::from_secs(4),
            access_token_ttl: Duration::from_secs(4),
            ..MockConfig::demo()
        };
        let stacks = replicas(&redis).mock(short_lived).start_replicas(2).await;
        let mock = stacks[0].mock.clone();
        let cookie = sign_in_cookie(&stacks[0]).await;
        assert_eq!(mock.counters().refresh_grants, 0);
        // The last quarter of a 4 s token: due for refresh.
        stacks[0].advance(3);
        let requests = (0..16).map(|i| whoami(&stacks[i % 2], &cookie));
        let statuses = futures_util::future::join_all(requests).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let deadline = Instant::now() + Duration::from_secs(3);
        while mock.counters().refresh_grants == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Stragglers would show up here; the new token is not due for ~3 s.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let more = (0..8).map(|i| whoami(&stacks[i % 2], &cookie));
        futures_util::future::join_all(more).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            mock.counters().refresh_grants,
            1,
            "one refresh grant across both replicas"
        );
    })
    .await;
}

#[tokio::test]
async fn redis_down_answers_503_quickly_and_service_resumes_when_it_is_back() {
    bounded(async {
        let mut redis = RedisServer::start().await;
        let stacks = replicas(&redis).start_replicas(1).await;
        let a = &stacks[0];
        let cookie = sign_in_cookie(a).await;
        assert_eq!(whoami(a, &cookie).await, 200);
        redis.save().await;
        redis.kill();

        let seen = a.upstream.count();
        for _ in 0..3 {
            let started = Instant::now();
            let r = plain_client()
                .get(a.url("/whoami"))
                .header("cookie", &cookie)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "bounded, not a hang"
            );
            assert_eq!(r.status(), 503);
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"], "session_store_unavailable");
        }
        let page = plain_client()
            .get(a.url("/"))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.status(),
            503,
            "a browser gets a page, not a sign-in loop"
        );
        assert!(page.text().await.unwrap().contains("Try again"));
        assert_eq!(a.upstream.count(), seen, "never forwarded as nobody");
        let ready = plain_client().get(a.url("/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 503, "out of rotation while Redis is gone");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["session_store"], false);
        assert_eq!(body["providers"], true);

        redis.spawn().await;
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut status = 0;
        while Instant::now() < deadline {
            status = whoami(a, &cookie).await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "only 503 while reconnecting");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(status, 200, "the same session works again");
        assert_eq!(a.upstream.last().header("x-user-username"), Some("alice"));
        let ready = plain_client().get(a.url("/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "back in rotation");
    })
    .await;
}

#[tokio::test]
async fn redis_holds_no_session_id_and_no_token_text() {
    bounded(async {
        let redis = RedisServer::start().await;
        let stacks = replicas(&redis).start_replicas(1).await;
        let a = &stacks[0];
        let cookie = sign_in_cookie(a).await;
        let id = session_id(&cookie);
        let session = a.sidecar.state().sessions.get(&id).await.unwrap().unwrap();
        let id_token = session.tokens.id_token.expose().clone();
        let signature = id_token.rsplit('.').next().unwrap().to_string();
        let access = session.tokens.access_token.expose().clone();
        let refresh = session.tokens.refresh_token.clone().unwrap();

        let dump = redis.dump().await;
        let session_key = format!("cognito-sidecar:s:{{{}}}", hex_sha256(id.expose()));
        assert!(
            dump.iter().any(|(k, _)| *k == session_key),
            "the session is stored under the hash of its id: {:?}",
            dump.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        let secrets = [
            id.expose(),
            signature.as_str(),
            access.rsplit('.').next().unwrap(),
            refresh.expose().as_str(),
            "alice",
        ];
        for (key, value) in &dump {
            for secret in secrets {
                assert!(!key.contains(secret), "key {key} holds a secret");
                let found = value.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "the value of {key} holds plain text of the session");
            }
        }
    })
    .await;
}

/// A CA (PEM) and a `localhost` server certificate and key it signed, in `dir`.
fn write_pki(dir: &std::path::Path) -> PathBuf {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    dir.join("ca.pem")
}

#[tokio::test]
async fn rediss_with_a_password_shares_sessions_and_a_wrong_password_is_a_503() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let ca = write_pki(dir.path());
        let tls_port = free_port();
        let path = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
        let extra = vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            path("cert.pem"),
            "--tls-key-file".into(),
            path("key.pem"),
            "--tls-ca-cert-file".into(),
            path("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
            "--requirepass".into(),
            "s3cret-pw".into(),
        ];
        let _redis = RedisServer::start_with(dir, extra, Some("s3cret-pw")).await;
        let url = format!("rediss://:s3cret-pw@localhost:{tls_port}/");
        let stacks = Stack::builder()
            .with(|s| s.redis_url = Some(support::secret(url)))
            .with(|s| s.redis_ca_file = Some(ca.to_str().unwrap().into()))
            .start_replicas(2)
            .await;
        let cookie = sign_in_cookie(&stacks[0]).await;
        assert_eq!(whoami(&stacks[1], &cookie).await, 200, "shared over TLS");

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let wrong = Settings {
            redis_url: Some(support::secret(format!(
                "rediss://:wrong@localhost:{tls_port}/"
            ))),
            redis_ca_file: Some(ca.to_str().unwrap().to_string()),
            ..test_settings()
        };
        let locked_out = start_sidecar_unready(&stacks[0].mock, listener, &base, &wrong).await;
        // Once the provider is loaded, only the store keeps it out of rotation.
        let mut body = serde_json::Value::Null;
        for _ in 0..50 {
            let ready = plain_client()
                .get(locked_out.url("/ready"))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 503, "never in rotation without its store");
            body = ready.json().await.unwrap();
            if body["providers"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(body["providers"], true);
        assert_eq!(body["session_store"], false);
        let r = plain_client()
            .get(locked_out.url("/whoami"))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert!(
            !r.text().await.unwrap().contains("wrong"),
            "no password in answers"
        );
    })
    .await;
}
