//! The forms of `redis-url`: one server (`redis://`, `rediss://`), Sentinel
//! (`redis+sentinel://`, the sentinels and the master's name) or Cluster
//! (`redis+cluster://`, seed nodes). A `+sentinel`/`+cluster` URL lists several
//! hosts, which `url::Url` cannot hold, so it is split here; the password is
//! percent-decoded and stays in a [`Secret`]. Messages never echo the URL.

use percent_encoding::percent_decode_str;

use crate::secret::Secret;

pub const SENTINEL_FORM: &str =
    "redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER_NAME[/DB]";
pub const CLUSTER_FORM: &str = "redis+cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...]";
const SINGLE_FORM: &str = "redis://[:PASSWORD@]HOST[:PORT][/DB]";

/// How the sidecar finds the server that holds a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One server; the redis crate reads the URL itself.
    Single,
    /// Ask the sentinels in `nodes` for the master named `master`.
    Sentinel { master: String, db: i64 },
    /// `nodes` are seeds; the cluster tells the rest (and every redirect).
    Cluster,
}

/// A parsed `redis-url`.
#[derive(Clone, Debug)]
pub struct RedisEndpoint {
    pub topology: Topology,
    /// `rediss`: TLS to every node (sentinels included).
    pub tls: bool,
    /// Sentinels or seed nodes (empty for [`Topology::Single`]).
    pub nodes: Vec<(String, u16)>,
    /// For the data nodes (master, replicas, cluster nodes), not the sentinels.
    pub username: Option<String>,
    pub password: Option<Secret<String>>,
}

/// Any accepted form; the message names the expected form.
pub fn parse(text: &str) -> Result<RedisEndpoint, String> {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://").ok_or_else(expected)?;
    let (topology_name, tls) = match scheme.to_ascii_lowercase().as_str() {
        "redis" | "rediss" => return single(text),
        "redis+sentinel" => ("sentinel", false),
        "rediss+sentinel" => ("sentinel", true),
        "redis+cluster" => ("cluster", false),
        "rediss+cluster" => ("cluster", true),
        _ => return Err(expected()),
    };
    let form = if topology_name == "sentinel" {
        SENTINEL_FORM
    } else {
        CLUSTER_FORM
    };
    let wrong = |what: &str| format!("must be {form}: {what}");
    if rest.contains(['?', '#']) {
        return Err(wrong("no ?query or #fragment"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let default_port = if topology_name == "sentinel" {
        26379
    } else {
        6379
    };
    let nodes = hosts
        .split(',')
        .map(|h| node(h, default_port))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| wrong(&m))?;
    let (username, password) = credentials(userinfo).map_err(|m| wrong(&m))?;
    let topology = if topology_name == "sentinel" {
        sentinel_path(path).map_err(|m| wrong(&m))?
    } else if !path.is_empty() {
        return Err(wrong("no /path (a cluster has database 0 only)"));
    } else {
        Topology::Cluster
    };
    Ok(RedisEndpoint {
        topology,
        tls,
        nodes,
        username,
        password,
    })
}

fn expected() -> String {
    format!("must be {SINGLE_FORM} (rediss:// for TLS), {SENTINEL_FORM} or {CLUSTER_FORM}")
}

/// `redis://` or `rediss://` with a host; user and password allowed.
fn single(text: &str) -> Result<RedisEndpoint, String> {
    let url = url::Url::parse(text).map_err(|_| expected())?;
    if url.host().is_none() {
        return Err(format!("must be {SINGLE_FORM}: a host is missing"));
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    Ok(RedisEndpoint {
        topology: Topology::Single,
        tls: url.scheme() == "rediss",
        nodes: Vec::new(),
        username: None,
        password: None,
    })
}

/// `HOST:PORT`, `HOST` (default port) or `[IPv6]:PORT`.
fn node(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!h.starts_with('[') || h.ends_with(']')) => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| "each PORT a number from 1 to 65535".to_string())?;
            (h, port)
        }
        _ => (text, default_port),
    };
    match url::Host::parse(host) {
        Ok(url::Host::Ipv6(ip)) => Ok((ip.to_string(), port)),
        Ok(h) if !host.is_empty() => Ok((h.to_string(), port)),
        _ => Err("each HOST a host name or IP address, hosts separated by commas".into()),
    }
}

