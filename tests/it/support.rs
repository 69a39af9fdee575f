//! Test harness: the mock Cognito, a recording upstream and the real sidecar,
//! each on an ephemeral loopback port, and (in [`browser`]) a cookie-keeping
//! client that fills in the mock's sign-in form like a person would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use cognito_sidecar::body::{self, Body};
use cognito_sidecar::clock::Clock;
use cognito_sidecar::config::{validate, Config, ConfigError, Settings};
use cognito_sidecar::mock::{
    MockCognito, MockConfig, MockHandle, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
};
use cognito_sidecar::server::{self, Running};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use reqwest::redirect::Policy;
use tokio::net::TcpListener;

// A path, not the default: tests/secrets_in_logs.rs includes this file by path.
#[path = "support/browser.rs"]
mod browser;
pub use browser::*;

pub const COOKIE_SECRET: &str = "test-cookie-secret-0123456789abcdef-0123456789";

/// What the upstream saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An upstream that answers `upstream:{path}` and records each request.
#[derive(Clone)]
pub struct RecordingUpstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl RecordingUpstream {
    pub async fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    pub async fn start_on(listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let record = record.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let record = record.clone();
                        async move {
                            let seen = Seen {
                                method: req.method().to_string(),
                                path: req
                                    .uri()
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: req
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| {
                                        (
                                            n.to_string(),
                                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                        )
                                    })
                                    .collect(),
                            };
                            let body = format!("upstream:{}", seen.path);
                            record.lock().unwrap().push(seen);
                            Ok::<Response<Body>, Infallible>(Response::new(body::full(body)))
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen }
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the upstream saw no request")
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// The three servers of one test.
pub struct Stack {
    pub mock: MockHandle,
    pub upstream: RecordingUpstream,
    pub sidecar: Running,
    /// `http://127.0.0.1:PORT` of the sidecar.
    pub base: String,
    /// The sidecar's clock (shared by replicas started together).
    pub clock: Clock,
}

/// A stack's mock pool and sidecar settings ([`test_settings`] to start from).
pub struct StackBuilder {
    pub mock: Option<MockConfig>,
    pub settings: Settings,
}

impl Default for StackBuilder {
    fn default() -> Self {
        Self {
            mock: None,
            settings: test_settings(),
        }
    }
}

impl StackBuilder {
    pub fn mock(mut self, config: MockConfig) -> Self {
        self.mock = Some(config);
        self
    }

    /// Changes the sidecar's settings, e.g. `.with(|s| s.session_ttl = "10s".into())`.
    pub fn with(mut self, edit: impl FnOnce(&mut Settings)) -> Self {
        edit(&mut self.settings);
        self
    }

    pub async fn start(self) -> Stack {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mock = start_mock_for(self.mock.unwrap_or_else(MockConfig::demo), &base).await;
        start_sidecar_with(&mock, listener, &base, &self.settings).await
    }
}

impl Stack {
    /// Moves time `secs` seconds ahead for the sidecar (and every replica
    /// started with it) and the mock, in step: expiry without waiting.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
        let offset = i64::try_from(self.clock.offset().as_secs()).unwrap();
        self.mock.set_clock_offset(offset);
    }
}

