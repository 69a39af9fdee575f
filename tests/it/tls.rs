//! TLS: the sidecar terminating HTTPS (HTTP/2 and HTTP/1.1 by ALPN, secure
//! cookies, certificate reload) and an https [`upstream`] checked against a CA file.
//! Certificates are made here with rcgen: one test CA, leaves for `localhost`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

mod upstream;
use cognito_sidecar::config::Settings;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cognito_sidecar::body::{self, Body};
use cognito_sidecar::mock::MockConfig;
use cognito_sidecar::pem::crypto_provider;
use http::{Request, Response, Version};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use reqwest::redirect::Policy;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use support::{bounded, sign_in_as, start_mock_for, start_sidecar_unready, Stack};

/// A test CA that signs leaf certificates.
pub(crate) struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    pub(crate) ca_der: CertificateDer<'static>,
}

/// A leaf certificate (PEM, DER) and its key (PEM).
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cognito-sidecar test CA");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = CertificateParams::new(names).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn reqwest_cert(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap()
    }
}

fn write_leaf(dir: &Path, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    (cert, key)
}

/// The sidecar serving HTTPS as `https://localhost:PORT` with the default
/// (secure) cookie settings, its mock IdP allowing that callback.
pub(crate) struct TlsStack {
    pub(crate) stack: Stack,
    pub(crate) addr: SocketAddr,
    pub(crate) pki: Pki,
    dir: tempfile::TempDir,
}

async fn start_tls_stack() -> TlsStack {
    start_tls_stack_with(|_| {}).await
}

