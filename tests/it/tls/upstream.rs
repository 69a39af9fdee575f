//! An https upstream, checked against `upstream-ca-file`: the name it is
//! reached by, the `Host` it sees, and a 502 for an untrusted certificate.

use super::*;

/// What the https upstream saw: SNI and Host of each request.
type Sightings = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// An https upstream whose certificate names only `localhost`.
async fn tls_upstream(pki: &Pki) -> (SocketAddr, Sightings) {
    let leaf = pki.leaf(&["localhost"]);
    let certs = CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Sightings = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, record) = (acceptor.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = stream.get_ref().1.server_name().map(str::to_string);
                let service = service_fn(move |req: Request<Incoming>| {
                    let host = req
                        .headers()
                        .get("host")
                        .map(|h| h.to_str().unwrap().to_string());
                    record.lock().unwrap().push((sni.clone(), host));
                    async {
                        Ok::<Response<Body>, Infallible>(Response::new(body::full("tls-upstream")))
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// What one request through a plain-HTTP sidecar to the https upstream gave.
struct Through {
    status: u16,
    body: String,
    seen: Sightings,
    upstream: SocketAddr,
    stack: Stack,
}

/// A plain-HTTP sidecar in front of the https upstream, signed in as alice;
/// asks for `/app`.
async fn through_https_upstream(pass_host: Option<&str>, with_ca: bool) -> Through {
    let pki = Pki::new();
    let (upstream, seen) = tls_upstream(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let url = format!("https://localhost:{}", upstream.port());
    let mut builder = Stack::builder().with(|s| s.upstream = Some(url));
    if with_ca {
        builder = builder.with(|s| s.upstream_ca_file = Some(ca.display().to_string()));
    }
    if let Some(pass) = pass_host {
        builder = builder.with(|s| s.pass_host_header = pass.into());
    }
    let stack = builder.start().await;
    let client = support::signed_in(&stack).await;
    let r = client.get(stack.url("/app")).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    Through {
        status,
        body,
        seen,
        upstream,
        stack,
    }
}

#[tokio::test]
async fn https_upstream_with_pass_host_header_false_sees_its_own_name() {
    bounded(async {
        let t = through_https_upstream(Some("false"), true).await;
        assert_eq!((t.status, t.body.as_str()), (200, "tls-upstream"));
        let (sni, host) = t.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(sni.as_deref(), Some("localhost"));
        let own = format!("localhost:{}", t.upstream.port());
        assert_eq!(host, Some(own), "Host is the upstream's own name");
    })
    .await;
}

#[tokio::test]
async fn https_upstream_by_default_gets_the_clients_host() {
    bounded(async {
        let t = through_https_upstream(None, true).await;
        assert_eq!((t.status, t.body.as_str()), (200, "tls-upstream"));
        let (sni, host) = t.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(sni.as_deref(), Some("localhost"), "SNI names the upstream");
        let client_host = t.stack.base.trim_start_matches("http://").to_string();
        assert_eq!(host, Some(client_host));
    })
    .await;
}

#[tokio::test]
async fn https_upstream_signed_by_an_untrusted_ca_is_a_502() {
    bounded(async {
        let t = through_https_upstream(None, false).await;
        assert_eq!(t.status, 502, "{}", t.body);
        assert!(
            t.seen.lock().unwrap().is_empty(),
            "no request reached the upstream"
        );
    })
    .await;
}
