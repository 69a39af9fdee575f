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

#[cfg(test)]
mod tests {
    use super::super::source::Raw;
    use super::*;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        /// A leaf for `localhost` (cert.pem, key.pem), another key (other.pem).
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            let cert = params.self_signed(&key).unwrap();
            let other = rcgen::KeyPair::generate().unwrap();
            std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
            std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
            std::fs::write(dir.path().join("other.pem"), other.serialize_pem()).unwrap();
            Self { dir }
        }

        fn path(&self, name: &str) -> String {
            self.dir.path().join(name).display().to_string()
        }
    }

    fn check(pairs: &[(&'static str, &str)]) -> (Option<TlsFiles>, Option<PathBuf>, Vec<String>) {
        let raw = Raw::from_pairs(pairs);
        let mut r = Reader::new(&raw, Vec::new());
        let (tls, ca) = files(&mut r);
        let lines = r.problems.iter().map(ToString::to_string).collect();
        (tls, ca, lines)
    }

    #[test]
    fn a_matching_pair_and_a_ca_file_load() {
        let f = Files::new();
        let (cert, key) = (f.path("cert.pem"), f.path("key.pem"));
        let pairs = [
            ("tls-cert-file", cert.as_str()),
            ("tls-key-file", key.as_str()),
            ("upstream-ca-file", cert.as_str()),
        ];
        let (tls, ca, lines) = check(&pairs);
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(tls.unwrap().key, PathBuf::from(&key));
        assert_eq!(ca, Some(PathBuf::from(&cert)));
        assert_eq!(check(&[]), (None, None, vec![]));
    }

    #[test]
    fn cert_and_key_come_together() {
        let f = Files::new();
        let cert = f.path("cert.pem");
        let (tls, _, lines) = check(&[("tls-cert-file", &cert)]);
        assert!(tls.is_none());
        assert_eq!(lines, ["tls-key-file: is required with tls-cert-file"]);
        let (_, _, lines) = check(&[("tls-key-file", &cert)]);
        assert_eq!(lines, ["tls-cert-file: is required with tls-key-file"]);
    }

    #[test]
    fn each_bad_file_gets_one_line() {
        let f = Files::new();
        let (key, other) = (f.path("key.pem"), f.path("other.pem"));
        let missing = f.path("missing.pem");
        let (tls, _, lines) = check(&[("tls-cert-file", &key), ("tls-key-file", &missing)]);
        assert!(tls.is_none());
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0],
            format!("tls-cert-file: holds no PEM certificate (got {key:?})")
        );
        assert!(
            lines[1].starts_with("tls-key-file: cannot read the file: "),
            "{}",
            lines[1]
        );

        let cert = f.path("cert.pem");
        let (_, _, lines) = check(&[("tls-cert-file", &cert), ("tls-key-file", &other)]);
        let want = format!(
            "tls-key-file: does not match the certificate in tls-cert-file (got {other:?})"
        );
        assert_eq!(lines, [want]);
        let (_, _, lines) = check(&[("tls-cert-file", &cert), ("tls-key-file", &cert)]);
        assert!(
            lines[0].starts_with("tls-key-file: holds no PEM private key"),
            "{lines:?}"
        );

        let (_, ca, lines) = check(&[("upstream-ca-file", &key)]);
        assert!(
            ca.is_some(),
            "the path is kept; the problem stops the start"
        );
        assert_eq!(
            lines,
            [format!(
                "upstream-ca-file: holds no PEM certificate (got {key:?})"
            )]
        );
    }
}
