//! Where sessions live: in this process (one replica) or in Redis (any number
//! of replicas sharing sessions). The Redis URL may carry a password, so it is a
//! secret: redacted in problems and in `Debug`.

use std::path::{Path, PathBuf};

use super::check::{check, Checker};
use super::parse::{self, Parsed};
use super::redis_url::{self, RedisEndpoint, Topology, SENTINEL_FORM};
use super::settings::Settings;
use super::{secret_files, SessionBackend};
use crate::secret::Secret;

/// What `session-store` says: a kind, or a Redis URL standing for
/// `session-store = redis` plus that `redis-url`.
enum Kind {
    Memory,
    Redis,
    Url(Secret<String>),
}

/// `memory`, `redis`, or a Redis URL (then never echoed: it may hold a password).
fn kind(c: &mut Checker, s: &Settings) -> Option<Kind> {
    let value = s.session_store.as_ref()?.expose().trim();
    if value.contains("://") {
        return match redis_url(value) {
            Ok(url) => Some(Kind::Url(Secret::new(url))),
            Err(message) => {
                c.secret_problem("session_store", message);
                None
            }
        };
    }
    match value.to_ascii_lowercase().as_str() {
        "" => None,
        "memory" => Some(Kind::Memory),
        "redis" => Some(Kind::Redis),
        _ => {
            let message = "must be memory, redis or a Redis URL (as redis-url takes)";
            c.problem("session_store", message, Some(value));
            None
        }
    }
}

/// Any form [`redis_url::parse`] accepts.
fn redis_url(s: &str) -> Parsed<String> {
    redis_url::parse(s).map(|_| s.trim().to_string())
}

/// Printable ASCII without the glob characters `SCAN MATCH` would interpret
/// and without braces (the keys' Redis Cluster hash tags are the sidecar's own).
fn prefix(s: &str) -> Parsed<String> {
    let ok = s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"*?[]\\{}".contains(&b));
    if !ok {
        return Err("must be at most 64 printable ASCII characters without * ? [ ] \\ { }".into());
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
    let text = secret_files::read_text(Path::new(&path))
        .and_then(|t| redis_url(&t).map_err(|m| format!("the file's URL {m}")));
    Some(text.map(Secret::new).map_err(|message| {
        c.problem("redis_url_file", message, Some(&path));
    }))
}

fn endpoint(url: Option<&Secret<String>>) -> Option<RedisEndpoint> {
    url.and_then(|u| redis_url::parse(u.expose()).ok())
}

/// A CA file for TLS (`rediss`): readable PEM with at least one certificate.
fn ca_file(c: &mut Checker, s: &Settings, url: Option<&Secret<String>>) -> Option<PathBuf> {
    let certs = |p: &Path| crate::pem::read_certs(p).map(|_| p.to_path_buf());
    let path = check!(c.file(s.redis_ca_file, certs))?;
    if !endpoint(url).is_some_and(|e| e.tls) {
        let message = "needs a TLS redis-url (rediss://, rediss+sentinel:// or rediss+cluster://)";
        c.problem("redis_ca_file", message, path.to_str());
    }
    Some(path)
}

/// The sentinels' own password (`requirepass` in sentinel.conf), apart from the master's.
fn sentinel_password(
    c: &mut Checker,
    s: &Settings,
    url: Option<&Secret<String>>,
) -> Option<Secret<String>> {
    let password = s.redis_sentinel_password.clone()?;
    let sentinel = endpoint(url).is_some_and(|e| matches!(e.topology, Topology::Sentinel { .. }));
    if !sentinel {
        let message = format!("needs a redis-url of the form {SENTINEL_FORM}");
        c.problem("redis_sentinel_password", message, None);
    }
    Some(password)
}

/// The URL from `session-store` (shorthand) or from `redis-url`, not both.
fn merged_url(
    c: &mut Checker,
    s: &Settings,
    kind: &mut Option<Kind>,
) -> Option<Result<Secret<String>, ()>> {
    let url = url(c, s);
    if !matches!(kind, Some(Kind::Url(_))) {
        return url;
    }
    let Some(Kind::Url(inline)) = kind.replace(Kind::Redis) else {
        return url;
    };
    if url.is_some() {
        let message = "is a Redis URL and redis-url (or redis-url-file) is set too; keep one";
        c.problem("session_store", message, None);
        return Some(Err(()));
    }
    Some(Ok(inline))
}

