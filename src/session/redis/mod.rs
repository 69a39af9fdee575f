//! Sessions in Redis, shared by any number of replicas; one server, a master
//! found through Sentinel, or a Cluster (see [`connect`]).
//!
//! - Keys never hold a session id, only its SHA-256 ([`keys`]).
//! - Values are the session as JSON, sealed with AES-256-GCM (tokens are
//!   secrets) and bound to their key.
//! - Redis keeps the TTLs: min(idle timeout, absolute end), pushed back on each
//!   read by `GETEX ... PX` in the same round trip.
//! - Per user, a sorted set of hashed ids by creation time caps the sessions.
//!   The set and the sessions live in different cluster slots, so a sign-in is
//!   ordered single-slot steps (session, then set, then the cap), never one
//!   command across slots.
//! - Per IdP session, a set of hashed ids (`{prefix}d:{sha256(provider NUL sid)}`)
//!   for back-channel logout; it lives as long as the per-user set. Logout
//!   tokens seen (`{prefix}j:...`) are kept while they could be accepted.
//! - Every call is bounded in time: a Redis outage (or a failover) is an error
//!   the caller turns into a 503, never a hang and never "signed out".

mod connect;
mod keys;
mod scan;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use self::connect::{failed, Conn, Link};
use self::keys::{hashed, Keys};
use super::sealed::Sealer;
use super::{Session, SessionId, StoreError};
use crate::clock::Clock;
use crate::config::SessionConfig;
use crate::secret::Secret;

/// The bound of a whole call, reconnect included.
const CALL_TIMEOUT: Duration = Duration::from_millis(2500);
/// A refresh lock outlives any refresh grant (the IdP timeout is far lower).
const REFRESH_LOCK_MS: u64 = 30_000;

/// Adds a session's hash to the user's set by server time and returns the
/// set, oldest first (one key: one slot). Sent whole (`EVAL`, not `EVALSHA`):
/// a cluster loads scripts on every node, which fails while one is down.
const INDEX: &str = r"
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

#[derive(Clone)]
pub struct RedisStore {
    link: Link,
    keys: Keys,
    idle_ms: u64,
    ttl_ms: u64,
    max_per_user: usize,
    sealer: Arc<Sealer>,
    /// Ends sessions at `expires_at`; Redis's own key expiry runs on its clock.
    clock: Clock,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects lazily: a Redis that is down at start-up is an error of the
    /// first request, not of the process.
    pub fn new(
        url: &Secret<String>,
        prefix: &str,
        ca_file: Option<&Path>,
        sentinel_password: Option<&Secret<String>>,
        config: &SessionConfig,
        secrets: &[Secret<Vec<u8>>],
        clock: Clock,
    ) -> Result<Self, StoreError> {
        let link = Link::open(url, ca_file, sentinel_password)?;
        let sealer = Sealer::new(secrets);
        if sealer.seal(b"", b"").is_none() {
            return Err(StoreError::Config("no cookie secret to seal sessions with"));
        }
        Ok(Self {
            link,
            keys: Keys::new(prefix),
            idle_ms: millis(config.idle_timeout),
            ttl_ms: millis(config.ttl),
            max_per_user: config.max_per_user.max(1),
            sealer: Arc::new(sealer),
            clock,
        })
    }

    fn session_key(&self, id: &SessionId) -> String {
        self.keys.session(&hashed(id.expose()))
    }

    fn lock_key(&self, id: &SessionId) -> String {
        self.keys.lock(&hashed(id.expose()))
    }

    /// Runs one Redis call, connecting included, within [`CALL_TIMEOUT`]. A
    /// failure makes the link look for the master again (Sentinel).
    async fn call<T, F>(&self, op: impl FnOnce(Conn) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let link = &self.link;
        let run = async move { op(link.conn().await?).await };
        let result = match tokio::time::timeout(CALL_TIMEOUT, run).await {
            Ok(result) => result.map_err(|e| failed(&e)),
            Err(_) => Err(StoreError::Timeout(CALL_TIMEOUT)),
        };
        if result.is_err() {
            self.link.failed();
        }
        result
    }

    /// How long a session may stay unused: the idle timeout, but never past its end.
    fn ttl_for(&self, session: &Session) -> u64 {
        let left = session
            .expires_at
            .saturating_mul(1000)
            .saturating_sub(self.clock.now_ms());
        self.idle_ms.min(left).max(1)
    }

