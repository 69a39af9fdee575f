//! Where sessions live: in this process (one replica) or in Redis (any number
//! of replicas sharing sessions). The Redis URL may carry a password, so it is a
//! secret: redacted in problems and in `Debug`.

use std::path::{Path, PathBuf};

use url::Url;

use super::parse::{self, Parsed};
use super::reader::Reader;
use super::tls::read_certs;
use super::{file, SessionBackend};
use crate::secret::Secret;

/// Keys are `{prefix}s:...`; a prefix separates several deployments on one Redis.
const DEFAULT_PREFIX: &str = "cognito-sidecar:";

/// `memory` or `redis`.
fn kind(s: &str) -> Parsed<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "memory" => Ok(false),
        "redis" => Ok(true),
        _ => Err("must be memory or redis".into()),
    }
}

/// `redis://` or `rediss://` (TLS) with a host; user and password allowed.
pub(crate) fn redis_url(s: &str) -> Parsed<String> {
    let url = Url::parse(s.trim()).map_err(|_| "must be a redis:// or rediss:// URL")?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err("must be a redis:// or rediss:// URL".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    Ok(s.trim().to_string())
}

/// Printable ASCII without the glob characters `SCAN MATCH` would interpret.
fn prefix(s: &str) -> Parsed<String> {
    let ok = s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"*?[]\\".contains(&b));
    if !ok {
        return Err("must be at most 64 printable ASCII characters without * ? [ ] \\".into());
    }
    Ok(s.to_string())
}

/// The Redis URL, inline or from its file.
fn url(r: &mut Reader) -> Option<Result<Secret<String>, ()>> {
    if let Some(url) = r.optional("redis-url", redis_url) {
        return Some(Ok(Secret::new(url)));
    }
    if r.value("redis-url").is_some_and(|v| !v.trim().is_empty()) {
        return Some(Err(())); // given but invalid: already a problem
    }
    let path = r.optional("redis-url-file", parse::text)?;
    let text = file::read_secret(&path)
        .and_then(|b| String::from_utf8(b).map_err(|_| "the file is not UTF-8".into()))
        .and_then(|t| redis_url(&t).map_err(|m| format!("the file's URL {m}")));
    Some(text.map(Secret::new).map_err(|message| {
        r.problem("redis-url-file", message, Some(&path));
    }))
}

/// A CA file for `rediss://`: readable PEM with at least one certificate.
fn ca_file(r: &mut Reader, url: Option<&Secret<String>>) -> Option<PathBuf> {
    let path = r.optional("redis-ca-file", parse::text)?;
    if let Err(message) = read_certs(Path::new(&path)) {
        r.problem("redis-ca-file", message, Some(&path));
    } else if !url.is_some_and(|u| u.expose().starts_with("rediss:")) {
        r.problem("redis-ca-file", "needs a rediss:// redis-url", Some(&path));
    }
    Some(PathBuf::from(path))
}

/// `session-store` defaults to `redis` when a Redis URL is given, else `memory`.
pub(crate) fn backend(r: &mut Reader) -> SessionBackend {
    let redis = r.optional("session-store", kind);
    let url = url(r);
    let prefix = r.or("redis-prefix", DEFAULT_PREFIX.into(), prefix);
    let ca_file = ca_file(r, url.as_ref().and_then(|u| u.as_ref().ok()));
    match (redis, url) {
        (Some(false) | None, None) => SessionBackend::Memory,
        (Some(false), Some(_)) => {
            r.problem(
                "redis-url",
                "is set but session-store is memory; set session-store = redis or drop it",
                None,
            );
            SessionBackend::Memory
        }
        (Some(true), None) => {
            r.problem(
                "redis-url",
                "is required with session-store = redis (or set redis-url-file)",
                None,
            );
            SessionBackend::Memory
        }
        (_, Some(Ok(url))) => SessionBackend::Redis {
            url,
            prefix,
            ca_file,
        },
        (_, Some(Err(()))) => SessionBackend::Memory,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::source::Raw;
    use super::*;

    fn load(pairs: &[(&'static str, &str)]) -> (SessionBackend, Vec<String>) {
        let raw = Raw::from_pairs(pairs);
        let mut r = Reader::new(&raw, Vec::new());
        let backend = backend(&mut r);
        (backend, r.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn memory_by_default_and_redis_when_a_url_is_given() {
        assert!(matches!(load(&[]).0, SessionBackend::Memory));
        let (b, problems) = load(&[("redis-url", "redis://:pw@127.0.0.1:6379/0")]);
        assert!(problems.is_empty(), "{problems:?}");
        let SessionBackend::Redis { url, prefix, .. } = b else {
            panic!("redis expected")
        };
        assert_eq!(url.expose(), "redis://:pw@127.0.0.1:6379/0");
        assert_eq!(prefix, "cognito-sidecar:");
        let (b, _) = load(&[
            ("session-store", "redis"),
            ("redis-url", "rediss://h:6380"),
            ("redis-prefix", "app1:"),
        ]);
        assert!(matches!(b, SessionBackend::Redis { prefix, .. } if prefix == "app1:"));
    }

    #[test]
    fn contradictions_and_bad_urls_are_problems_that_hide_the_password() {
        assert_eq!(
            load(&[("session-store", "redis")]).1,
            vec!["redis-url: is required with session-store = redis (or set redis-url-file)"]
        );
        assert_eq!(
            load(&[("session-store", "memory"), ("redis-url", "redis://h")]).1,
            vec!["redis-url: is set but session-store is memory; set session-store = redis or drop it"]
        );
        assert_eq!(
            load(&[("session-store", "disk")]).1,
            vec![r#"session-store: must be memory or redis (got "disk")"#]
        );
        let (_, problems) = load(&[("redis-url", "http://:hunter2@h/")]);
        assert_eq!(
            problems,
            vec![r#"redis-url: must be a redis:// or rediss:// URL (got "[redacted]")"#]
        );
        assert!(load(&[("redis-prefix", "a*")]).1[0].starts_with("redis-prefix: must be"));
    }

    #[test]
    fn a_ca_file_must_be_pem_and_needs_rediss() {
        let got = load(&[
            ("redis-url", "rediss://h"),
            ("redis-ca-file", "/nonexistent/ca.pem"),
        ])
        .1;
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("redis-ca-file: cannot read the file"),
            "{got:?}"
        );
        let mut pem = tempfile::NamedTempFile::new().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ca".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        pem.write_all(cert.pem().as_bytes()).unwrap();
        let path = pem.path().to_str().unwrap().to_string();
        let (b, problems) = load(&[("redis-url", "rediss://h"), ("redis-ca-file", &path)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(matches!(
            b,
            SessionBackend::Redis {
                ca_file: Some(_),
                ..
            }
        ));
        let got = load(&[("redis-url", "redis://h"), ("redis-ca-file", &path)]).1;
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("redis-ca-file: needs a rediss:// redis-url"),
            "{got:?}"
        );
    }

    #[test]
    fn the_url_can_come_from_a_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"redis://:s3cret@127.0.0.1:1/\n").unwrap();
        let path = f.path().to_str().unwrap().to_string();
        let (b, problems) = load(&[("redis-url-file", &path)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            matches!(b, SessionBackend::Redis { url, .. } if url.expose() == "redis://:s3cret@127.0.0.1:1/")
        );
        let mut bad = tempfile::NamedTempFile::new().unwrap();
        bad.write_all(b"http://:s3cret@h/").unwrap();
        let path = bad.path().to_str().unwrap().to_string();
        let (_, problems) = load(&[("redis-url-file", &path)]);
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].contains("s3cret"), "{problems:?}");
    }
}