/// `session-store` defaults to `redis` when a Redis URL is given, else `memory`.
pub(crate) fn backend(c: &mut Checker, s: &Settings) -> SessionBackend {
    let mut kind = kind(c, s);
    let url = merged_url(c, s, &mut kind);
    let prefix = check!(c.value(s.redis_prefix, prefix));
    let given = url.as_ref().and_then(|u| u.as_ref().ok());
    let ca_file = ca_file(c, s, given);
    let sentinel_password = sentinel_password(c, s, given);
    match (kind, url) {
        (Some(Kind::Memory) | None, None) => SessionBackend::Memory,
        (Some(Kind::Memory), Some(_)) => {
            let message =
                "is set but session-store is memory; set session-store = redis or drop it";
            c.problem("redis_url", message, None);
            SessionBackend::Memory
        }
        (Some(Kind::Redis | Kind::Url(_)), None) => {
            let message = "is required with session-store = redis (or set redis-url-file)";
            c.problem("redis_url", message, None);
            SessionBackend::Memory
        }
        (_, Some(Ok(url))) => SessionBackend::Redis {
            url,
            prefix,
            ca_file,
            sentinel_password,
        },
        (_, Some(Err(()))) => SessionBackend::Memory,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> (SessionBackend, Vec<String>) {
        let s = super::super::settings::Settings::from_pairs(pairs);
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
            vec![
                r#"session-store: must be memory, redis or a Redis URL (as redis-url takes) (got "disk")"#
            ]
        );
        let (_, problems) = load(&[("redis_url", "http://:hunter2@h/")]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("redis-url: must be redis://[:PASSWORD@]HOST[:PORT][/DB]"),
            "{problems:?}"
        );
        assert!(
            problems[0].ends_with(r#"(got "[redacted]")"#),
            "{problems:?}"
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
            got[0].starts_with("redis-ca-file: needs a TLS redis-url (rediss://"),
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

    #[test]
    fn sentinel_and_cluster_urls_are_accepted_and_their_mistakes_named() {
        let url = "redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster/1";
        let (b, problems) = load(&[("redis_url", url), ("redis_sentinel_password", "sp")]);
        assert!(problems.is_empty(), "{problems:?}");
        let SessionBackend::Redis {
            sentinel_password, ..
        } = b
        else {
            panic!("redis expected")
        };
        assert_eq!(sentinel_password.unwrap().expose(), "sp");
        let (b, problems) = load(&[("redis_url", "rediss+cluster://:pw@h1:6379,h2:6379")]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(matches!(b, SessionBackend::Redis { .. }));
        let (_, problems) = load(&[("redis_url", "redis+sentinel://:hunter2@h:26379")]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("redis-url: must be redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER_NAME[/DB]: the master's name"), "{problems:?}");
        assert!(!problems[0].contains("hunter2"));
        let (_, problems) = load(&[
            ("redis_url", "redis://h"),
            ("redis_sentinel_password", "hunter2"),
        ]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "redis-sentinel-password: needs a redis-url of the form redis+sentinel://"
            ),
            "{problems:?}"
        );
        assert!(!problems[0].contains("hunter2"));
        assert!(load(&[("redis_prefix", "{app}:")]).1[0].starts_with("redis-prefix: must be"));
    }

    #[test]
    fn a_url_as_session_store_stands_for_redis_plus_that_url() {
        for url in [
            "redis://:pw@127.0.0.1:6379/0",
            "redis+cluster://127.0.0.1:7000",
        ] {
            let (b, problems) = load(&[("session_store", url)]);
            assert!(problems.is_empty(), "{problems:?}");
            assert!(matches!(b, SessionBackend::Redis { url: u, .. } if u.expose() == url));
        }
        let (_, problems) = load(&[("session_store", "redis+sentinel://:hunter2@h:1")]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("session-store: must be redis+sentinel://"),
            "{problems:?}"
        );
        assert!(!problems[0].contains("hunter2"), "{problems:?}");
        let (_, problems) = load(&[("session_store", "redis://h"), ("redis_url", "redis://g")]);
        assert_eq!(
            problems,
            vec!["session-store: is a Redis URL and redis-url (or redis-url-file) is set too; keep one"]
        );
    }
}
