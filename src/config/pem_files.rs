//! Settings that name PEM files: the listener's TLS pair, the upstream's CA
//! and the signed identity's key. Each file is loaded at start, so a bad one
//! is a problem line, not a failure at the first request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::check::{check, Checker};
use super::settings::Settings;
use super::{parse, IdentityJwtConfig, TlsFiles};
use crate::secret::Secret;

/// Longest signed-identity lifetime accepted: the token is replayable until it expires.
const MAX_JWT_TTL: Duration = Duration::from_secs(3600);

/// The settings when `identity-jwt` is on; `None` when off or when the upstream
/// or the redirect URL is missing (already a problem then).
pub(crate) fn identity_jwt(
    c: &mut Checker,
    s: &Settings,
    upstream: Option<&Url>,
    redirect_url: Option<&Url>,
) -> Option<IdentityJwtConfig> {
    let enabled = check!(c.value(s.identity_jwt, parse::boolean));
    let audience = check!(c.optional(s.identity_jwt_audience, parse::text));
    let ttl = check!(c.parse(s.identity_jwt_ttl, parse::duration)).unwrap_or(MAX_JWT_TTL);
    if ttl < Duration::from_secs(1) || ttl > MAX_JWT_TTL {
        let message = "must be between 1s and 1h";
        c.problem("identity_jwt_ttl", message, Some(&s.identity_jwt_ttl));
    }
    if !enabled {
        return None;
    }
    let key = check!(c.file(s.identity_jwt_key_file, crate::pem::read_p256_key));
    let (upstream, redirect_url) = (upstream?, redirect_url?);
    Some(IdentityJwtConfig {
        issuer: redirect_url.origin().ascii_serialization(),
        audience: audience.unwrap_or_else(|| upstream.origin().ascii_serialization()),
        ttl: Duration::from_secs(ttl.as_secs()),
        key: key.map(Secret::new),
    })
}

/// `tls-cert-file` + `tls-key-file` (both or neither, and loadable), `upstream-ca-file`.
pub(crate) fn tls(c: &mut Checker, s: &Settings) -> (Option<TlsFiles>, Option<PathBuf>) {
    let cert = check!(c.optional(s.tls_cert_file, parse::text));
    let key = check!(c.optional(s.tls_key_file, parse::text));
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(_), None) => {
            c.problem("tls_key_file", "is required with tls-cert-file", None);
            None
        }
        (None, Some(_)) => {
            c.problem("tls_cert_file", "is required with tls-key-file", None);
            None
        }
        (Some(cert), Some(key)) => tls_pair(c, cert, key),
    };
    let roots = |p: &Path| crate::pem::load_roots(p).map(|_| p.to_path_buf());
    (tls, check!(c.file(s.upstream_ca_file, roots)))
}

fn tls_pair(c: &mut Checker, cert: String, key: String) -> Option<TlsFiles> {
    let files = TlsFiles {
        cert: PathBuf::from(&cert),
        key: PathBuf::from(&key),
    };
    let Err(problems) = crate::pem::load_certified_key(&files.cert, &files.key) else {
        return Some(files);
    };
    for (which, message) in problems {
        match which {
            "cert" => c.problem("tls_cert_file", message, Some(&cert)),
            _ if message.starts_with("does not match") => {
                let message = format!("{message} in tls-cert-file");
                c.problem("tls_key_file", message, Some(&key));
            }
            _ => c.problem("tls_key_file", message, Some(&key)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::validate::tests::{lines, load};
    use super::*;

    #[test]
    fn identity_jwt_is_off_by_default_and_its_ttl_is_bounded() {
        assert!(load(&[]).unwrap().identity_jwt.is_none());
        let c = load(&[("identity_jwt", "true")])
            .unwrap()
            .identity_jwt
            .unwrap();
        assert_eq!(c.issuer, "https://app.example.com");
        assert_eq!(c.audience, "http://127.0.0.1:8080");
        assert_eq!(c.ttl, Duration::from_secs(60));
        assert!(c.key.is_none());
        for bad in ["500ms", "2h"] {
            assert_eq!(
                lines(&[("identity_jwt", "yes"), ("identity_jwt_ttl", bad)]),
                [format!(
                    "identity-jwt-ttl: must be between 1s and 1h (got {bad:?})"
                )]
            );
        }
        let got = lines(&[
            ("identity_jwt", "1"),
            ("identity_jwt_key_file", "/nonexistent"),
        ]);
        assert!(
            got[0].starts_with("identity-jwt-key-file: cannot read the file"),
            "{got:?}"
        );
    }

    #[test]
    fn tls_files_come_in_pairs_and_must_load() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(path("cert.pem"), cert.pem()).unwrap();
        std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();
        std::fs::write(path("other.pem"), other.serialize_pem()).unwrap();
        let (cert, key, other) = (path("cert.pem"), path("key.pem"), path("other.pem"));
        let c = load(&[
            ("tls_cert_file", &cert),
            ("tls_key_file", &key),
            ("upstream_ca_file", &cert),
        ]);
        assert_eq!(c.unwrap().tls.unwrap().key, PathBuf::from(&key));
        assert_eq!(
            lines(&[("tls_cert_file", &cert)]),
            ["tls-key-file: is required with tls-cert-file"]
        );
        assert_eq!(
            lines(&[("tls_cert_file", &cert), ("tls_key_file", &other)]),
            [format!(
                "tls-key-file: does not match the certificate in tls-cert-file (got {other:?})"
            )]
        );
        assert_eq!(
            lines(&[
                ("tls_cert_file", &key),
                ("tls_key_file", &key),
                ("upstream_ca_file", &key)
            ]),
            [
                format!("tls-cert-file: holds no PEM certificate (got {key:?})"),
                format!("upstream-ca-file: holds no PEM certificate (got {key:?})"),
            ]
        );
    }
}
