//! A faithful local double of an Amazon Cognito user pool: hosted login
//! (`/oauth2/authorize`, `/login`, `/logout`, `/error`) and the OAuth2/OIDC
//! endpoints (`/oauth2/token`, `/oauth2/userInfo`, `/oauth2/revoke`, discovery,
//! JWKS), following `shared/COGNITO.md` to the byte where it says so.
//!
//! It shares no code with the sidecar (only crates), so the sidecar's tests
//! check its code against an independent implementation of the protocol.
//!
//! Endpoints on `http://127.0.0.1:PORT` (the "hosted domain"):
//! `GET /{pool_id}/.well-known/openid-configuration`, `GET /{pool_id}/.well-known/jwks.json`
//! (also under the issuer's path when the issuer is on the mock), `GET /oauth2/authorize`,
//! `GET|POST /login`, `POST /oauth2/token`, `GET|POST /oauth2/userInfo`,
//! `POST /oauth2/revoke`, `GET /logout`, `GET /error`.

mod authorize;
pub mod cli;
mod config;
mod endpoints;
mod guide;
mod keys;
mod pages;
mod server;
mod state;
mod token;
mod tokens;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{MockClient, MockConfig, MockUser, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};

use keys::KeySet;
use state::{lock, State};
use tokens::Grant;

/// Endpoints that can be made to misbehave with [`MockHandle::set_fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MockEndpoint {
    Token,
    Jwks,
    Discovery,
}

/// How a faulty endpoint misbehaves (until the fault is cleared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `500` with a plain-text body; the request is not processed.
    Status500,
    /// `200` with an HTML maintenance page instead of JSON.
    Html,
    /// The real answer, cut in half.
    TruncatedJson,
    /// The real token answer without `id_token` (no effect on JWKS/discovery).
    MissingIdToken,
    /// Waits this long, then answers normally.
    Hang(Duration),
    /// `200` with a 5 MiB JSON body.
    TooLarge,
}

/// One thing wrong with an ID token, for negative tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTweak {
    NoTweak,
    /// `exp` ten minutes in the past.
    Expired,
    /// `iss` of another pool.
    WrongIssuer,
    /// `aud` of another client.
    WrongAudience,
    /// `token_use` is `access`.
    TokenUseAccess,
    /// Signed by a key that is not in the JWKS, under its own unknown `kid`.
    WrongKey,
    /// The ID key's `kid`, but signed by another key: a bad signature.
    BadSignature,
    /// `alg: none` and an empty signature.
    AlgNone,
    /// `alg: HS256` keyed with the ID key's public key bytes (alg confusion).
    Hs256,
    /// A `nonce` other than the one sent to authorize.
    WrongNonce,
    /// `iat` ten minutes in the future (`exp` still ahead).
    IssuedInFuture,
    /// `nbf` ten minutes in the future.
    NotYetValid,
    /// `aud` names the client and another one, without `azp`.
    SeveralAudiences,
    /// `azp` names another client.
    ForeignAuthorizedParty,
}

/// Request counts since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MockCounters {
    /// Every request to `/oauth2/token`.
    pub token_requests: u64,
    pub authorization_code_grants: u64,
    pub refresh_grants: u64,
    pub client_credentials_grants: u64,
    pub jwks_fetches: u64,
    pub discovery_fetches: u64,
    pub revocations: u64,
    pub userinfo: u64,
    pub authorize: u64,
    /// Successful password sign-ins.
    pub logins: u64,
    pub logouts: u64,
}

/// Starts mock pools.
pub struct MockCognito;

impl MockCognito {
    /// Generates the pool's keys, binds `addr` (use `127.0.0.1:0` in tests) and
    /// serves on a spawned task until every handle is dropped or `shutdown`.
    pub async fn start(config: MockConfig, addr: SocketAddr) -> anyhow::Result<MockHandle> {
        config.validate()?;
        let keys = tokio::task::spawn_blocking(KeySet::generate).await??;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding mock Cognito to {addr}"))?;
        let mut local = listener.local_addr()?;
        if local.ip().is_unspecified() {
            local.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let state = Arc::new(State::new(config, format!("http://{local}"), keys));
        let (shutdown, rx) = watch::channel(());
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state), rx));
        let inner = Inner {
            state,
            addr: local,
            shutdown,
            task: Mutex::new(Some(task)),
        };
        Ok(MockHandle {
            inner: Arc::new(inner),
        })
    }
}

