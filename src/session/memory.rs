//! The in-memory session store: O(1) lookups in a moka cache with absolute and
//! idle expiry, bounded by weighed memory, and a cap on sessions per user so
//! one account cannot evict everyone else. One replica only.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::future::Cache;
use moka::ops::compute::Op;

use super::{Session, SessionId};
use crate::config::SessionConfig;

#[derive(Clone)]
pub struct MemoryStore {
    sessions: Cache<SessionId, Arc<Session>>,
    /// Per `sub`, that user's session ids, oldest first.
    by_user: Cache<String, Arc<Mutex<VecDeque<SessionId>>>>,
    max_per_user: usize,
}

impl MemoryStore {
    pub fn new(config: &SessionConfig) -> Self {
        let sessions = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_id: &SessionId, s: &Arc<Session>| s.weight())
            .time_to_live(config.ttl)
            .time_to_idle(config.idle_timeout)
            .build();
        let by_user = Cache::builder()
            .max_capacity(10_000_000)
            .time_to_idle(config.ttl.max(Duration::from_secs(1)))
            .build();
        Self {
            sessions,
            by_user,
            max_per_user: config.max_per_user.max(1),
        }
    }

    /// A live session, or `None` (unknown, expired, evicted or past `expires_at`).
    pub async fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        let session = self.sessions.get(id).await?;
        if session.expires_at <= super::now() {
            self.sessions.invalidate(id).await;
            return None;
        }
        Some(session)
    }

    /// Stores a new session; the user's oldest sessions beyond the cap end.
    pub async fn insert(&self, id: SessionId, session: Session) {
        let sub = session.identity.sub.clone();
        self.sessions.insert(id.clone(), Arc::new(session)).await;
        let list = self.by_user.get_with(sub, async { Arc::default() }).await;
        let doomed: Vec<SessionId> = {
            let Ok(mut ids) = list.lock() else { return };
            ids.retain(|known| self.sessions.contains_key(known));
            ids.push_back(id);
            let excess = ids.len().saturating_sub(self.max_per_user);
            ids.drain(..excess).collect()
        };
        for old in doomed {
            self.sessions.invalidate(&old).await;
        }
    }

    /// Replaces a live session's content (refresh) without changing its id; a
    /// session that ended meanwhile stays ended.
    pub async fn replace(&self, id: &SessionId, session: Session) {
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
        let store = SessionStore::Memory(MemoryStore::new(&contract::config()));
        contract::contract(&store).await.unwrap();
    }

    #[tokio::test]
    async fn past_absolute_expiry_is_gone_from_the_cache() {
        let store = MemoryStore::new(&contract::config());
        let id = SessionId::generate();
        let s = contract::session("a", super::super::now() - 1).unwrap();
        store.insert(id.clone(), s).await;
        assert!(store.get(&id).await.is_none());
        assert_eq!(store.count().await, 0, "invalidated on read");
    }
}
