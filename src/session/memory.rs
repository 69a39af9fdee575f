//! The in-memory session store: O(1) lookups in a moka cache with absolute and
//! idle expiry, bounded by weighed memory, and a cap on sessions per user so
//! one account cannot evict everyone else. One replica only.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::Expiry;

use super::{Session, SessionId};
use crate::clock::Clock;
use crate::config::SessionConfig;

type Ids = Arc<Mutex<VecDeque<SessionId>>>;

#[derive(Clone)]
pub struct MemoryStore {
    sessions: Cache<SessionId, Arc<Session>>,
    /// Per `sub`, that user's session ids, oldest first.
    by_user: Cache<String, Ids>,
    /// What back-channel logout needs (boxed: the store is passed by value).
    logout: Arc<LogoutState>,
    max_per_user: usize,
    /// Ends sessions at `expires_at` (moka's own expiry runs on real time).
    clock: Clock,
}

struct LogoutState {
    /// Per provider and IdP session (`sid`), the sessions it signed in.
    by_sid: Cache<String, Ids>,
    /// Values seen once (logout tokens' `jti`), each until its own deadline.
    seen: Cache<String, Duration>,
}

/// Each entry of `seen` lives as long as it says.
struct OwnLifetime;

impl Expiry<String, Duration> for OwnLifetime {
    fn expire_after_create(&self, _: &String, ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

/// The `by_sid` key: the provider's name, then the IdP's session id.
fn sid_key(provider: &str, sid: &str) -> String {
    format!("{provider}\0{sid}")
}

impl MemoryStore {
    pub fn new(config: &SessionConfig, clock: Clock) -> Self {
        let sessions = Cache::builder()
            // LRU: when full, the session used least recently ends. moka's
            // default (TinyLFU) may refuse to admit a new entry that is less
            // popular than the victim: a fresh sign-in would not stick.
            .eviction_policy(EvictionPolicy::lru())
            .max_capacity(config.max_bytes)
            .weigher(|_id: &SessionId, s: &Arc<Session>| s.weight())
            .time_to_live(config.ttl)
            .time_to_idle(config.idle_timeout)
            .build();
        let index = || {
            Cache::builder()
                .max_capacity(10_000_000)
                .time_to_idle(config.ttl.max(Duration::from_secs(1)))
                .build()
        };
        let seen = Cache::builder()
            .max_capacity(1_000_000)
            .expire_after(OwnLifetime)
            .build();
        Self {
            sessions,
            by_user: index(),
            logout: Arc::new(LogoutState {
                by_sid: index(),
                seen,
            }),
            max_per_user: config.max_per_user.max(1),
            clock,
        }
    }

    /// A live session, or `None` (unknown, expired, evicted or past `expires_at`).
    pub async fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        let session = self.sessions.get(id).await?;
        if session.expires_at <= self.clock.now() {
            self.sessions.invalidate(id).await;
            return None;
        }
        Some(session)
    }

    /// Stores a new session; the user's oldest sessions beyond the cap end.
    pub async fn insert(&self, id: SessionId, session: Session) {
        let sub = session.identity.sub.clone();
        let sid = session
            .sid
            .as_ref()
            .map(|sid| sid_key(&session.provider, sid));
        // Encoded now, so the memory bound counts them and no request waits.
        session.identity_values();
        self.sessions.insert(id.clone(), Arc::new(session)).await;
        if let Some(sid) = sid {
            self.push(&self.logout.by_sid, sid, id.clone(), usize::MAX)
                .await;
        }
        let doomed = self.push(&self.by_user, sub, id, self.max_per_user).await;
        for old in doomed {
            self.sessions.invalidate(&old).await;
        }
    }

    /// Appends `id` to the list at `key` (dropping ids whose session ended);
    /// returns the oldest ids beyond `cap`, which leave the list.
    async fn push(
        &self,
        index: &Cache<String, Ids>,
        key: String,
        id: SessionId,
        cap: usize,
    ) -> Vec<SessionId> {
        // Room for one id: most users have one session (a default
        // VecDeque would reserve four on the first push).
        let list = index
            .get_with(key, async {
                Arc::new(Mutex::new(VecDeque::with_capacity(1)))
            })
            .await;
        let Ok(mut ids) = list.lock() else {
            return Vec::new();
        };
        ids.retain(|known| self.sessions.contains_key(known));
        ids.push_back(id);
        let excess = ids.len().saturating_sub(cap);
        ids.drain(..excess).collect()
    }

    /// Ends every session the IdP session `sid` of `provider` signed in;
    /// returns how many were live.
    pub async fn end_sid(&self, provider: &str, sid: &str) -> usize {
        let Some(list) = self.logout.by_sid.remove(&sid_key(provider, sid)).await else {
            return 0;
        };
        let ids: Vec<SessionId> = list
            .lock()
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        self.end_where(ids, |_| true).await
    }

    /// Ends every session of `sub` signed in by `provider` (another
    /// provider's user may have the same `sub`); returns how many were live.
    pub async fn end_sub(&self, provider: &str, sub: &str) -> usize {
        let Some(list) = self.by_user.get(sub).await else {
            return 0;
        };
        let ids: Vec<SessionId> = list
            .lock()
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        self.end_where(ids, |s| s.provider == provider).await
    }

    async fn end_where(&self, ids: Vec<SessionId>, doomed: impl Fn(&Session) -> bool) -> usize {
        let mut ended = 0;
        for id in ids {
            if let Some(session) = self.sessions.get(&id).await {
                if doomed(&session) {
                    self.sessions.invalidate(&id).await;
                    ended += 1;
                }
            }
        }
        ended
    }

    /// True the first time `key` is offered within `ttl`, false after.
    pub async fn first_use(&self, key: &str, ttl: Duration) -> bool {
        self.logout
            .seen
            .entry(key.to_string())
            .or_insert_with(async move { ttl })
            .await
            .is_fresh()
    }

    /// Replaces a live session's content (refresh) without changing its id; a
    /// session that ended meanwhile stays ended.
    pub async fn replace(&self, id: &SessionId, session: Session) {
        session.identity_values();
        let session = Arc::new(session);
        self.sessions
            .entry(id.clone())
            .and_compute_with(|entry| async move {
                match entry {
                    Some(_) => Op::Put(session),
                    None => Op::Nop,
                }
            })
            .await;
    }

    pub async fn remove(&self, id: &SessionId) {
        self.sessions.invalidate(id).await;
    }

    /// The exact count, after the cache's pending bookkeeping has run.
    pub async fn count(&self) -> u64 {
        self.sessions.run_pending_tasks().await;
        self.sessions.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{contract, SessionStore};
    use super::*;

    #[tokio::test]
    async fn the_memory_store_meets_the_contract() {
        let store = SessionStore::Memory(MemoryStore::new(&contract::config(), Clock::default()));
        contract::contract(&store).await.unwrap();
    }

    #[tokio::test]
    async fn past_absolute_expiry_is_gone_from_the_cache() {
        let store = MemoryStore::new(&contract::config(), Clock::default());
        let id = SessionId::generate();
        let s = contract::session("a", contract::now() - 1).unwrap();
        store.insert(id.clone(), s).await;
        assert!(store.get(&id).await.is_none());
        assert_eq!(store.count().await, 0, "invalidated on read");
    }

    /// A full store makes room for a new sign-in by ending the session used
    /// least recently, never by refusing the new one (a frequency-based
    /// admission policy such as moka's default TinyLFU would refuse it: the
    /// user would sign in and at once be signed out).
    #[tokio::test]
    async fn a_full_store_keeps_the_new_session_and_drops_the_least_recent() {
        let one = contract::session("u0", contract::now() + 3600)
            .unwrap()
            .weight();
        let store = MemoryStore::new(
            &SessionConfig {
                max_bytes: u64::from(one) * 10,
                idle_timeout: Duration::from_secs(3600),
                max_per_user: 1,
                ..contract::config()
            },
            Clock::default(),
        );
        let mut ids = Vec::new();
        for i in 0..10 {
            let id = SessionId::generate();
            let s = contract::session(&format!("u{i}"), contract::now() + 3600).unwrap();
            store.insert(id.clone(), s).await;
            ids.push(id);
        }
        // Popular sessions: read often, the first one least recently.
        for _ in 0..20 {
            for id in &ids {
                assert!(store.get(id).await.is_some());
            }
        }
        store.sessions.run_pending_tasks().await;
        let newcomer = SessionId::generate();
        let s = contract::session("new", contract::now() + 3600).unwrap();
        store.insert(newcomer.clone(), s).await;
        store.sessions.run_pending_tasks().await;
        assert!(
            store.get(&newcomer).await.is_some(),
            "the new sign-in stays"
        );
        assert!(store.get(&ids[0]).await.is_none(), "the least recent ends");
        assert!(store.get(&ids[9]).await.is_some());
    }
}