struct Inner {
    state: Arc<State>,
    addr: SocketAddr,
    /// Dropped with the last handle, which stops the accept loop.
    shutdown: watch::Sender<()>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A running mock pool: its URLs and the test controls.
#[derive(Clone)]
pub struct MockHandle {
    inner: Arc<Inner>,
}

impl MockHandle {
    fn state(&self) -> &State {
        &self.inner.state
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The hosted domain, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.state().base_url.clone()
    }

    pub fn issuer(&self) -> String {
        self.state().issuer.clone()
    }

    pub fn pool_id(&self) -> String {
        self.state().config().pool_id.clone()
    }

    pub fn discovery_url(&self) -> String {
        format!(
            "{}/{}/.well-known/openid-configuration",
            self.base_url(),
            self.pool_id()
        )
    }

    pub fn jwks_url(&self) -> String {
        endpoints::jwks_url(self.state())
    }

    /// Shifts the mock's clock (token `iat`/`exp`, code and session expiry).
    pub fn set_clock_offset(&self, secs: i64) {
        self.state().set_clock_offset(secs);
    }

    /// New key pair for ID and access tokens; old keys leave the JWKS, so
    /// tokens signed before fail. Blocks for the key generation.
    pub fn rotate_keys(&self) {
        if let Ok(rotated) = self.state().keys().rotated() {
            self.state().set_keys(rotated);
        }
    }

    /// Changes a user's groups; later tokens (e.g. from refresh) carry them.
    pub fn set_user_groups(&self, username: &str, groups: Vec<String>) {
        let mut config = self.state().config_mut();
        if let Some(user) = config.users.iter_mut().find(|u| u.username == username) {
            user.groups = groups;
        }
    }

    /// Changes a user's `sub`; later tokens (e.g. from refresh) carry it.
    pub fn set_user_sub(&self, username: &str, sub: &str) {
        let mut config = self.state().config_mut();
        if let Some(user) = config.users.iter_mut().find(|u| u.username == username) {
            user.sub = sub.to_string();
        }
    }

    /// Adds an app client, or replaces the one with the same `client_id`
    /// (e.g. to register a callback URL known only after binding).
    pub fn set_client(&self, client: MockClient) {
        let mut config = self.state().config_mut();
        config.clients.retain(|c| c.client_id != client.client_id);
        config.clients.push(client);
    }

    pub fn counters(&self) -> MockCounters {
        self.state().counters.snapshot()
    }

    /// Makes `endpoint` misbehave; `None` restores it.
    pub fn set_fault(&self, endpoint: MockEndpoint, fault: Option<Fault>) {
        self.state().set_fault(endpoint, fault);
    }

    /// The next authorization_code grant returns an ID token with `tweak`
    /// (keeping the code's nonce unless the tweak is `WrongNonce`).
    pub fn next_id_token_tweak(&self, tweak: TokenTweak) {
        self.state().set_next_tweak(tweak);
    }

    /// An ID token for the first user and first client, without nonce, with
    /// one thing wrong; empty if the pool has no user or client.
    pub fn mint_id_token(&self, tweak: TokenTweak) -> String {
        let (user, client) = {
            let config = self.state().config();
            let user = config.users.first().map(|u| u.username.clone());
            let client = config.clients.first().map(|c| c.client_id.clone());
            (user, client)
        };
        match (user, client) {
            (Some(u), Some(c)) => self
                .mint_id_token_for(&u, &c, None, tweak)
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// An ID token (scopes `openid email profile`) for a given user, client and nonce.
    pub fn mint_id_token_for(
        &self,
        username: &str,
        client_id: &str,
        nonce: Option<&str>,
        tweak: TokenTweak,
    ) -> anyhow::Result<String> {
        let user = self
            .state()
            .config()
            .user(username)
            .cloned()
            .context("no such mock user")?;
        let scopes = ["openid", "email", "profile"].map(String::from);
        let origin_jti = uuid::Uuid::new_v4().to_string();
        let now = self.state().now();
        let grant = Grant {
            user: &user,
            client_id,
            scopes: &scopes,
            nonce,
            auth_time: now,
            origin_jti: &origin_jti,
        };
        let minted = token::mint(self.state(), &grant, tweak)?;
        minted.id_token.context("no ID token minted")
    }

    /// Stops accepting, aborts open connections, and waits for the server task.
    pub async fn shutdown(self) {
        self.inner.shutdown.send_replace(());
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
