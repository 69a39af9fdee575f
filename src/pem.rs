//! PEM files: certificate chains, private keys and trust anchors, and the one
//! rustls crypto provider. A leaf: configuration checks these files at start,
//! the listener reloads its certificate with them, the upstream and Redis
//! clients trust their CAs through them.

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

/// The one crypto provider used for TLS everywhere (explicit, so no process
/// default has to be installed).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A problem with one file of a pair: which file (`cert` or `key`) and what is wrong.
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

/// The first private key in a PEM file; `kinds` names the accepted formats.
fn read_key(path: &Path, kinds: &str) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => format!("holds no PEM private key ({kinds})"),
        e => format!("not valid PEM: {e}"),
    })
}

/// Loads a certificate chain and its key, checking that they belong together;
/// every problem found, each naming its file (`cert` or `key`).
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, Vec<FileProblem>> {
    let certs = read_certs(cert).map_err(|m| ("cert", m));
    let key = read_key(key, "PKCS#8, PKCS#1 or SEC1").map_err(|m| ("key", m));
    let (certs, key) = match (certs, key) {
        (Ok(certs), Ok(key)) => (certs, key),
        (certs, key) => return Err([certs.err(), key.err()].into_iter().flatten().collect()),
    };
    CertifiedKey::from_der(certs, key, &crypto_provider()).map_err(|e| {
        let message = match e {
            rustls::Error::InconsistentKeys(_) => "does not match the certificate".to_string(),
            e => format!("cannot be used: {e}"),
        };
        vec![("key", message)]
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

/// The DER of a P-256 private key in a PEM file (PKCS#8, or SEC1 `EC PRIVATE KEY`).
pub fn read_p256_key(path: &Path) -> Result<Vec<u8>, String> {
    let der = read_key(path, "PKCS#8 or SEC1")?.secret_der().to_vec();
    EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|_| "is not a P-256 (prime256v1) EC private key".to_string())?;
    Ok(der)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use aws_lc_rs::rand::SystemRandom;

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

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }
    }

    #[test]
    fn a_matching_pair_loads_and_a_mismatch_names_the_key() {
        let f = Files::new();
        assert!(load_certified_key(&f.path("cert.pem"), &f.path("key.pem")).is_ok());
        let err = load_certified_key(&f.path("cert.pem"), &f.path("other.pem")).unwrap_err();
        assert_eq!(err, [("key", "does not match the certificate".to_string())]);
        assert!(load_roots(&f.path("cert.pem")).is_ok());
    }

    #[test]
    fn each_bad_file_gets_one_problem() {
        let f = Files::new();
        let err = load_certified_key(&f.path("key.pem"), &f.path("missing.pem")).unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        assert_eq!(err[0], ("cert", "holds no PEM certificate".to_string()));
        assert!(err[1].1.starts_with("cannot read the file: "), "{err:?}");
        let err = load_certified_key(&f.path("cert.pem"), &f.path("cert.pem")).unwrap_err();
        assert!(err[0].1.starts_with("holds no PEM private key"), "{err:?}");
    }

    fn pem_file(label: &str, der: &[u8]) -> tempfile::NamedTempFile {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let text = format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        );
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn p256_keys_only() {
        let rng = SystemRandom::new();
        let good = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let file = pem_file("PRIVATE KEY", good.as_ref());
        assert_eq!(read_p256_key(file.path()).unwrap(), good.as_ref());
        let p384 = &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let wrong = EcdsaKeyPair::generate_pkcs8(p384, &rng).unwrap();
        let file = pem_file("PRIVATE KEY", wrong.as_ref());
        let want = "is not a P-256 (prime256v1) EC private key";
        assert_eq!(read_p256_key(file.path()).unwrap_err(), want);
        let empty = pem_file("NOTHING", b"x");
        let want = "holds no PEM private key (PKCS#8 or SEC1)";
        assert_eq!(read_p256_key(empty.path()).unwrap_err(), want);
    }
}
