//! The session store the flow uses, whatever the backend: this process's
//! memory (one replica) or Redis (shared by replicas). A backend that cannot
//! answer is an error, never "not signed in": callers answer 503.

use std::sync::Arc;
use std::time::Duration;

use super::memory::MemoryStore;
use super::redis::RedisStore;
use super::{Session, SessionId};
use crate::clock::Clock;
use crate::config::{CookieConfig, SessionBackend, SessionConfig};

/// Why the store could not answer. Never holds the Redis URL (a password may be in it).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the session store did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the session store failed: {0}")]
    Backend(String),
    #[error("the session store is misconfigured: {0}")]
    Config(&'static str),
    /// Redis's TLS certificate was refused: a setting to fix, not an outage.
    #[error(
        "the session store is misconfigured: Redis's TLS certificate was refused ({0}); set \
         redis-ca-file to the PEM of the CA that signed it, and reach Redis by a name or address \
         the certificate lists"
    )]
    UntrustedCertificate(String),
}

impl StoreError {
    /// A setting is wrong: retrying will not help until the operator acts.
    pub fn is_misconfiguration(&self) -> bool {
        matches!(self, Self::Config(_) | Self::UntrustedCertificate(_))
    }
}

#[derive(Clone)]
pub enum SessionStore {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl SessionStore {
    /// The configured backend; Redis connects lazily, so this never waits.
    /// Sessions end by `clock`.
    pub fn new(
        config: &SessionConfig,
        cookie: &CookieConfig,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        Ok(match &config.backend {
            SessionBackend::Memory => Self::Memory(MemoryStore::new(config, clock)),
            SessionBackend::Redis {
                url,
                prefix,
                ca_file,
                sentinel_password,
            } => Self::Redis(RedisStore::new(
                url,
                prefix,
                ca_file.as_deref(),
                sentinel_password.as_ref(),
                config,
                &cookie.secrets,
                clock,
            )?),
        })
    }

    /// A live session, `None` when unknown or ended.
    pub async fn get(&self, id: &SessionId) -> Result<Option<Arc<Session>>, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.get(id).await),
            Self::Redis(r) => r.get(id).await,
        }
    }

    /// Stores a new session; the user's oldest sessions beyond the cap end.
    pub async fn insert(&self, id: SessionId, session: Session) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => {
                m.insert(id, session).await;
                Ok(())
            }
            Self::Redis(r) => r.insert(id, session).await,
        }
    }

    /// New content for a live session (refresh); never brings an ended one back.
    pub async fn replace(&self, id: &SessionId, session: Session) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => {
                m.replace(id, session).await;
                Ok(())
            }
            Self::Redis(r) => r.replace(id, session).await,
        }
    }

    pub async fn remove(&self, id: &SessionId) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => {
                m.remove(id).await;
                Ok(())
            }
            Self::Redis(r) => r.remove(id).await,
        }
    }

    /// Ends every session the IdP session `sid` of `provider` signed in, on
    /// every replica sharing the store; returns how many were live.
    pub async fn end_sid(&self, provider: &str, sid: &str) -> Result<usize, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.end_sid(provider, sid).await),
            Self::Redis(r) => r.end_sid(provider, sid).await,
        }
    }

    /// Ends every session of `sub` that `provider` signed in; returns how many
    /// were live.
    pub async fn end_sub(&self, provider: &str, sub: &str) -> Result<usize, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.end_sub(provider, sub).await),
            Self::Redis(r) => r.end_sub(provider, sub).await,
        }
    }

    /// True the first time `key` is offered within `ttl` (across replicas with
    /// Redis): the replay check of logout tokens' `jti`.
    pub async fn first_use(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.first_use(key, ttl).await),
            Self::Redis(r) => r.first_use(key, ttl).await,
        }
    }

    /// Live sessions (for Redis: of every replica sharing the prefix).
    pub async fn count(&self) -> Result<u64, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.count().await),
            Self::Redis(r) => r.count().await,
        }
    }

    /// Whether this replica may refresh the session now. In memory the
    /// refresher's own single-flight guard is enough: always yes.
    /// Whether sessions can be read and written now: always for memory; a
    /// Redis that answers `PING` otherwise (for `/ready`).
    pub async fn reachable(&self) -> bool {
        match self {
            Self::Memory(_) => true,
            Self::Redis(r) => r.ping().await.is_ok(),
        }
    }

    pub async fn lock_refresh(&self, id: &SessionId) -> Result<bool, StoreError> {
        match self {
            Self::Memory(_) => Ok(true),
            Self::Redis(r) => r.lock_refresh(id).await,
        }
    }

    /// Lets the next refresh of this session happen at once (after a success).
    pub async fn unlock_refresh(&self, id: &SessionId) -> Result<(), StoreError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(r) => r.unlock_refresh(id).await,
        }
    }
}
