//! HTTP/2 with header lists no browser sends: `:authority` naming one host and
//! `host` another, or two `host` fields (RFC 9113 §8.3.1), from a raw `h2`
//! client over TLS and over h2c (prior knowledge). Each must be a 400 that
//! never reaches the app, and the app only ever sees the host that was
//! authorized. h2c itself is off unless `h2c = true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use cognito_sidecar::config::Settings;
use cognito_sidecar::mock::{MockConfig, MockHandle, MockUser, TokenTweak, DEMO_CLIENT_ID};
use cognito_sidecar::pem::crypto_provider;
use http::Request;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

use crate::support::{bounded, start_mock_for, start_sidecar_with, Stack};
use crate::tls::{start_tls_stack_with, TlsStack};

/// One request: `:authority` from `authority`, then the `host` fields as given.
async fn send<T>(io: T, authority: &str, hosts: &[&str], bearer: Option<&str>) -> u16
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let mut req = Request::get(format!("https://{authority}/x"));
    for host in hosts {
        req = req.header("host", *host);
    }
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let (response, _) = client.send_request(req.body(()).unwrap(), true).unwrap();
    response.await.unwrap().status().as_u16()
}

/// The routes under attack: a skip-auth host, a host nobody may use, and a
/// host whose provider is another pool.
fn routes(staff_issuer: &str, staff_discovery: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        r#"
[[route]]
host = "public.example.com"
skip_auth = true

[[route]]
host = "admin.example.com"
allowed_groups = ["nobody"]

[[provider]]
name = "staff"
hosts = ["staff.example.com"]
issuer_url = "{staff_issuer}"
discovery_url = "{staff_discovery}"
provider = "cognito"
client_id = "staffclient0123456789abcde"
client_secret = "staff-secret-0123456789"
"#
    )
    .unwrap();
    file
}

fn staff_pool() -> MockConfig {
    let mut pool = MockConfig::demo();
    pool.pool_id = "eu-west-1_StaffPool".into();
    pool.clients[0].client_id = "staffclient0123456789abcde".into();
    pool.clients[0].client_secret = Some("staff-secret-0123456789".into());
    pool.users = vec![MockUser {
        username: "sam".into(),
        password: "sam-password".into(),
        email: Some("sam@corp.example".into()),
        email_verified: true,
        ..MockUser::default()
    }];
    pool
}

/// The attacks of the issue, each on a fresh connection from `connect`;
/// none may reach the app, and an honest request shows the authorized host.
async fn attacks<F, Fut, T>(stack: &Stack, connect: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let alice = stack
        .mock
        .mint_id_token_for("alice", DEMO_CLIENT_ID, None, TokenTweak::NoTweak)
        .unwrap();
    let cases: [(&str, &[&str], Option<&str>, &str); 5] = [
        (
            "public.example.com",
            &["admin.example.com"],
            None,
            "skip-auth host route bypass",
        ),
        (
            "www.example.com",
            &["admin.example.com"],
            Some(&alice),
            "host rule",
        ),
        (
            "www.example.com",
            &["staff.example.com"],
            Some(&alice),
            "host-restricted provider",
        ),
        (
            "public.example.com",
            &["public.example.com", "admin.example.com"],
            None,
            "two host fields",
        ),
        (
            "admin.example.com@public.example.com",
            &[],
            None,
            "userinfo in :authority",
        ),
    ];
    for (authority, hosts, bearer, what) in cases {
        let status = send(connect().await, authority, hosts, bearer).await;
        assert_eq!(status, 400, "{what}");
    }
    assert_eq!(stack.upstream.count(), 0, "nothing reached the app");

    let status = send(
        connect().await,
        "Public.Example.com",
        &["public.example.com"],
        None,
    )
    .await;
    assert_eq!(status, 200, "the same host in both, case aside, is fine");
    let seen = stack.upstream.last();
    assert_eq!(seen.header("host"), Some("Public.Example.com"));
    assert_eq!(seen.header("x-forwarded-host"), Some("Public.Example.com"));
    assert_eq!(seen.headers.iter().filter(|(n, _)| n == "host").count(), 1);
    let status = send(connect().await, "admin.example.com", &[], Some(&alice)).await;
    assert_eq!(status, 403, "the host rule holds over HTTP/2");
}

/// A plain-HTTP sidecar with [`routes`]; the staff pool and the file live
/// as long as the returned guard.
async fn plain_stack(
    extra: impl FnOnce(&mut Settings),
) -> (Stack, (tempfile::NamedTempFile, MockHandle)) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mock = start_mock_for(MockConfig::demo(), &base).await;
    let staff = start_mock_for(staff_pool(), &base).await;
    let file = routes(&staff.issuer(), &staff.discovery_url());
    let mut settings = crate::support::test_settings();
    crate::support::config_file(&mut settings, file.path());
    extra(&mut settings);
    let stack = start_sidecar_with(&mock, listener, &base, &settings).await;
    (stack, (file, staff))
}

#[tokio::test]
async fn h2c_authority_and_host_must_agree() {
    bounded(async {
        let (stack, _guard) = plain_stack(|s| s.h2c = "true".into()).await;
        let addr = stack.sidecar.addr();
        attacks(
            &stack,
            || async move { TcpStream::connect(addr).await.unwrap() },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn h2c_is_off_unless_asked_for() {
    bounded(async {
        let (stack, _guard) = plain_stack(|_| {}).await;
        let io = TcpStream::connect(stack.sidecar.addr()).await.unwrap();
        let refused = async {
            let (client, conn) = h2::client::handshake(io).await?;
            tokio::spawn(conn);
            let mut client = client.ready().await?;
            let req = Request::get("http://public.example.com/x")
                .body(())
                .unwrap();
            let (response, _) = client.send_request(req, true)?;
            response.await.map(|r| r.status())
        };
        let got = refused.await;
        assert!(got.is_err(), "an HTTP/1-only listener: {got:?}");
        assert_eq!(stack.upstream.count(), 0);
    })
    .await;
}

async fn tls_connect(
    addr: SocketAddr,
    tls: &TlsStack,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(tls.pki.ca_der.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn over_tls_authority_and_host_must_agree() {
    bounded(async {
        let staff = start_mock_for(staff_pool(), "https://localhost").await;
        let file = routes(&staff.issuer(), &staff.discovery_url());
        let tls = start_tls_stack_with(|s| crate::support::config_file(s, file.path())).await;
        let (addr, tls) = (tls.addr, &tls);
        attacks(&tls.stack, || tls_connect(addr, tls)).await;
    })
    .await;
}
