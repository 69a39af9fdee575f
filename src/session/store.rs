//! The in-memory session store: O(1) lookups in a moka cache with absolute and
//! idle expiry, bounded by weighed memory, and a cap on sessions per user so
//! one account cannot evict everyone else.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::future::Cache;

use super::{Session, SessionId};
use crate::config::SessionConfig;

#[derive(Clone)]
pub struct SessionStore {
    sessions: Cache<SessionId, Arc<Session>>,
    /// Per `sub`, that user's session ids, oldest first.
    by_user: Cache<String, Arc<Mutex<VecDeque<SessionId>>>>,
    max_per_user: usize,
}

impl SessionStore {
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

    /// Replaces a session's content (refresh) without changing its id.
    pub async fn replace(&self, id: &SessionId, session: Session) {
        self.sessions.insert(id.clone(), Arc::new(session)).await;
    }

    pub async fn remove(&self, id: &SessionId) {
        self.sessions.invalidate(id).await;
    }

    /// The exact count, after the cache's pending bookkeeping has run.
    pub async fn count(&self) -> u64 {
        self.sessions.run_pending_tasks().await;
        self.sessions.entry_count()
    }

    pub fn len(&self) -> u64 {
        self.sessions.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::provider::TokenSet;
    use crate::secret::Secret;

    fn config(max_per_user: usize) -> SessionConfig {
        SessionConfig {
            ttl: Duration::from_secs(3600),
            idle_timeout: Duration::from_secs(600),
            max_bytes: 10_000_000,
            max_per_user,
        }
    }

    pub fn session(sub: &str, expires_at: u64) -> Session {
        Session {
            identity: Identity {
                sub: sub.into(),
                email: None,
                email_verified: false,
                name: "n".into(),
                username: "u".into(),
                groups: vec![],
            },
            tokens: TokenSet {
                id_token: Secret::new("id".into()),
                access_token: Secret::new("at".into()),
                refresh_token: None,
                expires_in: None,
            },
            created_at: 0,
            tokens_at: 0,
            expires_at,
            id_token_expires_at: expires_at,
        }
    }

    #[tokio::test]
    async fn insert_get_remove() {
        let store = SessionStore::new(&config(5));
        let id = SessionId::generate();
        assert!(store.get(&id).await.is_none());
        store
            .insert(id.clone(), session("a", super::super::now() + 60))
            .await;
        assert_eq!(store.get(&id).await.unwrap().identity.sub, "a");
        assert_eq!(store.count().await, 1);
        store.remove(&id).await;
        assert!(store.get(&id).await.is_none());
        assert_eq!(store.count().await, 0);
    }

    #[tokio::test]
    async fn past_absolute_expiry_is_gone() {
        let store = SessionStore::new(&config(5));
        let id = SessionId::generate();
        store
            .insert(id.clone(), session("a", super::super::now() - 1))
            .await;
        assert!(store.get(&id).await.is_none());
    }

    #[tokio::test]
    async fn one_user_cannot_hold_more_than_the_cap() {
        let store = SessionStore::new(&config(3));
        let later = super::super::now() + 60;
        let other = SessionId::generate();
        store.insert(other.clone(), session("other", later)).await;
        let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate()).collect();
        for id in &ids {
            store.insert(id.clone(), session("greedy", later)).await;
        }
        assert!(store.get(&ids[0]).await.is_none());
        assert!(store.get(&ids[1]).await.is_none());
        for id in &ids[2..] {
            assert!(store.get(id).await.is_some());
        }
        assert!(
            store.get(&other).await.is_some(),
            "another user's session survives"
        );
    }
}
