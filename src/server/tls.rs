//! TLS termination: rustls offering HTTP/2 and HTTP/1.1 by ALPN, with a
//! certificate that is swapped in when its files change on disk (certificate
//! rotation by cert-manager, a Kubernetes secret, a cron job) without a restart.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::pem::{crypto_provider, load_certified_key, FileProblem};

/// How often the certificate and key files are checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// Hands every handshake the certificate current at that moment.
#[derive(Debug)]
struct Reloading {
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The acceptor for every listener; also starts the file watcher, which ends
/// once the acceptor and every connection made with it are gone.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, super::StartError> {
    let key = load_certified_key(&files.cert, &files.key)
        .map_err(|p| super::StartError::TlsFiles(describe(&p)))?;
    let resolver = Arc::new(Reloading {
        current: ArcSwap::from_pointee(key),
    });
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio::spawn(watch(files.clone(), Arc::downgrade(&resolver)));
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The handshake, bounded by `limit`; a failure is the client's problem, so
/// it is only logged at debug level.
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    limit: Duration,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// Polls the files; on a change loads the pair, and keeps the old one when
/// the new pair is unusable (say, the key was written but not yet the cert).
async fn watch(files: TlsFiles, resolver: Weak<Reloading>) {
    let mut seen = stamp(&files).await;
    loop {
        tokio::time::sleep(RELOAD_INTERVAL).await;
        let Some(resolver) = resolver.upgrade() else {
            return;
        };
        let now = stamp(&files).await;
        if now == seen {
            continue;
        }
        seen = now;
        match load_certified_key(&files.cert, &files.key) {
            Ok(key) => {
                resolver.current.store(Arc::new(key));
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(problems) => tracing::warn!(
                problem = %describe(&problems),
                "new TLS certificate not usable; keeping the previous one"
            ),
        }
    }
}

/// Modification time and length of both files (following symlinks, as in a
/// Kubernetes secret volume); any difference means "reload".
async fn stamp(files: &TlsFiles) -> [Option<(SystemTime, u64)>; 2] {
    let mut out = [None, None];
    for (slot, path) in out.iter_mut().zip([&files.cert, &files.key]) {
        if let Ok(meta) = tokio::fs::metadata(path).await {
            *slot = meta.modified().ok().map(|m| (m, meta.len()));
        }
    }
    out
}

fn describe(problems: &[FileProblem]) -> String {
    let name = |which: &str| {
        if which == "cert" {
            "tls-cert-file"
        } else {
            "tls-key-file"
        }
    };
    let lines: Vec<String> = problems
        .iter()
        .map(|(which, m)| format!("{}: {m}", name(which)))
        .collect();
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_one_line() {
        let problems = vec![
            ("cert", "holds no PEM certificate".to_string()),
            ("key", "cannot read the file".to_string()),
        ];
        assert_eq!(
            describe(&problems),
            "tls-cert-file: holds no PEM certificate; tls-key-file: cannot read the file"
        );
    }
}
