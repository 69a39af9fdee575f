//! The `identity-jwt*` settings: the signed identity header the upstream can verify.

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use url::Url;

use super::reader::Reader;
use super::{parse, IdentityJwtConfig};
use crate::secret::Secret;

/// Longest token lifetime accepted: the token is replayable until it expires.
const MAX_TTL: Duration = Duration::from_secs(3600);

/// The settings when `identity-jwt` is on; `None` when off or when the upstream
/// or the redirect URL is missing (already a problem then).
pub(crate) fn settings(
    r: &mut Reader,
    upstream: Option<&Url>,
    redirect_url: Option<&Url>,
) -> Option<IdentityJwtConfig> {
    let enabled = r.or("identity-jwt", false, parse::boolean);
    let audience = r.optional("identity-jwt-audience", parse::text);
    let ttl = r.or("identity-jwt-ttl", Duration::from_secs(60), parse::duration);
    if ttl < Duration::from_secs(1) || ttl > MAX_TTL {
        let got = r.value("identity-jwt-ttl").map(str::to_string);
        r.problem(
            "identity-jwt-ttl",
            "must be between 1s and 1h",
            got.as_deref(),
        );
    }
    let key_file = r.optional("identity-jwt-key-file", parse::text);
    if !enabled {
        return None;
    }
    let key = match key_file {
        Some(path) => match read_key(Path::new(&path)) {
            Ok(der) => Some(Secret::new(der)),
            Err(message) => {
                r.problem("identity-jwt-key-file", message, Some(&path));
                None
            }
        },
        None => None,
    };
    let (upstream, redirect_url) = (upstream?, redirect_url?);
    Some(IdentityJwtConfig {
        issuer: redirect_url.origin().ascii_serialization(),
        audience: audience.unwrap_or_else(|| upstream.origin().ascii_serialization()),
        ttl: Duration::from_secs(ttl.as_secs()),
        key,
    })
}

/// The DER of the P-256 private key in a PEM file (PKCS#8, or SEC1 `EC PRIVATE KEY`).
pub(super) fn read_key(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            "holds no PEM private key (PKCS#8 or SEC1)".to_string()
        }
        e => format!("not valid PEM: {e}"),
    })?;
    let der = key.secret_der().to_vec();
    EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|_| "is not a P-256 (prime256v1) EC private key".to_string())?;
    Ok(der)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use aws_lc_rs::rand::SystemRandom;

    use super::*;
    use crate::config::source::Raw;

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn read(pairs: &[(&'static str, &str)]) -> (Option<IdentityJwtConfig>, Vec<String>) {
        let raw = Raw::from_pairs(pairs);
        let mut r = Reader::new(&raw, Vec::new());
        let upstream = Url::parse("http://127.0.0.1:8000/base/").unwrap();
        let redirect = Url::parse("https://app.example.com/oauth2/callback").unwrap();
        let got = settings(&mut r, Some(&upstream), Some(&redirect));
        (got, r.problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn off_by_default_and_defaults_follow_the_urls() {
        assert!(read(&[]).0.is_none());
        let (c, problems) = read(&[("identity-jwt", "true")]);
        assert!(problems.is_empty(), "{problems:?}");
        let c = c.unwrap();
        assert_eq!(c.issuer, "https://app.example.com");
        assert_eq!(c.audience, "http://127.0.0.1:8000");
        assert_eq!(c.ttl, Duration::from_secs(60));
        assert!(c.key.is_none());
    }

    #[test]
    fn ttl_is_bounded() {
        for bad in ["500ms", "2h"] {
            let (_, problems) = read(&[("identity-jwt", "yes"), ("identity-jwt-ttl", bad)]);
            assert_eq!(
                problems,
                [format!(
                    "identity-jwt-ttl: must be between 1s and 1h (got {bad:?})"
                )]
            );
        }
    }

    #[test]
    fn key_file_must_hold_a_p256_key() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let good = file(&pem("PRIVATE KEY", doc.as_ref()));
        let path = good.path().to_str().unwrap();
        let (c, problems) = read(&[("identity-jwt", "1"), ("identity-jwt-key-file", path)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.unwrap().key.unwrap().expose(), doc.as_ref());

        let p384 = EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap();
        let wrong = file(&pem("PRIVATE KEY", p384.as_ref()));
        let empty = file("no key here\n");
        for (f, message) in [
            (&wrong, "is not a P-256 (prime256v1) EC private key"),
            (&empty, "holds no PEM private key (PKCS#8 or SEC1)"),
        ] {
            let path = f.path().to_str().unwrap();
            let (_, problems) = read(&[("identity-jwt", "1"), ("identity-jwt-key-file", path)]);
            assert_eq!(
                problems,
                [format!("identity-jwt-key-file: {message} (got {path:?})")]
            );
        }
    }
}