/// Starts a mock pool that accepts `origin`'s callback and sign-out URLs
/// (and plain-HTTP loopback addresses).
pub async fn start_mock_for(mut pool: MockConfig, origin: &str) -> MockHandle {
    pool.allow_http_loopback_ip = true;
    for client in &mut pool.clients {
        client
            .callback_urls
            .push(format!("{origin}/oauth2/callback"));
        client
            .logout_urls
            .push(format!("{origin}/oauth2/signed_out"));
    }
    MockCognito::start(pool, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The settings every test sidecar starts from: the demo client of the mock,
/// [`COOKIE_SECRET`], plain-HTTP cookies, short IdP and upstream timeouts.
/// What depends on a stack's addresses is filled in by [`sidecar_config`].
pub fn test_settings() -> Settings {
    let mut settings = Settings {
        cookie_secret: secrets(COOKIE_SECRET),
        cookie_secure: "false".into(),
        idp_timeout: "3s".into(),
        upstream_timeout: "3s".into(),
        ..Settings::default()
    };
    let provider = &mut settings.provider;
    provider.provider = Some("cognito".into());
    provider.client_id = Some(DEMO_CLIENT_ID.into());
    provider.client_secret = Some(secret(DEMO_CLIENT_SECRET));
    settings
}

/// `settings` for a sidecar whose public origin is `base`, validated: the
/// upstream, the mock's issuer and discovery URLs and the callback and
/// sign-out URLs under `base`, each unless the settings name their own.
pub fn sidecar_config(
    base: &str,
    mock: &MockHandle,
    upstream: &RecordingUpstream,
    settings: &Settings,
) -> Config {
    let mut s = settings.clone();
    s.upstream
        .get_or_insert_with(|| format!("http://{}", upstream.addr));
    let provider = &mut s.provider;
    provider.issuer_url.get_or_insert_with(|| mock.issuer());
    provider
        .discovery_url
        .get_or_insert_with(|| mock.discovery_url());
    provider
        .redirect_url
        .get_or_insert_with(|| format!("{base}/oauth2/callback"));
    provider
        .sign_out_url
        .get_or_insert_with(|| format!("{base}/oauth2/signed_out"));
    validate(&s).unwrap_or_else(|problems| panic!("test config: {}", ConfigError(problems)))
}

/// The `[[provider]]` and `[[route]]` tables of the config file at `path`,
/// into `settings` (top-level settings belong in code: `.with(..)`).
pub fn config_file(settings: &mut Settings, path: impl AsRef<std::path::Path>) {
    let file = Settings::from_file(path.as_ref()).unwrap_or_else(|e| panic!("test config: {e}"));
    let top_level = |s: &Settings| toml::Table::try_from(s).unwrap();
    let tables_only = Settings {
        providers: Vec::new(),
        routes: Vec::new(),
        ..file.clone()
    };
    assert_eq!(
        top_level(&tables_only),
        top_level(&Settings::default()),
        "the test's config file sets top-level settings: set them in code"
    );
    settings.providers = file.providers;
    settings.routes = file.routes;
}

/// A secret setting's value.
pub fn secret(value: impl Into<String>) -> cognito_sidecar::secret::Secret<String> {
    cognito_sidecar::secret::Secret::new(value.into())
}

/// Comma-separated secrets (`cookie_secret`), as the environment gives them.
pub fn secrets(value: impl AsRef<str>) -> Vec<cognito_sidecar::secret::Secret<String>> {
    list(value).into_iter().map(secret).collect()
}

/// A list setting split on commas, as the environment gives it.
pub fn list(value: impl AsRef<str>) -> Vec<String> {
    split(value.as_ref(), |c| c == ',')
}

/// A list setting split on commas and white space, as the environment gives it.
pub fn words(value: impl AsRef<str>) -> Vec<String> {
    split(value.as_ref(), |c| c == ',' || c.is_whitespace())
}

fn split(value: &str, at: impl Fn(char) -> bool) -> Vec<String> {
    let parts = value.split(at).map(str::trim).filter(|s| !s.is_empty());
    parts.map(str::to_string).collect()
}

impl Stack {
    pub async fn start() -> Self {
        StackBuilder::default().start().await
    }

    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn wait_ready(&self) {
        let client = plain_client();
        for _ in 0..200 {
            if let Ok(r) = client.get(self.url("/ready")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the sidecar never became ready");
    }
}

/// Runs a test body with a deadline, so a hung connection fails the test instead of stalling CI.
pub async fn bounded<F: std::future::Future>(body: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(60), body)
        .await
        .expect("the test did not finish within 60 s")
}

impl StackBuilder {
    /// Like [`StackBuilder::start`], on `listener`, but with `public`
    /// (`http://host:port`) as the sidecar's public origin: the redirect and
    /// sign-out URLs and the mock's allowed callbacks use it. For a sidecar
    /// reached through a proxy in front or by a host name.
    pub async fn start_public(self, listener: TcpListener, public: &str) -> Stack {
        let direct = format!("http://{}", listener.local_addr().unwrap());
        let mock = start_mock_for(self.mock.unwrap_or_else(MockConfig::demo), public).await;
        let upstream = RecordingUpstream::start().await;
        let config = sidecar_config(public, &mock, &upstream, &self.settings);
        let clock = config.clock.clone();
        let sidecar = server::start_on(config, vec![listener]).unwrap();
        let stack = Stack {
            mock,
            upstream,
            sidecar,
            base: direct.clone(),
            clock,
        };
        stack.wait_ready().await;
        Stack {
            base: public.to_string(),
            ..stack
        }
    }
}

impl StackBuilder {
    /// `n` sidecars (replicas behind a load balancer) sharing one mock pool
    /// that accepts every replica's callback; each has its own upstream and
    /// these settings. Shared sessions need a shared store (e.g. Redis).
    pub async fn start_replicas(self, n: usize) -> Vec<Stack> {
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let bases: Vec<String> = listeners
            .iter()
            .map(|l| format!("http://{}", l.local_addr().unwrap()))
            .collect();
        let mut pool = self.mock.unwrap_or_else(MockConfig::demo);
        pool.allow_http_loopback_ip = true;
        for client in &mut pool.clients {
            for base in &bases {
                client.callback_urls.push(format!("{base}/oauth2/callback"));
                client.logout_urls.push(format!("{base}/oauth2/signed_out"));
            }
        }
        let mock = MockCognito::start(pool, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let clock = Clock::default();
        let mut stacks = Vec::new();
        for (listener, base) in listeners.into_iter().zip(bases) {
            let stack =
                start_sidecar_on(&mock, listener, &base, &self.settings, clock.clone()).await;
            stack.wait_ready().await;
            stacks.push(stack);
        }
        stacks
    }
}

/// A sidecar on `listener` (public origin `base`) against an existing mock,
/// with a fresh upstream: another replica, or a replica restarted.
pub async fn start_sidecar_with(
    mock: &MockHandle,
    listener: TcpListener,
    base: &str,
    settings: &Settings,
) -> Stack {
    let stack = start_sidecar_unready(mock, listener, base, settings).await;
    stack.wait_ready().await;
    stack
}

/// Like [`start_sidecar_with`], without waiting for `/ready` (for sidecars
/// that must not become ready).
pub async fn start_sidecar_unready(
    mock: &MockHandle,
    listener: TcpListener,
    base: &str,
    settings: &Settings,
) -> Stack {
    start_sidecar_on(mock, listener, base, settings, Clock::default()).await
}

/// A sidecar reading the time from `clock`, not waiting for `/ready`.
async fn start_sidecar_on(
    mock: &MockHandle,
    listener: TcpListener,
    base: &str,
    settings: &Settings,
    clock: Clock,
) -> Stack {
    let upstream = RecordingUpstream::start().await;
    let mut config = sidecar_config(base, mock, &upstream, settings);
    config.clock = clock.clone();
    let sidecar = server::start_on(config, vec![listener]).unwrap();
    Stack {
        mock: mock.clone(),
        upstream,
        sidecar,
        base: base.to_string(),
        clock,
    }
}
