//! Sessions in Redis, shared by any number of replicas.
//!
//! - Keys never hold a session id: `{prefix}s:{sha256(id)}`. Ids are 256
//!   random bits, so the hash cannot be reversed, and (unlike an HMAC under the
//!   cookie secret) it stays the same when cookie secrets rotate.
//! - Values are the session as JSON, sealed with AES-256-GCM (tokens are
//!   secrets) and bound to their key.
//! - Redis keeps the TTLs: min(idle timeout, absolute end), pushed back on each
//!   read by `GETEX ... PX` in the same round trip.
//! - Per user, a sorted set `{prefix}u:{sha256(sub)}` of hashed ids by creation
//!   time caps the sessions; insert and cap run as one Lua script.
//! - Every call is bounded in time: a Redis outage is an error the caller turns
//!   into a 503, never a hang and never "signed out".

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script, TlsCertificates};
use sha2::{Digest, Sha256};

use super::sealed::Sealer;
use super::{Session, SessionId, StoreError};
use crate::config::SessionConfig;
use crate::secret::Secret;

/// Connecting, and each answer, must come within this.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound of a whole call, reconnect included.
const CALL_TIMEOUT: Duration = Duration::from_millis(2500);
/// A refresh lock outlives any refresh grant (the IdP timeout is far lower).
const REFRESH_LOCK_MS: u64 = 30_000;

/// SET the session, ZADD its hash to the user's set by server time, drop
/// members whose session is gone, then end the oldest beyond the cap.
const INSERT: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[3])
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[5] .. m) == 0 then redis.call('ZREM', KEYS[2], m) end
end
local doomed = redis.call('ZRANGE', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
for _, m in ipairs(doomed) do
  redis.call('DEL', ARGV[5] .. m)
  redis.call('ZREM', KEYS[2], m)
end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return #doomed
";

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    idle_ms: u64,
    ttl_ms: u64,
    max_per_user: usize,
    sealer: Arc<Sealer>,
    insert: Arc<Script>,
}

/// Lower-case hex SHA-256: how ids and subs appear in keys.
fn hashed(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A client for `url`; `rediss://` trusts `ca_file` if given, else the system's roots.
fn client(url: &Secret<String>, ca_file: Option<&Path>) -> Result<Client, StoreError> {
    const BAD_URL: StoreError = StoreError::Config("redis-url is not a usable Redis URL");
    if url.expose().starts_with("rediss:") {
        // The redis crate builds its TLS config from the process default.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let Some(path) = ca_file else {
        return Client::open(url.expose().as_str()).map_err(|_| BAD_URL);
    };
    let pem = std::fs::read(path).map_err(|_| StoreError::Config("redis-ca-file is unreadable"))?;
    let certs = TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    };
    Client::build_with_tls(url.expose().as_str(), certs).map_err(|_| BAD_URL)
}

/// A Redis failure, without the URL (it may hold a password).
fn failed(error: &redis::RedisError) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl RedisStore {
    /// Connects lazily: a Redis that is down at start-up is an error of the
    /// first request, not of the process.
    pub fn new(
        url: &Secret<String>,
        prefix: &str,
        ca_file: Option<&Path>,
        config: &SessionConfig,
        secrets: &[Secret<Vec<u8>>],
    ) -> Result<Self, StoreError> {
        let client = client(url, ca_file)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = client
            .get_connection_manager_lazy(manager)
            .map_err(|e| failed(&e))?;
        let sealer = Sealer::new(secrets);
        if sealer.seal(b"", b"").is_none() {
            return Err(StoreError::Config("no cookie secret to seal sessions with"));
        }
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            idle_ms: millis(config.idle_timeout),
            ttl_ms: millis(config.ttl),
            max_per_user: config.max_per_user.max(1),
            sealer: Arc::new(sealer),
            insert: Arc::new(Script::new(INSERT)),
        })
    }

    fn session_key(&self, id: &SessionId) -> String {
        format!("{}s:{}", self.prefix, hashed(id.expose()))
    }

    fn lock_key(&self, id: &SessionId) -> String {
        format!("{}r:{}", self.prefix, hashed(id.expose()))
    }

    /// Runs one Redis call within [`CALL_TIMEOUT`].
    async fn call<T, F>(&self, op: impl FnOnce(ConnectionManager) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(CALL_TIMEOUT, op(self.conn.clone())).await {
            Ok(result) => result.map_err(|e| failed(&e)),
            Err(_) => Err(StoreError::Timeout(CALL_TIMEOUT)),
        }
    }

    /// How long a session may stay unused: the idle timeout, but never past its end.
    fn ttl_for(&self, session: &Session) -> u64 {
        let left = session
            .expires_at
            .saturating_mul(1000)
            .saturating_sub(now_ms());
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
        if session.expires_at <= super::now() {
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
    pub async fn insert(&self, id: SessionId, session: Session) -> Result<(), StoreError> {
        let key = self.session_key(&id);
        let value = self.seal(&key, &session)?;
        let users = format!("{}u:{}", self.prefix, hashed(&session.identity.sub));
        let ttl = self.ttl_for(&session);
        let member = hashed(id.expose());
        let sessions_prefix = format!("{}s:", self.prefix);
        let (cap, set_ttl) = (self.max_per_user, self.ttl_ms);
        let script = Arc::clone(&self.insert);
        self.call(|mut c| async move {
            script
                .key(&key)
                .key(&users)
                .arg(value)
                .arg(ttl)
                .arg(member)
                .arg(cap)
                .arg(sessions_prefix)
                .arg(set_ttl)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
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

    /// Sessions of this prefix, all replicas together (SCAN, so O(n) at scrape time).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let pattern = format!("{}s:*", self.prefix);
        self.call(|mut c| async move {
            let (mut cursor, mut total) = (0u64, 0u64);
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut c)
                    .await?;
                total += keys.len() as u64;
                if next == 0 {
                    return Ok(total);
                }
                cursor = next;
            }
        })
        .await
    }

    /// Whether this replica may refresh the session now: one at a time across
    /// all replicas. The lock expires by itself, which doubles as the back-off
    /// after a failed refresh.
    pub async fn lock_refresh(&self, id: &SessionId) -> Result<bool, StoreError> {
        let key = self.lock_key(id);
        let set: Option<String> = self
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(REFRESH_LOCK_MS)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    /// Whether Redis answers a `PING` (within the call timeout).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self
            .call(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
            .await?;
        Ok(())
    }

    pub async fn unlock_refresh(&self, id: &SessionId) -> Result<(), StoreError> {
        self.del(self.lock_key(id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_hashes_not_ids() {
        let id = SessionId::generate();
        let h = hashed(id.expose());
        assert_eq!(h.len(), 64);
        assert!(!h.contains(id.expose()));
        assert_eq!(
            hashed("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