/// `[USER][:PASSWORD]`, percent-decoded.
fn credentials(userinfo: Option<&str>) -> Result<(Option<String>, Option<Secret<String>>), String> {
    let Some(userinfo) = userinfo else {
        return Ok((None, None));
    };
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "the user and password percent-encoded UTF-8".to_string())
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let user = Some(decode(user)?).filter(|u| !u.is_empty());
    let password = Some(decode(password)?).filter(|p| !p.is_empty());
    Ok((user, password.map(Secret::new)))
}

/// `MASTER_NAME[/DB]`.
fn sentinel_path(path: &str) -> Result<Topology, String> {
    let (master, db) = path.split_once('/').unwrap_or((path, ""));
    let master = percent_decode_str(master)
        .decode_utf8()
        .map_err(|_| "MASTER_NAME percent-encoded UTF-8".to_string())?;
    if master.is_empty() || master.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the master's name (MASTER_NAME, as in sentinel.conf) is missing".into());
    }
    let db = match db.trim_end_matches('/') {
        "" => 0,
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| "DB a database number (0, 1, ...)".to_string())?,
    };
    Ok(Topology::Sentinel {
        master: master.into_owned(),
        db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_name_sentinels_master_and_db() {
        let e = parse("redis+sentinel://:p%40ss@10.0.0.1:26379,[::1]:26380,s3/mymaster/2").unwrap();
        assert_eq!(
            e.topology,
            Topology::Sentinel {
                master: "mymaster".into(),
                db: 2
            }
        );
        assert!(!e.tls);
        assert_eq!(
            e.nodes,
            [
                ("10.0.0.1".to_string(), 26379),
                ("::1".to_string(), 26380),
                ("s3".to_string(), 26379)
            ]
        );
        assert_eq!(e.password.unwrap().expose(), "p@ss");
        assert_eq!(e.username, None);
        let e = parse("rediss+sentinel://app:pw@h:1/m").unwrap();
        assert!(e.tls);
        assert_eq!(e.username.as_deref(), Some("app"));
    }

    #[test]
    fn cluster_urls_list_seed_nodes() {
        let e = parse("rediss+cluster://:tok@clustercfg.x.cache.amazonaws.com:6379").unwrap();
        assert_eq!(e.topology, Topology::Cluster);
        assert!(e.tls);
        assert_eq!(e.nodes.len(), 1);
        let e = parse("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").unwrap();
        assert_eq!(e.nodes[1], ("127.0.0.1".to_string(), 7001));
        assert!(e.password.is_none());
    }

    #[test]
    fn bad_forms_say_the_expected_form_and_never_the_password() {
        let cases = [
            ("redis+sentinel://:hunter2@h:1", "MASTER_NAME"),
            ("redis+sentinel://:hunter2@h:1/m/x", "DB"),
            ("redis+sentinel://:hunter2@h:99999/m", "PORT"),
            ("redis+sentinel://:hunter2@/m", "HOST"),
            ("redis+sentinel://:hunter2@a:1,,b:2/m", "HOST"),
            ("redis+cluster://:hunter2@h:1/0", "database 0"),
            ("redis+cluster://:hunter2@h:1?x=1", "query"),
            ("http://:hunter2@h", "redis+cluster://"),
            ("redis://", "host"),
        ];
        for (url, says) in cases {
            let m = parse(url).unwrap_err();
            assert!(m.contains(says), "{url}: {m}");
            assert!(!m.contains("hunter2"), "{m}");
        }
        assert!(parse("redis+sentinel://h:1/m").is_ok());
    }
}