    fn seal(&self, key: &str, session: &Session) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(session).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.sealer
            .seal(key.as_bytes(), &json)
            .ok_or(StoreError::Config("no cookie secret to seal sessions with"))
    }

    /// A live session; its idle timer restarts in the same round trip.
    pub async fn get(&self, id: &SessionId) -> Result<Option<Arc<Session>>, StoreError> {
        let key = self.session_key(id);
        let idle = self.idle_ms;
        let k = key.clone();
        let sealed: Option<Vec<u8>> = self
            .call(|mut c| async move {
                redis::cmd("GETEX")
                    .arg(&k)
                    .arg("PX")
                    .arg(idle)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        // Tampered, or sealed with a retired secret: not a session.
        let Some(session) = self
            .sealer
            .open(key.as_bytes(), &sealed)
            .and_then(|json| serde_json::from_slice::<Session>(&json).ok())
        else {
            return Ok(None);
        };
        let left = self.ttl_for(&session);
        if session.expires_at <= self.clock.now() {
            self.del(key).await?;
            return Ok(None);
        }
        if left < idle {
            // The last idle period of its life: the key must not outlive the session.
            self.call(|mut c| async move {
                redis::cmd("PEXPIRE")
                    .arg(&key)
                    .arg(left)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await?;
        }
        Ok(Some(Arc::new(session)))
    }

    /// Stores a new session; the user's oldest sessions beyond the cap end.
    /// Steps, each on one slot: the session; its hash into the user's set;
    /// then the set's members whose session is gone leave it, and the oldest
    /// live ones beyond the cap end.
    pub async fn insert(&self, id: SessionId, session: Session) -> Result<(), StoreError> {
        let key = self.session_key(&id);
        let value = self.seal(&key, &session)?;
        let user = self.keys.user(&session.identity.sub);
        let ttl = self.ttl_for(&session);
        let member = hashed(id.expose());
        let (keys, cap, set_ttl) = (self.keys.clone(), self.max_per_user, self.ttl_ms);
        self.call(|mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut c)
                .await?;
            let members: Vec<String> = redis::cmd("EVAL")
                .arg(INDEX)
                .arg(1)
                .arg(&user)
                .arg(&member)
                .arg(set_ttl)
                .query_async(&mut c)
                .await?;
            enforce_cap(&mut c, &keys, &user, members, cap).await
        })
        .await?;
        match &session.sid {
            Some(sid) => {
                self.index_sid(&session.provider, sid, hashed(id.expose()))
                    .await
            }
            None => Ok(()),
        }
    }

    /// Adds a session (its hashed id) to its IdP session's set (one key).
    async fn index_sid(&self, provider: &str, sid: &str, member: String) -> Result<(), StoreError> {
        let (key, ttl) = (self.keys.sid(provider, sid), self.ttl_ms);
        self.call(|mut c| async move {
            redis::cmd("SADD")
                .arg(&key)
                .arg(member)
                .query_async::<()>(&mut c)
                .await?;
            redis::cmd("PEXPIRE")
                .arg(&key)
                .arg(ttl)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    /// Ends every session the IdP session `sid` of `provider` signed in.
    pub async fn end_sid(&self, provider: &str, sid: &str) -> Result<usize, StoreError> {
        let (key, keys) = (self.keys.sid(provider, sid), self.keys.clone());
        self.call(|mut c| async move {
            let members: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query_async(&mut c).await?;
            let sessions = members.iter().map(|m| keys.session(m)).collect();
            let deleted: Vec<i64> = each_key(&c, "DEL", sessions).await?;
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut c)
                .await?;
            Ok(deleted.into_iter().filter(|n| *n > 0).count())
        })
        .await
    }

    /// Ends every session of `sub` that `provider` signed in: the per-user set
    /// holds every provider's sessions of that `sub`, so each is opened to check.
    pub async fn end_sub(&self, provider: &str, sub: &str) -> Result<usize, StoreError> {
        let (user, keys) = (self.keys.user(sub), self.keys.clone());
        let sessions: Vec<String> = self
            .call(|mut c| async move {
                let members: Vec<String> = redis::cmd("ZRANGE")
                    .arg(&user)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await?;
                Ok(members.iter().map(|m| keys.session(m)).collect())
            })
            .await?;
        let keys = sessions.clone();
        let sealed: Vec<Option<Vec<u8>>> = self
            .call(|c| async move { each_key(&c, "GET", keys).await })
            .await?;
        let doomed: Vec<String> = sessions
            .into_iter()
            .zip(sealed)
            .filter(|(key, sealed)| {
                sealed
                    .as_ref()
                    .and_then(|sealed| self.sealer.open(key.as_bytes(), sealed))
                    .and_then(|json| serde_json::from_slice::<Session>(&json).ok())
                    .is_some_and(|s| s.provider == provider && s.identity.sub == sub)
            })
            .map(|(key, _)| key)
            .collect();
        let deleted: Vec<i64> = self
            .call(|c| async move { each_key(&c, "DEL", doomed).await })
            .await?;
        Ok(deleted.into_iter().filter(|n| *n > 0).count())
    }

    /// True the first time `value` is offered within `ttl`, on any replica.
    pub async fn first_use(&self, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.set_once(self.keys.seen(value), millis(ttl)).await
    }

    /// `SET key 1 NX PX ms`: true when this call created the key, which then
    /// expires by itself.
    async fn set_once(&self, key: String, ms: u64) -> Result<bool, StoreError> {
        let set: Option<String> = self
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    /// New content for a live session (refresh); its TTL stays, and a session
    /// that ended meanwhile stays ended (`XX`).
    pub async fn replace(&self, id: &SessionId, session: Session) -> Result<(), StoreError> {
        let key = self.session_key(id);
        let value = self.seal(&key, &session)?;
        self.call(|mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("XX")
                .arg("KEEPTTL")
                .query_async::<Option<String>>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    pub async fn remove(&self, id: &SessionId) -> Result<(), StoreError> {
        self.del(self.session_key(id)).await
    }

    async fn del(&self, key: String) -> Result<(), StoreError> {
        self.call(
            |mut c| async move { redis::cmd("DEL").arg(&key).query_async::<i64>(&mut c).await },
        )
        .await
        .map(|_| ())
    }

    /// Sessions of this prefix, all replicas together (SCAN on every master,
    /// so O(n) at scrape time).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let pattern = self.keys.sessions_pattern();
        self.call(|c| async move { scan::count(c, &pattern).await })
            .await
    }

    /// Whether this replica may refresh the session now: one at a time across
    /// all replicas. The lock expires by itself, which doubles as the back-off
    /// after a failed refresh.
    pub async fn lock_refresh(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.set_once(self.lock_key(id), REFRESH_LOCK_MS).await
    }

    /// Whether Redis answers a `PING` (within the call timeout).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(connect::ping).await
    }

    pub async fn unlock_refresh(&self, id: &SessionId) -> Result<(), StoreError> {
        self.del(self.lock_key(id)).await
    }
}

/// Drops the set's members whose session ended, then ends the oldest live
/// sessions beyond `cap`. Each command names one key.
async fn enforce_cap(
    c: &mut Conn,
    keys: &Keys,
    user: &str,
    members: Vec<String>,
    cap: usize,
) -> redis::RedisResult<()> {
    let sessions = members.iter().map(|m| keys.session(m)).collect();
    let alive: Vec<bool> = each_key(c, "EXISTS", sessions).await?;
    let (live, gone): (Vec<_>, Vec<_>) = members.into_iter().zip(alive).partition(|(_, a)| *a);
    let live: Vec<String> = live.into_iter().map(|(m, _)| m).collect();
    let doomed = &live[..live.len().saturating_sub(cap)];
    let ended = doomed.iter().map(|m| keys.session(m)).collect();
    each_key::<()>(c, "DEL", ended).await?;
    let leaving: Vec<&String> = gone.iter().map(|(m, _)| m).chain(doomed).collect();
    if leaving.is_empty() {
        return Ok(());
    }
    redis::cmd("ZREM")
        .arg(user)
        .arg(leaving)
        .query_async(c)
        .await
}

/// `command KEY` for each key at once, answers in order. Each names one key,
/// so a cluster sends each to its own slot's node.
async fn each_key<T>(
    c: &Conn,
    command: &'static str,
    keys: Vec<String>,
) -> redis::RedisResult<Vec<T>>
where
    T: redis::FromRedisValue + Send + 'static,
{
    let mut calls = tokio::task::JoinSet::new();
    for (i, key) in keys.into_iter().enumerate() {
        let mut c = c.clone();
        calls.spawn(async move {
            (
                i,
                redis::cmd(command).arg(key).query_async::<T>(&mut c).await,
            )
        });
    }
    let mut answers: Vec<(usize, T)> = Vec::with_capacity(calls.len());
    while let Some(joined) = calls.join_next().await {
        let (i, answer) = joined.map_err(std::io::Error::other)?;
        answers.push((i, answer?));
    }
    answers.sort_by_key(|(i, _)| *i);
    Ok(answers.into_iter().map(|(_, a)| a).collect())
}
