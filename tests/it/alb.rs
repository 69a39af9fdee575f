//! `alb-headers`: the headers of an ALB's `authenticate-cognito` action, from a
//! real sign-in at the mock Cognito, checked by the two verifiers AWS documents,
//! run for real: the ALB documentation's Python example (PyJWT, cryptography,
//! requests; a virtualenv at target/alb-venv) and aws-jwt-verify's
//! `AlbJwtVerifier` from npm (tests/alb/node_modules). Both fetch the key from
//! the sidecar's `{prefix}/alb-public-keys/{kid}` over HTTPS (aws-jwt-verify
//! fetches nothing else), so the sidecar serves TLS with a test CA here.
//! Both come from scripts/install-test-deps.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

mod verifiers;
use cognito_sidecar::config::Settings;
use verifiers::{plain_client_trusting, python, run_verifier};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use cognito_sidecar::config::AlbConfig;
use cognito_sidecar::identity::UserInfoClaims;
use cognito_sidecar::mock::{MockConfig, DEMO_CLIENT_ID};
use cognito_sidecar::proxy::alb::AlbSigner;
use cognito_sidecar::secret::Secret;
use cognito_sidecar::session::contract::now;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use support::*;

const ARN: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/my-app/50dc6c495c0c9188";
const OTHER_ARN: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/other/0123456789abcdef";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A P-256 key as `alb-key-file` takes it: PKCS#8 PEM, and its DER.
fn p256_key(dir: &Path) -> (PathBuf, Vec<u8>) {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let b64 = STANDARD.encode(doc.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let path = dir.join("alb.pem");
    std::fs::write(&path, pem).unwrap();
    (path, doc.as_ref().to_vec())
}

/// A test CA (its PEM in `ca.pem`) and a leaf for 127.0.0.1 (`tls.crt`, `tls.key`).
fn tls_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "cognito-sidecar alb test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, leaf_cert.pem()).unwrap();
    std::fs::write(&paths.2, leaf_key.serialize_pem()).unwrap();
    paths
}

