//! Where sessions live: in this process (one replica) or in Redis (any number
//! of replicas sharing sessions). The Redis URL may carry a password, so it is a
//! secret: redacted in problems and in `Debug`.

use std::path::{Path, PathBuf};

use url::Url;

use super::check::{check, Checker};
use super::parse::{self, Parsed};
use super::settings::Settings;
use super::{secret_files, SessionBackend};
use crate::secret::Secret;

/// `memory` or `redis`.
fn kind(s: &str) -> Parsed<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "memory" => Ok(false),
        "redis" => Ok(true),
        _ => Err("must be memory or redis".into()),
    }
}

/// `redis://` or `rediss://` (TLS) with a host; user and password allowed.
fn redis_url(s: &str) -> Parsed<String> {
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

/// The Redis URL, inline or from its file; `Some(Err)` when given but bad (a problem).
fn url(c: &mut Checker, s: &Settings) -> Option<Result<Secret<String>, ()>> {
    if let Some(url) = &s.redis_url {
        let checked = redis_url(url.expose()).map_err(|m| c.secret_problem("redis_url", m));
        return Some(checked.map(Secret::new));
    }
    let path = check!(c.optional(s.redis_url_file, parse::text))?;
    let text = secret_files::read_text(&path)
        .and_then(|t| redis_url(&t).map_err(|m| format!("the file's URL {m}")));
    Some(text.map(Secret::new).map_err(|message| {
        c.problem("redis_url_file", message, Some(&path));
    }))
}

/// A CA file for `rediss://`: readable PEM with at least one certificate.
fn ca_file(c: &mut Checker, s: &Settings, url: Option<&Secret<String>>) -> Option<PathBuf> {
    let path = check!(c.optional(s.redis_ca_file, parse::text))?;
    if let Err(message) = crate::pem::read_certs(Path::new(&path)) {
        c.problem("redis_ca_file", message, Some(&path));
    } else if !url.is_some_and(|u| u.expose().starts_with("rediss:")) {
        c.problem("redis_ca_file", "needs a rediss:// redis-url", Some(&path));
    }
    Some(PathBuf::from(path))
}

/// `session-store` defaults to `redis` when a Redis URL is given, else `memory`.
pub(crate) fn backend(c: &mut Checker, s: &Settings) -> SessionBackend {
    let redis = check!(c.optional(s.session_store, kind));
    let url = url(c, s);
    let prefix = check!(c.parse(s.redis_prefix, prefix)).unwrap_or_default();
    let ca_file = ca_file(c, s, url.as_ref().and_then(|u| u.as_ref().ok()));
    match (redis, url) {
        (Some(false) | None, None) => SessionBackend::Memory,
        (Some(false), Some(_)) => {
            let message =
                "is set but session-store is memory; set session-store = redis or drop it";
            c.problem("redis_url", message, None);
            SessionBackend::Memory
        }
        (Some(true), None) => {
            let message = "is required with session-store = redis (or set redis-url-file)";
            c.problem("redis_url", message, None);
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

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> (SessionBackend, Vec<String>) {
        let s = super::super::load::settings_from(pairs);
        let mut c = Checker::new(Vec::new());
        let backend = backend(&mut c, &s);
        (backend, c.problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn memory_by_default_and_redis_when_a_url_is_given() {
        assert!(matches!(load(&[]).0, SessionBackend::Memory));
        let (b, problems) = load(&[("redis_url", "redis://:pw@127.0.0.1:6379/0")]);
        assert!(problems.is_empty(), "{problems:?}");
        let SessionBackend::Redis { url, prefix, .. } = b else {
            panic!("redis expected")
        };
        assert_eq!(url.expose(), "redis://:pw@127.0.0.1:6379/0");
        assert_eq!(prefix, "cognito-sidecar:");
        let (b, _) = load(&[
            ("session_store", "redis"),
            ("redis_url", "rediss://h:6380"),
            ("redis_prefix", "app1:"),
        ]);
        assert!(matches!(b, SessionBackend::Redis { prefix, .. } if prefix == "app1:"));
    }

    #[test]
    fn contradictions_and_bad_urls_are_problems_that_hide_the_password() {
        assert_eq!(
            load(&[("session_store", "redis")]).1,
            vec!["redis-url: is required with session-store = redis (or set redis-url-file)"]
        );
        assert_eq!(
            load(&[("session_store", "memory"), ("redis_url", "redis://h")]).1,
            vec!["redis-url: is set but session-store is memory; set session-store = redis or drop it"]
        );
        assert_eq!(
            load(&[("session_store", "disk")]).1,
            vec![r#"session-store: must be memory or redis (got "disk")"#]
        );
        let (_, problems) = load(&[("redis_url", "http://:hunter2@h/")]);
        assert_eq!(
            problems,
            vec![r#"redis-url: must be a redis:// or rediss:// URL (got "[redacted]")"#]
        );
        assert!(load(&[("redis_prefix", "a*")]).1[0].starts_with("redis-prefix: must be"));
    }

    #[test]
    fn a_ca_file_must_be_pem_and_needs_rediss() {
        let got = load(&[
            ("redis_url", "rediss://h"),
            ("redis_ca_file", "/nonexistent/ca.pem"),
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
        let (b, problems) = load(&[("redis_url", "rediss://h"), ("redis_ca_file", &path)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(matches!(
            b,
            SessionBackend::Redis {
                ca_file: Some(_),
                ..
            }
        ));
        let got = load(&[("redis_url", "redis://h"), ("redis_ca_file", &path)]).1;
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
        let (b, problems) = load(&[("redis_url_file", &path)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            matches!(b, SessionBackend::Redis { url, .. } if url.expose() == "redis://:s3cret@127.0.0.1:1/")
        );
        let mut bad = tempfile::NamedTempFile::new().unwrap();
        bad.write_all(b"http://:s3cret@h/").unwrap();
        let path = bad.path().to_str().unwrap().to_string();
        let (_, problems) = load(&[("redis_url_file", &path)]);
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].contains("s3cret"), "{problems:?}");
    }
}