/// Like [`start_tls_stack`], with more `SIDECAR_*` settings.
pub(crate) async fn start_tls_stack_with(extra: impl FnOnce(&mut Settings)) -> TlsStack {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_leaf(dir.path(), &pki.leaf(&["localhost", "127.0.0.1"]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("https://localhost:{}", addr.port());
    let mock = start_mock_for(MockConfig::demo(), &base).await;
    let mut settings = Settings {
        cookie_secure: "true".into(),
        tls_cert_file: Some(cert.display().to_string()),
        tls_key_file: Some(key.display().to_string()),
        ..support::test_settings()
    };
    extra(&mut settings);
    // Not ready-checked here: `/ready` needs a client that trusts the test CA.
    let stack = start_sidecar_unready(&mock, listener, &base, &settings).await;
    let tls = TlsStack {
        stack,
        addr,
        pki,
        dir,
    };
    tls.wait_ready().await;
    tls
}

impl TlsStack {
    /// A cookie-keeping client that trusts only the test CA and reaches
    /// `localhost` at the sidecar's address.
    fn browser(&self, http1_only: bool) -> reqwest::Client {
        self.browser_with_jar(http1_only, Arc::default())
    }

    fn browser_with_jar(
        &self,
        http1_only: bool,
        jar: Arc<reqwest::cookie::Jar>,
    ) -> reqwest::Client {
        let builder = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(Policy::none())
            .tls_certs_only([self.pki.reqwest_cert()])
            .resolve("localhost", self.addr);
        let builder = if http1_only {
            builder.http1_only()
        } else {
            builder
        };
        builder.build().unwrap()
    }

    async fn wait_ready(&self) {
        let client = self.browser(true);
        for _ in 0..200 {
            if let Ok(r) = client.get(self.stack.url("/ready")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the TLS sidecar never became ready");
    }
}

/// Handshakes with a raw rustls client trusting `ca`; the presented leaf
/// (DER) and the ALPN protocol chosen, or the handshake error.
async fn handshake(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Result<(Vec<u8>, Option<Vec<u8>>), std::io::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let conn = tls.get_ref().1;
    let leaf = conn.peer_certificates().unwrap()[0].to_vec();
    Ok((leaf, conn.alpn_protocol().map(<[u8]>::to_vec)))
}

#[tokio::test]
async fn sign_in_over_https_with_secure_host_cookie_then_http2_reaches_upstream() {
    bounded(async {
        let tls = start_tls_stack().await;
        let stack = &tls.stack;
        let client = tls.browser(false);
        let r = sign_in_as(stack, &client, "/deep?x=1", "alice", "alice-password").await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.version(), Version::HTTP_2);
        let cookie = support::set_cookies(&r)
            .into_iter()
            .find(|c| c.starts_with("__Host-_cognito_sidecar="))
            .expect("a __Host- session cookie");
        assert!(
            cookie.contains("; Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
        assert_eq!(support::location(&r), "/deep?x=1");

        let r = client.get(stack.url("/deep?x=1")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), Version::HTTP_2, "h2 is negotiated by ALPN");
        assert_eq!(r.text().await.unwrap(), "upstream:/deep?x=1");
        let seen = stack.upstream.last();
        let authority = format!("localhost:{}", tls.addr.port());
        assert_eq!(
            seen.header("host"),
            Some(authority.as_str()),
            "Host from :authority"
        );
        assert_eq!(seen.header("x-forwarded-host"), Some(authority.as_str()));
        assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
        assert!(seen.header("x-user-sub").is_some());
        assert!(seen.header("x-user-email").is_some_and(|e| e.contains('@')));
        assert_eq!(seen.header("x-user-username"), Some("alice"));
    })
    .await;
}

#[tokio::test]
async fn http1_over_tls_still_works_and_keeps_the_session() {
    bounded(async {
        let tls = start_tls_stack().await;
        let client = tls.browser(true);
        let r = sign_in_as(&tls.stack, &client, "/one", "alice", "alice-password").await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.version(), Version::HTTP_11);
        let r = client.get(tls.stack.url("/one")).send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.version()), (200, Version::HTTP_11));
        let seen = tls.stack.upstream.last();
        let authority = format!("localhost:{}", tls.addr.port());
        assert_eq!(seen.header("host"), Some(authority.as_str()));
        assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
        assert_eq!(seen.header("x-user-username"), Some("alice"));
    })
    .await;
}

#[tokio::test]
async fn alpn_offers_h2_then_http1_and_failed_handshakes_are_harmless() {
    bounded(async {
        let tls = start_tls_stack().await;
        let ca = &tls.pki.ca_der;
        let (_, alpn) = handshake(tls.addr, ca, &[b"h2", b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
        let (_, alpn) = handshake(tls.addr, ca, &[b"http/1.1"]).await.unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));

        // A client trusting another CA, and one speaking plain HTTP, fail alone.
        let other = Pki::new();
        assert!(handshake(tls.addr, &other.ca_der, &[]).await.is_err());
        let plain = reqwest::Client::new()
            .get(format!("http://{}/ping", tls.addr))
            .send()
            .await;
        assert!(plain.is_err() || !plain.unwrap().status().is_success());
        let r = tls
            .browser(false)
            .get(tls.stack.url("/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}

/// New TLS connections until one presents `want`, for at most ~10 s.
async fn wait_for_cert(tls: &TlsStack, want: &[u8]) -> bool {
    for _ in 0..100 {
        let (leaf, _) = handshake(tls.addr, &tls.pki.ca_der, &[]).await.unwrap();
        if leaf == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn rotated_certificate_files_are_served_and_a_bad_pair_keeps_the_old_one() {
    bounded(async {
        let tls = start_tls_stack().await;
        let (first, _) = handshake(tls.addr, &tls.pki.ca_der, &[]).await.unwrap();

        // Only the key changes: the pair no longer matches, the old one stays.
        let next = tls.pki.leaf(&["localhost", "127.0.0.1", "rotated.test"]);
        std::fs::write(tls.dir.path().join("tls.key"), &next.key_pem).unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (leaf, _) = handshake(tls.addr, &tls.pki.ca_der, &[]).await.unwrap();
        assert_eq!(
            leaf, first,
            "a mismatched pair must not replace the working one"
        );

        // The matching certificate arrives: new connections get it.
        std::fs::write(tls.dir.path().join("tls.crt"), &next.cert_pem).unwrap();
        assert_ne!(next.der, first);
        assert!(
            wait_for_cert(&tls, &next.der).await,
            "the new certificate is served"
        );
        let r = tls
            .browser(false)
            .get(tls.stack.url("/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}

/// A WebSocket echo upstream (plain HTTP/1.1).
async fn ws_echo_upstream() -> SocketAddr {
    use futures_util::{SinkExt, StreamExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_websocket_echoes_over_tls_http1() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    bounded(async {
        let upstream = ws_echo_upstream().await;
        let tls = start_tls_stack_with(|s| s.upstream = Some(format!("http://{upstream}"))).await;
        let jar: Arc<reqwest::cookie::Jar> = Arc::default();
        let client = tls.browser_with_jar(false, jar.clone());
        let r = sign_in_as(&tls.stack, &client, "/", "alice", "alice-password").await;
        assert_eq!(r.status(), 302);
        let cookies = support::jar_cookies(&jar, &tls.stack.url("/"));
        let cookie: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();

        let mut roots = RootCertStore::empty();
        roots.add(tls.pki.ca_der.clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = TcpStream::connect(tls.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let stream = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let url = format!("wss://localhost:{}/ws", tls.addr.port());
        let mut request = url.into_client_request().unwrap();
        let header = cookie.join("; ").parse().unwrap();
        request.headers_mut().insert("cookie", header);
        let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
            .await
            .expect("the upgrade succeeds over TLS");
        assert_eq!(response.status(), 101);
        ws.send(Message::text("over tls")).await.unwrap();
        let echoed = ws.next().await.expect("an echo").unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), "over tls");
    })
    .await;
}

#[tokio::test]
async fn a_tls_connection_idle_after_the_handshake_is_closed() {
    bounded(async {
        let tls = start_tls_stack_with(|s| s.client_header_timeout = "1s".into()).await;
        for alpn in [&b"h2"[..], b"http/1.1"] {
            let mut roots = RootCertStore::empty();
            roots.add(tls.pki.ca_der.clone()).unwrap();
            let mut config = ClientConfig::builder_with_provider(crypto_provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![alpn.to_vec()];
            let tcp = TcpStream::connect(tls.addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let mut stream = TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .unwrap();
            // Nothing sent after the handshake: closed after client-header-timeout.
            let mut buf = [0u8; 256];
            let closed = tokio::time::timeout(Duration::from_secs(4), async {
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
            assert!(
                closed.is_ok(),
                "{:?} idle connection closed",
                String::from_utf8_lossy(alpn)
            );
        }
    })
    .await;
}
