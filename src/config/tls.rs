//! TLS settings: the listener's certificate and key, the upstream's CA, and the
//! PEM loading shared by validation (at start) and the certificate reloader.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

use super::reader::Reader;
use super::{parse, TlsFiles};

/// The one crypto provider used for TLS everywhere (explicit, so no process
/// default has to be installed).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A problem with one file of the pair: the setting's name and what is wrong.
pub type FileProblem = (&'static str, String);

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))
}

/// Every certificate in a PEM file; at least one.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".to_string()
        }
        e => format!("not valid PEM: {e}"),
    })
}

/// Loads a certificate chain and its key, checking that they belong together;
/// every problem found, each naming its setting.
pub fn load_certified_key(files: &TlsFiles) -> Result<CertifiedKey, Vec<FileProblem>> {
    let certs = read_certs(&files.cert).map_err(|m| ("tls-cert-file", m));
    let key = read_key(&files.key).map_err(|m| ("tls-key-file", m));
    let (certs, key) = match (certs, key) {
        (Ok(certs), Ok(key)) => (certs, key),
        (certs, key) => return Err([certs.err(), key.err()].into_iter().flatten().collect()),
    };
    CertifiedKey::from_der(certs, key, &crypto_provider()).map_err(|e| {
        let message = match e {
            rustls::Error::InconsistentKeys(_) => {
                "does not match the certificate in tls-cert-file".to_string()
            }
            e => format!("cannot be used: {e}"),
        };
        vec![("tls-key-file", message)]
    })
}

/// Trust anchors from a PEM file of CA certificates.
pub fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("holds a certificate that cannot be a trust anchor: {e}"))?;
    }
    Ok(roots)
}

/// `tls-cert-file` + `tls-key-file` (both or neither, and loadable), `upstream-ca-file`.
pub(crate) fn files(r: &mut Reader) -> (Option<TlsFiles>, Option<PathBuf>) {
    let cert = r.optional("tls-cert-file", parse::text);
    let key = r.optional("tls-key-file", parse::text);
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(_), None) => {
            r.problem("tls-key-file", "is required with tls-cert-file", None);
            None
        }
        (None, Some(_)) => {
            r.problem("tls-cert-file", "is required with tls-key-file", None);
            None
        }
        (Some(cert), Some(key)) => checked_pair(r, cert, key),
    };
    let ca = r.optional("upstream-ca-file", parse::text);
    if let Some(Err(message)) = ca.as_ref().map(|p| load_roots(Path::new(p))) {
        r.problem("upstream-ca-file", message, ca.as_deref());
    }
    (tls, ca.map(PathBuf::from))
}

fn checked_pair(r: &mut Reader, cert: String, key: String) -> Option<TlsFiles> {
    let files = TlsFiles {
        cert: PathBuf::from(&cert),
        key: PathBuf::from(&key),
    };
    let Err(problems) = load_certified_key(&files) else {
        return Some(files);
    };
    for (setting, message) in problems {
        let path = if setting == "tls-cert-file" {
            &cert
        } else {
            &key
        };
        r.problem(setting, message, Some(path));
    }
    None
}