/// The sidecar on `https://127.0.0.1:PORT` with alb-headers on and a shared key.
struct AlbStack {
    stack: Stack,
    client: reqwest::Client,
    ca: PathBuf,
    key_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl AlbStack {
    async fn start(mock: MockConfig, extra: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (key, key_der) = p256_key(dir.path());
        let (ca, cert, tls_key) = tls_files(dir.path());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let mock = start_mock_for(mock, &base).await;
        let mut settings = Settings {
            cookie_secure: "true".into(),
            tls_cert_file: Some(cert.display().to_string()),
            tls_key_file: Some(tls_key.display().to_string()),
            alb_headers: "true".into(),
            alb_signer: Some(ARN.into()),
            alb_key_file: Some(key.display().to_string()),
            ..test_settings()
        };
        extra(&mut settings);
        let stack = start_sidecar_unready(&mock, listener, &base, &settings).await;
        let ca_cert = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(ca_cert)
            .build()
            .unwrap();
        for _ in 0..200 {
            match client.get(stack.url("/ready")).send().await {
                Ok(r) if r.status() == 200 => break,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        Self {
            stack,
            client,
            ca,
            key_der,
            _dir: dir,
        }
    }

    /// Alice signs in; returns the headers her next request brought upstream.
    async fn signed_in_headers(&self) -> Seen {
        let r = sign_in_as(&self.stack, &self.client, "/app", "alice", "alice-password").await;
        assert_eq!(r.status(), 302, "signed in");
        self.request("/app").await
    }

    async fn request(&self, path: &str) -> Seen {
        let r = self.client.get(self.stack.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        self.stack.upstream.last()
    }

    fn key_base(&self) -> String {
        self.stack.url("/oauth2/alb-public-keys")
    }
}

fn decode_segment(token: &str, i: usize) -> String {
    let part = token.split('.').nth(i).unwrap();
    String::from_utf8(URL_SAFE.decode(part).unwrap()).unwrap()
}

/// The names of a JSON object's members, in document order.
fn member_order(json: &str) -> Vec<String> {
    let claims: UserInfoClaims = serde_json::from_str(json).unwrap();
    claims
        .iter_except(&[])
        .map(|(k, _)| k.to_string())
        .collect()
}

#[tokio::test]
async fn a_sign_in_sends_albs_three_headers_in_albs_format() {
    bounded(async {
        let alb = AlbStack::start(MockConfig::demo(), |_| {}).await;
        let seen = alb.signed_in_headers().await;
        let alice = MockConfig::demo()
            .users
            .into_iter()
            .find(|u| u.username == "alice")
            .unwrap();
        assert_eq!(
            seen.header("x-amzn-oidc-identity"),
            Some(alice.sub.as_str())
        );
        let access = seen.header("x-amzn-oidc-accesstoken").unwrap();
        let data = seen.header("x-amzn-oidc-data").unwrap();

        // The access token is the live one: userInfo answers for it.
        let userinfo = plain_client()
            .get(format!("{}/oauth2/userInfo", alb.stack.mock.base_url()))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 200);
        let userinfo = userinfo.text().await.unwrap();

        let parts: Vec<&str> = data.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(
            parts.iter().all(|p| p.len() % 4 == 0),
            "padded base64url: {data}"
        );
        let header: Value = serde_json::from_str(&decode_segment(data, 0)).unwrap();
        assert_eq!(
            member_order(&decode_segment(data, 0)),
            ["typ", "kid", "alg", "iss", "client", "signer", "exp"]
        );
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["signer"], ARN);
        assert_eq!(header["client"], DEMO_CLIENT_ID);
        assert_eq!(header["iss"], alb.stack.mock.issuer());
        let kid = header["kid"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(kid).is_ok(), "kid {kid} is a UUID");
        let exp = header["exp"].as_u64().unwrap();
        assert!(exp > now() + 60 && exp <= now() + 120, "exp {exp}");

        // The payload: userInfo's claims as sent, in their order, then exp and iss.
        let payload_text = decode_segment(data, 1);
        let mut want = member_order(&userinfo);
        want.extend(["exp".to_string(), "iss".to_string()]);
        assert_eq!(member_order(&payload_text), want);
        let payload: Value = serde_json::from_str(&payload_text).unwrap();
        let userinfo: Value = serde_json::from_str(&userinfo).unwrap();
        for (name, value) in userinfo.as_object().unwrap() {
            assert_eq!(&payload[name], value, "{name}");
        }
        assert_eq!(
            payload["email_verified"], "true",
            "a string, as Cognito sends it"
        );
        assert_eq!(payload["exp"], header["exp"]);
        assert_eq!(payload["iss"], header["iss"]);

        // The key: PEM, no sign-in needed, cacheable; 404 for any other kid.
        let key = plain_client_trusting(&alb.ca)
            .get(format!("{}/{kid}", alb.key_base()))
            .send()
            .await
            .unwrap();
        assert_eq!(key.status(), 200);
        assert_eq!(key.headers()["cache-control"], "public, max-age=86400");
        assert!(key
            .text()
            .await
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n"));
        for other in ["00000000-0000-4000-8000-000000000000", "", "x/../y"] {
            let r = plain_client_trusting(&alb.ca)
                .get(format!("{}/{other}", alb.key_base()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "kid {other:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn after_a_refresh_the_headers_carry_the_new_access_token_and_claims() {
    bounded(async {
        let short = MockConfig {
            id_token_ttl: Duration::from_secs(4),
            access_token_ttl: Duration::from_secs(4),
            ..MockConfig::demo()
        };
        let alb = AlbStack::start(short, |_| {}).await;
        let first = alb.signed_in_headers().await;
        assert_eq!(
            alb.stack.mock.counters().userinfo,
            1,
            "userInfo read at sign-in"
        );
        let again = alb.request("/app").await;
        assert_eq!(
            again.header("x-amzn-oidc-data"),
            first.header("x-amzn-oidc-data"),
            "signed once, not per request"
        );
        assert_eq!(
            alb.stack.mock.counters().userinfo,
            1,
            "no IdP call per request"
        );
        alb.stack.advance(3);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let refreshed = loop {
            let seen = alb.request("/app").await;
            if seen.header("x-amzn-oidc-accesstoken") != first.header("x-amzn-oidc-accesstoken") {
                break seen;
            }
            assert!(tokio::time::Instant::now() < deadline, "never refreshed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(alb.stack.mock.counters().refresh_grants, 1);
        assert_eq!(
            alb.stack.mock.counters().userinfo,
            2,
            "userInfo read again at the refresh"
        );
        let data = refreshed.header("x-amzn-oidc-data").unwrap();
        assert_ne!(Some(data), first.header("x-amzn-oidc-data"), "signed anew");
        let payload: Value = serde_json::from_str(&decode_segment(data, 1)).unwrap();
        assert_eq!(
            payload["sub"],
            refreshed.header("x-amzn-oidc-identity").unwrap()
        );
    })
    .await;
}

/// Client-sent `x-amzn-oidc-*` never reach the app: signed in or not, alb-headers on or off.
#[tokio::test]
async fn client_sent_alb_headers_are_stripped_in_every_mode() {
    bounded(async {
        let spoof = |rb: reqwest::RequestBuilder| {
            rb.header("x-amzn-oidc-data", "forged.forged.forged")
                .header("X_Amzn_Oidc_Identity", "admin")
                .header("x-amzn-oidc-accesstoken", "forged")
        };
        // Off: signed in, and anonymous on a skip-auth route.
        let off = Stack::builder()
            .with(|s| s.skip_auth_routes = support::list("GET /public"))
            .start()
            .await;
        let client = signed_in(&off).await;
        for (c, path) in [(&client, "/app"), (&plain_client(), "/public")] {
            let r = spoof(c.get(off.url(path))).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let seen = off.upstream.last();
            assert!(
                seen.headers
                    .iter()
                    .all(|(n, _)| !n.replace('_', "-").starts_with("x-amzn-oidc-")),
                "{path}: {:?}",
                seen.headers
            );
        }
        // On: the app sees only the sidecar's values, once each.
        let alb = AlbStack::start(MockConfig::demo(), |s| {
            s.skip_auth_routes = vec!["GET /public".into()]
        })
        .await;
        let ours = alb.signed_in_headers().await;
        let r = spoof(alb.client.get(alb.stack.url("/app")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = alb.stack.upstream.last();
        let amzn: Vec<&(String, String)> = seen
            .headers
            .iter()
            .filter(|(n, _)| {
                n.to_ascii_lowercase()
                    .replace('_', "-")
                    .starts_with("x-amzn-oidc-")
            })
            .collect();
        assert_eq!(amzn.len(), 3, "{amzn:?}");
        for name in [
            "x-amzn-oidc-identity",
            "x-amzn-oidc-accesstoken",
            "x-amzn-oidc-data",
        ] {
            assert_eq!(seen.header(name), ours.header(name), "{name}");
        }
        let anonymous = plain_client_trusting(&alb.ca);
        let r = spoof(anonymous.get(alb.stack.url("/public")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = alb.stack.upstream.last();
        assert!(
            seen.headers
                .iter()
                .all(|(n, _)| !n.replace('_', "-").starts_with("x-amzn-oidc-")),
            "{:?}",
            seen.headers
        );
    })
    .await;
}

/// Forward-auth answers a session with the very headers the proxy sends
/// upstream, so an ingress's auth-response-headers can copy them; the token
/// passes the ALB docs' Python check; a client's look-alikes are not echoed.
#[tokio::test]
async fn forward_auth_answers_with_the_headers_the_upstream_gets() {
    bounded(async {
        let alb = AlbStack::start(MockConfig::demo(), |_| {}).await;
        let upstream = alb.signed_in_headers().await;
        let r = alb
            .client
            .get(alb.stack.url("/oauth2/auth"))
            .header("x-amzn-oidc-identity", "admin")
            .header("x-amzn-oidc-data", "forged.forged.forged")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let answered: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(n, _)| n.as_str().starts_with("x-amzn-oidc-"))
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let mut sent: Vec<(String, String)> = upstream
            .headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amzn-oidc-"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        sent.sort();
        let mut answered_sorted = answered.clone();
        answered_sorted.sort();
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert_eq!(answered_sorted, sent, "the same set, the same values");

        let data = r.headers()["x-amzn-oidc-data"].to_str().unwrap();
        let job = json!({
            "base": alb.key_base(),
            "signer": ARN,
            "client": DEMO_CLIENT_ID,
            "tokens": {"forward_auth": data},
        });
        let mut py = Command::new(python());
        py.arg(root().join("tests/alb/verify_alb.py"))
            .env("REQUESTS_CA_BUNDLE", &alb.ca);
        let results = tokio::task::spawn_blocking(move || run_verifier(py, &job))
            .await
            .unwrap();
        assert_eq!(
            results["forward_auth"]["ok"]["sub"].as_str(),
            upstream.header("x-amzn-oidc-identity"),
            "{results:?}"
        );

        // Anonymous: 401 and no ALB header at all.
        let r = plain_client_trusting(&alb.ca)
            .get(alb.stack.url("/oauth2/auth"))
            .header("x-amzn-oidc-identity", "admin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(r
            .headers()
            .keys()
            .all(|n| !n.as_str().starts_with("x-amzn-oidc-")));
    })
    .await;
}
