//! Everything the running mock remembers: pool config, keys, codes, refresh
//! tokens, hosted sessions, revocations, the test clock, counters and faults.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::config::MockConfig;
use super::keys::KeySet;
use super::{Fault, MockCounters, MockEndpoint, TokenTweak};

/// Authorization codes live 5 minutes.
pub(crate) const CODE_TTL: i64 = 300;
/// The hosted-domain session cookie lives 1 hour.
pub(crate) const SESSION_TTL: i64 = 3600;
/// Refresh tokens live 30 days (Cognito's default).
pub(crate) const REFRESH_TTL: i64 = 30 * 24 * 3600;

/// What an authorization code stands for.
#[derive(Clone, Debug)]
pub(crate) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub challenge: Option<String>,
    pub username: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// What a refresh token stands for.
#[derive(Clone, Debug)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub origin_jti: String,
    pub expires_at: i64,
}

/// A signed-in browser on the hosted domain.
#[derive(Clone, Debug)]
pub(crate) struct HostedSession {
    pub username: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

#[derive(Default)]
pub(crate) struct Store {
    pub codes: HashMap<String, CodeGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    /// Revoked `origin_jti`s: tokens of that lineage fail at userInfo and refresh.
    pub revoked: HashSet<String>,
    pub sessions: HashMap<String, HostedSession>,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub token_requests: AtomicU64,
    pub authorization_code_grants: AtomicU64,
    pub refresh_grants: AtomicU64,
    pub client_credentials_grants: AtomicU64,
    pub jwks_fetches: AtomicU64,
    pub discovery_fetches: AtomicU64,
    pub revocations: AtomicU64,
    pub userinfo: AtomicU64,
    pub authorize: AtomicU64,
    pub logins: AtomicU64,
    pub logouts: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> MockCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MockCounters {
            token_requests: get(&self.token_requests),
            authorization_code_grants: get(&self.authorization_code_grants),
            refresh_grants: get(&self.refresh_grants),
            client_credentials_grants: get(&self.client_credentials_grants),
            jwks_fetches: get(&self.jwks_fetches),
            discovery_fetches: get(&self.discovery_fetches),
            revocations: get(&self.revocations),
            userinfo: get(&self.userinfo),
            authorize: get(&self.authorize),
            logins: get(&self.logins),
            logouts: get(&self.logouts),
        }
    }
}

pub(crate) struct State {
    pub config: RwLock<MockConfig>,
    pub keys: RwLock<Arc<KeySet>>,
    /// `http://127.0.0.1:PORT`: the hosted domain.
    pub base_url: String,
    pub issuer: String,
    /// Where discovery and JWKS are also served when the issuer is on the mock.
    pub issuer_path: Option<String>,
    clock_offset: AtomicI64,
    pub store: Mutex<Store>,
    pub counters: Counters,
    faults: Mutex<HashMap<MockEndpoint, Fault>>,
    next_tweak: Mutex<Option<TokenTweak>>,
}

/// Locks even after a panic elsewhere: the mock's data stays usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new(mut config: MockConfig, base_url: String, keys: KeySet) -> Self {
        let issuer = match config.issuer.take() {
            Some(template) => template.replace("{base_url}", &base_url),
            None => format!(
                "https://cognito-idp.{}.amazonaws.com/{}",
                config.region, config.pool_id
            ),
        };
        let issuer_path = issuer
            .strip_prefix(&base_url)
            .filter(|p| p.starts_with('/') && p.len() > 1)
            .map(|p| p.trim_end_matches('/').to_string());
        config.issuer = Some(issuer.clone());
        Self {
            config: RwLock::new(config),
            keys: RwLock::new(Arc::new(keys)),
            base_url,
            issuer,
            issuer_path,
            clock_offset: AtomicI64::new(0),
            store: Mutex::default(),
            counters: Counters::default(),
            faults: Mutex::default(),
            next_tweak: Mutex::default(),
        }
    }

    /// Seconds since the epoch, shifted by the test clock offset.
    pub fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        real.saturating_add(self.clock_offset.load(Ordering::Relaxed))
    }

    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::Relaxed);
    }

    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, MockConfig> {
        self.config.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn config_mut(&self) -> std::sync::RwLockWriteGuard<'_, MockConfig> {
        self.config.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn set_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn fault(&self, endpoint: MockEndpoint) -> Option<Fault> {
        lock(&self.faults).get(&endpoint).cloned()
    }

    pub fn set_fault(&self, endpoint: MockEndpoint, fault: Option<Fault>) {
        let mut faults = lock(&self.faults);
        match fault {
            Some(f) => faults.insert(endpoint, f),
            None => faults.remove(&endpoint),
        };
    }

    pub fn set_next_tweak(&self, tweak: TokenTweak) {
        *lock(&self.next_tweak) = Some(tweak);
    }

    pub fn take_next_tweak(&self) -> TokenTweak {
        lock(&self.next_tweak).take().unwrap_or(TokenTweak::NoTweak)
    }

    /// The live hosted session named by the `cognito` cookie value, if any.
    pub fn session(&self, id: &str) -> Option<HostedSession> {
        let now = self.now();
        let mut store = self.store();
        match store.sessions.get(id) {
            Some(s) if s.expires_at > now => Some(s.clone()),
            Some(_) => {
                store.sessions.remove(id);
                None
            }
            None => None,
        }
    }
}
