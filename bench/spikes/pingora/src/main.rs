//! A minimal pingora HTTP/1 reverse proxy, to measure pingora as the
//! sidecar's I/O layer in bench/py/bench.py (`--spike`). Not product code.
//!
//! `pingora-spike --listen ADDR --upstream ADDR [--threads N] [--no-steal] [--identity]`
//!
//! `--identity` adds the per-request header work the sidecar does for a
//! signed-in user: strip client-sent identity look-alikes, set six headers.

use std::net::SocketAddr;
use std::process::ExitCode;

use async_trait::async_trait;
use http::HeaderValue;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Name prefixes the sidecar strips (src/proxy/headers.rs), after folding.
const IDENTITY_PREFIXES: [&str; 6] = [
    "x-user-",
    "x-auth-request-",
    "x-amzn-oidc-",
    "remote-",
    "x-remote-",
    "x-webauth-",
];

/// Exact names the sidecar strips, after folding.
const IDENTITY_NAMES: [&str; 8] = [
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-sidecar-identity",
    "x-authenticated-user",
    "x-auth-user",
];

/// The six headers of a signed-in user (fixed values: no session lookup).
const IDENTITY: [(&str, &str); 6] = [
    ("x-user-email", "bench@example.com"),
    ("x-user-name", "Bench User"),
    ("x-user-sub", "0f3c2a1e-bench-user-sub"),
    ("x-user-username", "bench"),
    ("x-user-groups", "admins,staff"),
    ("x-user-provider", "cognito"),
];

struct Args {
    listen: SocketAddr,
    upstream: SocketAddr,
    threads: usize,
    no_steal: bool,
    identity: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut listen, mut upstream) = (None, None);
    let (mut threads, mut no_steal, mut identity) = (2, false, false);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag}: needs a value"));
        match flag.as_str() {
            "--listen" => listen = Some(value()?),
            "--upstream" => upstream = Some(value()?),
            "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--no-steal" => no_steal = true,
            "--identity" => identity = true,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let addr = |v: Option<String>, flag: &str| -> Result<SocketAddr, String> {
        let v = v.ok_or(format!("{flag} ADDR:PORT is required"))?;
        v.parse().map_err(|e| format!("{flag} {v}: {e}"))
    };
    Ok(Args {
        listen: addr(listen, "--listen")?,
        upstream: addr(upstream, "--upstream")?,
        threads,
        no_steal,
        identity,
    })
}

struct Proxy {
    upstream: SocketAddr,
    identity: bool,
}

/// Lower case, `_` as `-`: how app servers (WSGI, CGI) compare header names.
fn fold(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

fn starts_with_folded(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len() && name.iter().zip(prefix).all(|(&a, &b)| fold(a) == fold(b))
}

fn is_identity_header(name: &str) -> bool {
    let name = name.as_bytes();
    IDENTITY_NAMES
        .iter()
        .any(|n| n.len() == name.len() && starts_with_folded(name, n.as_bytes()))
        || IDENTITY_PREFIXES
            .iter()
            .any(|p| starts_with_folded(name, p.as_bytes()))
}

#[async_trait]
impl ProxyHttp for Proxy {
    type CTX = ();
    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> Result<Box<HttpPeer>> {
        // Plain HTTP; pingora pools the connection for keep-alive reuse.
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }

    async fn upstream_request_filter(
        &self,
        _: &mut Session,
        request: &mut RequestHeader,
        _: &mut (),
    ) -> Result<()> {
        if !self.identity {
            return Ok(());
        }
        let doomed: Vec<_> = request
            .headers
            .keys()
            .filter(|n| is_identity_header(n.as_str()))
            .cloned()
            .collect();
        for name in doomed {
            request.remove_header(&name);
        }
        for (name, value) in IDENTITY {
            // Static values: no copy, as the sidecar's slices of one buffer.
            request.insert_header(name, HeaderValue::from_static(value))?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("pingora-spike: {e}");
            return ExitCode::from(64);
        }
    };
    let conf = ServerConf {
        threads: args.threads,
        work_stealing: !args.no_steal,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let proxy = Proxy {
        upstream: args.upstream,
        identity: args.identity,
    };
    let mut service = http_proxy_service(&server.configuration, proxy);
    service.add_tcp(&args.listen.to_string());
    server.add_service(service);
    server.run_forever()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_look_alikes_are_recognised_in_any_spelling() {
        for name in ["x-user-email", "X_User_Sub", "remote-user", "x-auth-user"] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in ["x-user", "x-auth-userx", "host", "cookie"] {
            assert!(!is_identity_header(name), "{name}");
        }
    }
}
