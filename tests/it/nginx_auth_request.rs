//! cognito-sidecar behind Debian's real nginx, configured the way ingress-nginx
//! renders the annotations of deploy/kubernetes/ingress-nginx.yaml: the auth
//! path, the sign-in URL and the forwarded identity headers are read from that
//! manifest, so the example is exercised, not only validated.
//!
//! Needs `nginx` (scripts/install-test-deps.sh installs it); it runs as a child
//! process with its own prefix in a temporary directory, on a loopback port.

// Test helpers outside #[test] functions panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;
use cognito_sidecar::config::Settings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;
use tokio::net::TcpListener;

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/kubernetes/ingress-nginx.yaml"
);
const TEMPLATE: &str = include_str!("../nginx/auth_request.conf");
const SPOOF: &str = "ceo@evil.example";
const ALB_ARN: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/my-app/50dc6c495c0c9188";

/// The three forward-auth annotations of the manifest's app Ingress.
struct Annotations {
    auth_url: String,
    signin: String,
    response_headers: Vec<String>,
}

impl Annotations {
    /// A line-based read of `nginx.ingress.kubernetes.io/<key>: "value"`.
    fn from_manifest() -> Self {
        let text = std::fs::read_to_string(MANIFEST).unwrap();
        let get = |key: &str| {
            let prefix = format!("nginx.ingress.kubernetes.io/{key}:");
            let found = text
                .lines()
                .find_map(|l| l.trim().strip_prefix(prefix.as_str()));
            let value = found.unwrap_or_else(|| panic!("{MANIFEST} has no {key} annotation"));
            value.trim().trim_matches(['"', '\'']).to_string()
        };
        Annotations {
            auth_url: get("auth-url"),
            signin: get("auth-signin"),
            response_headers: get("auth-response-headers")
                .split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// auth-url's path and query: nginx passes them to the sidecar.
    fn auth_path(&self) -> String {
        let url = url::Url::parse(&self.auth_url).unwrap();
        url[url::Position::BeforePath..url::Position::AfterQuery].to_string()
    }

    /// auth-signin on the test's origin. ingress-nginx's `$escaped_request_uri`
    /// needs a module stock nginx lacks, so `$request_uri` stands in (fine for
    /// one query parameter); `$host` becomes `$http_host` to keep the port.
    fn signin_for(&self, origin: &str) -> String {
        let (_, rest) = self.signin.split_once("://").unwrap();
        let tail = &rest[rest.find('/').unwrap()..];
        let tail = tail
            .replace("https://$host", "$scheme://$host")
            .replace("$host", "$http_host")
            .replace("$escaped_request_uri", "$request_uri");
        format!("{origin}{tail}")
    }

    /// One `auth_request_set` and one `proxy_set_header` per listed header.
    fn nginx_header_lines(&self) -> String {
        let mut out = String::new();
        for (i, name) in self.response_headers.iter().enumerate() {
            let var = name.to_ascii_lowercase().replace('-', "_");
            out += &format!("            auth_request_set $auth_h{i} $upstream_http_{var};\n");
            out += &format!("            proxy_set_header {name} $auth_h{i};\n");
        }
        out
    }
}

/// nginx as a child process; killed when dropped.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
        .expect("nginx is not installed: run scripts/install-test-deps.sh")
}

impl Nginx {
    /// Starts nginx on `config` (with `{{DIR}}` still to fill in) and waits
    /// until it accepts connections on `addr`.
    async fn start(config: &str, addr: SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(
            &conf,
            config.replace("{{DIR}}", dir.path().to_str().unwrap()),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-e", "stderr", "-g", "daemon off; error_log stderr;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut nginx = Nginx { child, dir };
        for _ in 0..200 {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", nginx.log());
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("nginx never listened on {addr}:\n{}", nginx.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

/// The mock, the recording upstream and the sidecar, with nginx in front.
struct Front {
    stack: Stack,
    manifest: Annotations,
    /// `http://127.0.0.1:NGINXPORT`, the only origin the browser sees.
    origin: String,
    nginx: Nginx,
}

impl Front {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`Front::start`], with more sidecar settings.
    async fn start_with(extra: impl FnOnce(&mut Settings)) -> Self {
        let manifest = Annotations::from_manifest();
        // Hold nginx's port until nginx starts: the sidecar's redirect URL and
        // the mock's allowed callback name it first.
        let hold = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let nginx_addr = hold.local_addr().unwrap();
        let origin = format!("http://{nginx_addr}");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stack = Stack::builder()
            .with(|s| s.trusted_proxies = vec!["127.0.0.1".into()])
            .with(extra)
            .start_public(listener, &origin)
            .await;
        let config = TEMPLATE
            .replace("{{NGINX_PORT}}", &nginx_addr.port().to_string())
            .replace("{{SIDECAR}}", &stack.sidecar.addr().to_string())
            .replace("{{UPSTREAM}}", &stack.upstream.addr.to_string())
            .replace("{{AUTH_PATH}}", &manifest.auth_path())
            .replace("{{SIGNIN_URL}}", &manifest.signin_for(&origin))
            .replace("{{AUTH_RESPONSE_HEADERS}}", &manifest.nginx_header_lines());
        drop(hold);
        let nginx = Nginx::start(&config, nginx_addr).await;
        Front {
            stack,
            manifest,
            origin,
            nginx,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Asserts `r` is nginx's auth-signin redirect back to `path`.
    fn assert_signin(&self, r: &reqwest::Response, path: &str) {
        assert_eq!(r.status(), 302, "nginx log:\n{}", self.nginx.log());
        let to = location(r);
        let start = self.manifest.signin_for(&self.origin);
        let start = &start[..start.find('?').unwrap_or(start.len())];
        assert!(to.starts_with(start), "{to} is not the sign-in URL {start}");
        assert_eq!(query_map(&to)["rd"], self.url(path), "rd names the page");
    }

    /// The whole sign-in through nginx from `path`; returns where the callback sends the browser.
    async fn sign_in(&self, client: &reqwest::Client, path: &str, user: &str, pw: &str) -> String {
        let r = navigate(client, &self.url(path)).await;
        self.assert_signin(&r, path);
        let r = navigate(client, &location(&r)).await;
        assert_eq!(r.status(), 302, "/oauth2/start through nginx");
        let to_idp = location(&r);
        assert!(to_idp.starts_with(&self.stack.mock.base_url()), "{to_idp}");
        let r = submit_login(client, &to_idp, user, pw).await;
        assert_eq!(r.status(), 302, "the mock accepts the password");
        let callback = location(&r);
        assert!(
            callback.starts_with(&self.url("/oauth2/callback?")),
            "the IdP calls back through nginx: {callback}"
        );
        let r = client.get(&callback).send().await.unwrap();
        assert_eq!(r.status(), 302, "callback through nginx");
        location(&r)
    }

    /// The sidecar's own forward-auth answer for this browser, asked directly.
    async fn direct_auth(&self, client: &reqwest::Client) -> reqwest::Response {
        let url = format!(
            "http://{}{}",
            self.stack.sidecar.addr(),
            self.manifest.auth_path()
        );
        client.get(url).send().await.unwrap()
    }
}

/// A request through nginx carrying identity spoofs for every listed header.
async fn spoofed_get(front: &Front, client: &reqwest::Client, path: &str) -> reqwest::Response {
    let mut req = client.get(front.url(path)).header("accept", "text/html");
    for name in &front.manifest.response_headers {
        req = req.header(name.as_str(), SPOOF);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn sign_in_through_nginx_returns_to_the_page_and_the_app_gets_the_sidecars_headers_not_spoofs(
) {
    bounded(async {
        // alb-headers on, so every listed header has a value (ALB's included).
        let front = Front::start_with(|s| {
            s.alb_headers = "true".into();
            s.alb_signer = Some(ALB_ARN.into());
        })
        .await;
        let client = browser();
        let r = spoofed_get(&front, &client, "/app/page?x=1").await;
        front.assert_signin(&r, "/app/page?x=1");
        assert_eq!(
            front.stack.upstream.count(),
            0,
            "no session, nothing reaches the app"
        );

        let back = front
            .sign_in(&client, "/app/page?x=1", "alice", "alice-password")
            .await;
        assert_eq!(
            back,
            front.url("/app/page?x=1"),
            "back to the page asked for"
        );
        let r = spoofed_get(&front, &client, "/app/page?x=1").await;
        assert_eq!(r.status(), 200, "nginx log:\n{}", front.nginx.log());
        assert_eq!(r.text().await.unwrap(), "upstream:/app/page?x=1");
        let seen = front.stack.upstream.last();
        assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));

        let direct = front.direct_auth(&client).await;
        assert!(direct.status().is_success(), "{}", direct.status());
        assert!(!front.manifest.response_headers.is_empty());
        for name in &front.manifest.response_headers {
            let want = direct
                .headers()
                .get(name.as_str())
                .map(|v| v.to_str().unwrap());
            assert!(want.is_some(), "the sidecar answers {name} for alice");
            assert_eq!(
                seen.header(name),
                want,
                "{name} reaches the app as the sidecar said"
            );
            let copies = seen
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name));
            assert_eq!(copies.count(), 1, "one {name}, the spoof is gone");
        }
        assert_eq!(front.stack.mock.counters().logins, 1);
    })
    .await;
}

#[tokio::test]
async fn a_header_the_sidecar_leaves_out_is_removed_not_left_to_the_clients_spoof() {
    bounded(async {
        let front = Front::start().await;
        let client = browser();
        // bob's email is unverified: the sidecar sends no X-User-Email for him.
        let back = front
            .sign_in(&client, "/app/b", "bob", "bob-password")
            .await;
        assert_eq!(back, front.url("/app/b"));
        let direct = front.direct_auth(&client).await;
        assert!(direct.status().is_success());
        assert!(direct.headers().get("x-user-email").is_none());
        let r = spoofed_get(&front, &client, "/app/b").await;
        assert_eq!(r.status(), 200);
        let seen = front.stack.upstream.last();
        assert_eq!(
            seen.header("x-user-email"),
            None,
            "the spoof never reaches the app"
        );
        assert_eq!(seen.header("x-user-username"), Some("bob"));
        assert!(
            seen.headers.iter().all(|(_, v)| v != SPOOF),
            "{:?}",
            seen.headers
        );
    })
    .await;
}

#[tokio::test]
async fn without_a_session_every_request_goes_to_sign_in_and_the_app_sees_nothing() {
    bounded(async {
        let front = Front::start().await;
        let client = browser();
        let r = spoofed_get(&front, &client, "/app/a?x=1").await;
        front.assert_signin(&r, "/app/a?x=1");
        let r = client
            .post(front.url("/app/form"))
            .header("accept", "application/json")
            .header("x-user-email", SPOOF)
            .body("payload")
            .send()
            .await
            .unwrap();
        front.assert_signin(&r, "/app/form");
        let r = client
            .get(front.url("/app/x"))
            .header("cookie", "_cognito_sidecar=forged-value")
            .send()
            .await
            .unwrap();
        front.assert_signin(&r, "/app/x");
        assert_eq!(front.stack.upstream.count(), 0, "the app saw nothing");
    })
    .await;
}

#[tokio::test]
async fn an_ingress_rule_the_user_fails_is_403_and_sign_out_closes_the_app_again() {
    bounded(async {
        let front = Front::start().await;
        let client = browser();
        front
            .sign_in(&client, "/app/", "alice", "alice-password")
            .await;
        let before = front.stack.upstream.count();
        let r = navigate(&client, &front.url("/ops/x")).await;
        assert_eq!(r.status(), 403, "alice is not in group ops");
        assert_eq!(front.stack.upstream.count(), before);
        let r = navigate(&client, &front.url("/app/y")).await;
        assert_eq!(r.status(), 200);

        let r = navigate(&client, &front.url("/oauth2/sign_out")).await;
        assert!(r.status().is_redirection() || r.status().is_success());
        let r = navigate(&client, &front.url("/app/y")).await;
        front.assert_signin(&r, "/app/y");
        assert_eq!(front.stack.upstream.count(), before + 1);
    })
    .await;
}

#[tokio::test]
async fn a_clients_own_x_forwarded_method_or_host_never_changes_the_rule_nginx_asked_about() {
    bounded(async {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(
            &mut file,
            br#"
[[route]]
path_prefix = "/app/admin"
methods = ["DELETE"]
allowed_groups = ["nobody"]

[[route]]
host = "admin.localhost"
allowed_groups = ["nobody"]
"#,
        )
        .unwrap();
        let config = file.path().to_str().unwrap();
        let front = Front::start_with(|s| support::config_file(s, config)).await;
        let (client, jar) = browser_with_jar();
        front
            .sign_in(&client, "/app/", "alice", "alice-password")
            .await;
        let before = front.stack.upstream.count();
        let delete = |spoofs: &[(&str, &str)]| {
            let mut req = client.delete(front.url("/app/admin/item"));
            for (k, v) in spoofs {
                req = req.header(*k, *v);
            }
            req.send()
        };
        assert_eq!(delete(&[]).await.unwrap().status(), 403);
        let spoofs = [
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/app/page"),
            ("x-forwarded-host", "app.localhost"),
        ];
        let r = delete(&spoofs).await.unwrap();
        assert_eq!(r.status(), 403, "nginx log:\n{}", front.nginx.log());
        assert_eq!(
            front.stack.upstream.count(),
            before,
            "the app saw no DELETE"
        );

        // Absolute form: nginx serves (and the sidecar checks) the target's
        // host, not the Host header's.
        let port = front.origin.rsplit(':').next().unwrap();
        let mut stream = tokio::net::TcpStream::connect(&front.origin["http://".len()..])
            .await
            .unwrap();
        let cookie = jar_cookies(&jar, &front.url("/app/"))
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let raw = format!(
            "GET http://admin.localhost:{port}/app/x HTTP/1.1\r\nHost: app.localhost:{port}\r\n\
             Cookie: {cookie}\r\nConnection: close\r\n\r\n"
        );
        let answer = exchange(&mut stream, raw.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert_eq!(front.stack.upstream.count(), before);
    })
    .await;
}

/// Writes `raw`, reads until the peer closes.
async fn exchange(stream: &mut tokio::net::TcpStream, raw: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_manifest_annotations_render_into_the_nginx_config() {
    let m = Annotations::from_manifest();
    assert!(
        m.auth_path().starts_with("/oauth2/auth"),
        "{}",
        m.auth_path()
    );
    let signin = m.signin_for("http://127.0.0.1:1");
    assert!(
        signin.starts_with("http://127.0.0.1:1/oauth2/start?"),
        "{signin}"
    );
    assert!(!signin.contains("$escaped_request_uri") && !signin.contains("$host"));
    let i = m
        .response_headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("X-User-Email"))
        .expect("the manifest forwards X-User-Email");
    let name = &m.response_headers[i];
    let lines = m.nginx_header_lines();
    let set = format!("auth_request_set $auth_h{i} $upstream_http_x_user_email;");
    assert!(lines.contains(&set), "{lines}");
    assert!(
        lines.contains(&format!("proxy_set_header {name} $auth_h{i};")),
        "{lines}"
    );
}
