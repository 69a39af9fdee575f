//! Starting and stopping: the real binary's configuration errors, `--help`,
//! readiness and SIGTERM, and a sidecar that starts before its IdP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cognito_sidecar::config::{Config, MapSource, RunArgs};
use cognito_sidecar::mock::{MockCognito, MockConfig, DEMO_CLIENT_ID};
use cognito_sidecar::server;
use support::*;
use tokio::net::TcpListener;

const BIN: &str = env!("CARGO_BIN_EXE_cognito-sidecar");
const CLIENT_SECRET: &str = "client-secret-that-must-never-be-printed";
const COOKIE_SECRET_32: &str = "cookie-secret-that-must-never-be-printed-0123456789";
const SHORT_COOKIE_SECRET: &str = "ten-bytes!";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_DemoPool1";

/// A loopback address nothing listens on (bound, then released).
pub(crate) fn reserve() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A complete, valid configuration as `SIDECAR_*` variables.
pub(crate) fn valid_env(listen: SocketAddr, discovery: &str) -> BTreeMap<String, String> {
    [
        ("SIDECAR_LISTEN", listen.to_string()),
        ("SIDECAR_UPSTREAM", format!("http://{}", reserve())),
        ("SIDECAR_ISSUER_URL", ISSUER.into()),
        ("SIDECAR_DISCOVERY_URL", discovery.into()),
        ("SIDECAR_CLIENT_ID", DEMO_CLIENT_ID.into()),
        ("SIDECAR_CLIENT_SECRET", CLIENT_SECRET.into()),
        (
            "SIDECAR_REDIRECT_URL",
            format!("http://{listen}/oauth2/callback"),
        ),
        ("SIDECAR_COOKIE_SECRET", COOKIE_SECRET_32.into()),
        ("SIDECAR_COOKIE_SECURE", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The binary with exactly `env` (plus `PATH`) and `args`, output captured.
pub(crate) fn spawn(env: &BTreeMap<String, String>, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit, killing it (and failing) after `limit`.
async fn wait_exit(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the sidecar did not exit within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().unwrap()
}

/// Runs the binary with a bad configuration; its exit code and problem lines.
async fn refused(env: &BTreeMap<String, String>) -> (Option<i32>, Vec<String>) {
    let out = wait_exit(spawn(env, &[]), Duration::from_secs(20)).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    for secret in [CLIENT_SECRET, COOKIE_SECRET_32, SHORT_COOKIE_SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed:\n{stdout}\n{stderr}"
        );
    }
    let lines = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("invalid configuration"))
        .map(str::to_string)
        .collect();
    (out.status.code(), lines)
}

fn bad(setting: &str, value: Option<&str>) -> BTreeMap<String, String> {
    let mut env = valid_env(reserve(), "https://idp.example.com/discovery");
    match value {
        Some(v) => env.insert(setting.to_string(), v.to_string()),
        None => env.remove(setting),
    };
    env
}

#[tokio::test]
async fn each_bad_setting_stops_the_start_with_exit_64_and_one_line_naming_it() {
    let cases = [
        ("SIDECAR_CLIENT_ID", None, "client-id"),
        (
            "SIDECAR_COOKIE_SECRET",
            Some(SHORT_COOKIE_SECRET),
            "cookie-secret",
        ),
        (
            "SIDECAR_REDIRECT_URL",
            Some("/oauth2/callback"),
            "redirect-url",
        ),
        (
            "SIDECAR_ISSUER_URL",
            Some("http://idp.example.com/us-east-1_DemoPool1"),
            "issuer-url",
        ),
    ];
    for (key, value, setting) in cases {
        let (code, lines) = refused(&bad(key, value)).await;
        assert_eq!(code, Some(64), "{key}: {lines:?}");
        assert_eq!(lines.len(), 1, "{key}: {lines:?}");
        assert!(
            lines[0].starts_with(&format!("{setting}: ")),
            "{key}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn four_bad_settings_at_once_give_four_lines_and_no_secret() {
    let mut env = bad("SIDECAR_CLIENT_ID", None);
    env.insert("SIDECAR_COOKIE_SECRET".into(), SHORT_COOKIE_SECRET.into());
    env.insert("SIDECAR_REDIRECT_URL".into(), "/oauth2/callback".into());
    env.insert(
        "SIDECAR_ISSUER_URL".into(),
        "http://idp.example.com/us-east-1_DemoPool1".into(),
    );
    let (code, lines) = refused(&env).await;
    assert_eq!(code, Some(64), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    let mut named: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        ["client-id", "cookie-secret", "issuer-url", "redirect-url"]
    );
    let secret_line = lines
        .iter()
        .find(|l| l.starts_with("cookie-secret"))
        .unwrap();
    assert!(secret_line.contains("32 bytes"), "{secret_line}");
    let issuer_line = lines.iter().find(|l| l.starts_with("issuer-url")).unwrap();
    assert!(issuer_line.contains("https://"), "{issuer_line}");
}

/// Each flag's help entry of `--help`, whitespace collapsed: `(flag, text)`.
fn help_entries(help: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("--") {
            let flag = rest.split([' ', '=', '<']).next().unwrap().to_string();
            entries.push((flag, String::new()));
        } else if trimmed.starts_with('-') || !line.starts_with(' ') {
            entries.push((String::new(), String::new()));
        }
        if let Some((_, text)) = entries.last_mut() {
            text.push(' ');
            text.push_str(trimmed);
        }
    }
    entries
        .into_iter()
        .filter(|(flag, _)| !flag.is_empty() && flag != "help" && flag != "version")
        .map(|(flag, text)| (flag, text.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect()
}

#[tokio::test]
async fn help_lists_every_setting_with_its_default() {
    let out = wait_exit(
        spawn(&BTreeMap::new(), &["--help"]),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    let entries = help_entries(&help);
    assert!(entries.len() >= 40, "{} flags in:\n{help}", entries.len());
    for (flag, text) in &entries {
        assert!(
            text.contains("[default: ") || text.contains("[required"),
            "--{flag} has no default: {text}"
        );
    }
    let expected = [
        ("upstream", "[required]"),
        ("issuer-url", "[required]"),
        ("cookie-secret-file", "[default: none]"),
        ("session-ttl", "[default: 12h]"),
        ("trusted-proxies", "[default: none]"),
        ("upstream-timeout", "[default: 60s]"),
        ("max-header-bytes", "[default: 16KiB]"),
    ];
    for (flag, default) in expected {
        let text = entries
            .iter()
            .find(|(f, _)| f == flag)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("--{flag} is not in --help:\n{help}"));
        assert!(text.contains(default), "--{flag}: {text}");
    }
}

/// Polls `url` until it answers `status`; how long that took.
async fn wait_for(url: &str, status: u16, limit: Duration) -> Duration {
    let client = plain_client();
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == status {
                return started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not answer {status} within {limit:?}");
}

#[tokio::test]
async fn the_binary_becomes_ready_and_exits_0_on_sigterm_within_the_grace_period() {
    let listen = reserve();
    let mut pool = MockConfig::demo();
    pool.allow_http_loopback_ip = true;
    pool.clients[0]
        .callback_urls
        .push(format!("http://{listen}/oauth2/callback"));
    let mock = MockCognito::start(pool, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut env = valid_env(listen, &mock.discovery_url());
    env.insert("SIDECAR_ISSUER_URL".into(), mock.issuer());
    env.insert("SIDECAR_SHUTDOWN_GRACE".into(), "3s".into());
    let mut child = spawn(&env, &[]);
    let client = plain_client();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the sidecar exited early ({status}): {:?}",
                child.wait_with_output()
            );
        }
        let ready = client.get(format!("http://{listen}/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = plain_client()
        .get(format!("http://{listen}/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let out = wait_exit(child, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn with_the_idp_down_at_start_it_serves_and_becomes_ready_once_the_idp_is_up() {
    let mock_addr = reserve();
    let discovery =
        format!("http://{mock_addr}/us-east-1_DemoPool1/.well-known/openid-configuration");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let env: std::collections::HashMap<String, String> = valid_env(reserve(), &discovery)
        .into_iter()
        .chain([(
            "SIDECAR_REDIRECT_URL".to_string(),
            format!("{base}/oauth2/callback"),
        )])
        .collect();
    let config = Config::load(&RunArgs::default(), &MapSource(env)).unwrap();
    let running = server::start_on(config, vec![listener]).unwrap();
    let client = plain_client();
    let r = client.get(format!("{base}/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = client.get(format!("{base}/ready")).send().await.unwrap();
    assert_eq!(r.status(), 503, "not ready without the IdP");
    let r = navigate(&client, &format!("{base}/app")).await;
    assert_eq!(r.status(), 503, "no sign-in without the IdP");

    let mut pool = MockConfig::demo();
    pool.allow_http_loopback_ip = true;
    let mock = MockCognito::start(pool, mock_addr).await.unwrap();
    assert_eq!(mock.discovery_url(), discovery);
    let took = wait_for(&format!("{base}/ready"), 200, Duration::from_secs(12)).await;
    assert!(took < Duration::from_secs(12));
    let r = navigate(&client, &format!("{base}/app")).await;
    assert_eq!(r.status(), 302, "sign-in starts once the IdP is up");
    assert!(location(&r).starts_with(&mock.base_url()));
    running.shutdown().await;
}

#[tokio::test]
async fn a_misspelt_sidecar_variable_is_a_start_up_warning_naming_the_setting() {
    use crate::misconfigured::{free_origin, Process};
    let base = free_origin();
    let mock = start_mock_for(MockConfig::demo(), &base).await;
    let sidecar = Process::start(&mock, &base, &[("SIDECAR_COOKIE_DOMIAN", "example.com")]).await;
    let line = sidecar.wait_for_line(&["SIDECAR_COOKIE_DOMIAN"]).await;
    assert!(
        line.contains("WARN")
            && line.contains("did you mean SIDECAR_COOKIE_DOMAIN (cookie-domain)?"),
        "{line}"
    );
}
