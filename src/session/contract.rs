//! What every session backend promises, as one executable check: the memory
//! store's unit tests and `tests/it/redis_sessions.rs` (a real redis-server) run
//! it. It reports the first broken promise instead of panicking, so it can live
//! in the library for both.

use std::time::Duration;

use super::{Session, SessionId, SessionStore};
use crate::clock::Clock;
use crate::config::{SessionBackend, SessionConfig};

/// The time the contract dates its sessions by: a store under test runs on
/// the system's clock.
pub fn now() -> u64 {
    Clock::default().now()
}

/// The settings a store under test must be built with: a 1 s idle timeout and
/// three sessions per user.
pub fn config() -> SessionConfig {
    SessionConfig {
        ttl: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(1),
        refresh_interval: Duration::from_secs(3600),
        max_bytes: 10_000_000,
        max_per_user: 3,
        backend: SessionBackend::Memory,
    }
}

/// A session of `sub` ending at `expires_at` (unix seconds), with token texts
/// that name the user.
pub fn session(sub: &str, expires_at: u64) -> Result<Session, String> {
    let value = serde_json::json!({
        "identity": {"sub": sub, "email": null, "name": "n", "username": sub, "groups": []},
        "tokens": {
            "id_token": format!("id-token-of-{sub}"),
            "access_token": format!("access-token-of-{sub}"),
            "refresh_token": format!("refresh-token-of-{sub}"),
            "expires_in": null,
        },
        "created_at": now(), "tokens_at": now(),
        "expires_at": expires_at, "id_token_expires_at": expires_at,
    });
    serde_json::from_value(value).map_err(|e| format!("test session: {e}"))
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

async fn sub_of(store: &SessionStore, id: &SessionId) -> Result<Option<String>, String> {
    let found = store.get(id).await.map_err(|e| e.to_string())?;
    Ok(found.map(|s| s.identity.sub.clone()))
}

/// Runs every promise against `store`, which must be empty and built with
/// [`config`]. Takes about three seconds (idle expiry is real time).
pub async fn contract(store: &SessionStore) -> Result<(), String> {
    put_get_replace_delete(store).await?;
    absolute_expiry(store).await?;
    per_user_cap(store).await?;
    logout_by_sid_and_sub(store).await?;
    first_use(store).await?;
    idle_expiry(store).await
}

async fn put_get_replace_delete(store: &SessionStore) -> Result<(), String> {
    let err = |e: super::StoreError| e.to_string();
    check(
        store.count().await.map_err(err)? == 0,
        "a new store is empty",
    )?;
    let id = SessionId::generate();
    check(sub_of(store, &id).await?.is_none(), "an unknown id is None")?;
    store
        .insert(id.clone(), session("alice", now() + 60)?)
        .await
        .map_err(err)?;
    let got = store
        .get(&id)
        .await
        .map_err(err)?
        .ok_or("inserted, then gone")?;
    check(
        got.identity.sub == "alice" && got.tokens.id_token.expose() == "id-token-of-alice",
        "get returns what was inserted",
    )?;
    check(store.count().await.map_err(err)? == 1, "count is 1")?;
    let mut changed = session("alice", now() + 60)?;
    changed.identity.groups = vec!["refreshed".into()];
    store.replace(&id, changed.clone()).await.map_err(err)?;
    let got = store
        .get(&id)
        .await
        .map_err(err)?
        .ok_or("replaced, then gone")?;
    check(
        got.identity.groups == ["refreshed"],
        "replace changes the content",
    )?;
    let unknown = SessionId::generate();
    store.replace(&unknown, changed).await.map_err(err)?;
    check(
        sub_of(store, &unknown).await?.is_none(),
        "replace never creates",
    )?;
    store.remove(&id).await.map_err(err)?;
    store.remove(&unknown).await.map_err(err)?;
    check(sub_of(store, &id).await?.is_none(), "removed is gone")?;
    check(store.count().await.map_err(err)? == 0, "count is 0 again")
}

async fn absolute_expiry(store: &SessionStore) -> Result<(), String> {
    let id = SessionId::generate();
    let ended = session("alice", now().saturating_sub(1))?;
    store
        .insert(id.clone(), ended)
        .await
        .map_err(|e| e.to_string())?;
    check(
        sub_of(store, &id).await?.is_none(),
        "past expires_at is gone",
    )
}

async fn per_user_cap(store: &SessionStore) -> Result<(), String> {
    let later = now() + 60;
    let other = SessionId::generate();
    let put = |id: SessionId, sub: &'static str| async move {
        let s = session(sub, later)?;
        store.insert(id, s).await.map_err(|e| e.to_string())
    };
    put(other.clone(), "bob").await?;
    let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate()).collect();
    for id in &ids {
        put(id.clone(), "greedy").await?;
    }
    for (i, id) in ids.iter().enumerate() {
        let live = sub_of(store, id).await?.is_some();
        check(live == (i >= 2), "the cap keeps the newest three")?;
    }
    check(
        sub_of(store, &other).await?.as_deref() == Some("bob"),
        "another user's session survives the cap",
    )
}

/// A session of `sub` signed in by `provider` in the IdP session `sid`.
async fn put_session(
    store: &SessionStore,
    sub: &str,
    provider: &str,
    sid: Option<&str>,
) -> Result<SessionId, String> {
    let mut s = session(sub, now() + 60)?;
    s.provider = provider.to_string();
    s.sid = sid.map(str::to_string);
    let id = SessionId::generate();
    store
        .insert(id.clone(), s)
        .await
        .map_err(|e| e.to_string())?;
    Ok(id)
}

async fn live(store: &SessionStore, ids: &[&SessionId]) -> Result<Vec<bool>, String> {
    let mut out = Vec::new();
    for id in ids {
        out.push(sub_of(store, id).await?.is_some());
    }
    Ok(out)
}

/// Back-channel logout: an IdP session ends exactly the sessions it signed in
/// at that provider; a `sub` ends that user's sessions at that provider only.
async fn logout_by_sid_and_sub(store: &SessionStore) -> Result<(), String> {
    let err = |e: super::StoreError| e.to_string();
    let laptop = put_session(store, "dora", "default", Some("idp-1")).await?;
    let phone = put_session(store, "dora", "default", Some("idp-1")).await?;
    let tablet = put_session(store, "dora", "default", Some("idp-2")).await?;
    let same_sid_elsewhere = put_session(store, "fay", "other", Some("idp-1")).await?;
    let ended = store.end_sid("default", "idp-1").await.map_err(err)?;
    check(ended == 2, "end_sid counts the sessions it ended")?;
    check(
        live(store, &[&laptop, &phone, &tablet, &same_sid_elsewhere]).await?
            == [false, false, true, true],
        "end_sid ends that IdP session's sessions at that provider only",
    )?;
    check(
        store.end_sid("default", "idp-1").await.map_err(err)? == 0,
        "ending an ended IdP session is a no-op",
    )?;
    let same_sub_elsewhere = put_session(store, "dora", "other", None).await?;
    let other_user = put_session(store, "erin", "default", None).await?;
    let ended = store.end_sub("default", "dora").await.map_err(err)?;
    check(ended == 1, "end_sub counts the sessions it ended")?;
    check(
        live(store, &[&tablet, &same_sub_elsewhere, &other_user]).await? == [false, true, true],
        "end_sub ends that user's sessions at that provider only",
    )?;
    for id in [same_sid_elsewhere, same_sub_elsewhere, other_user] {
        store.remove(&id).await.map_err(err)?;
    }
    Ok(())
}

async fn first_use(store: &SessionStore) -> Result<(), String> {
    let err = |e: super::StoreError| e.to_string();
    let ttl = Duration::from_millis(500);
    check(
        store.first_use("iss\0jti-1", ttl).await.map_err(err)?,
        "a new value is a first use",
    )?;
    check(
        !store.first_use("iss\0jti-1", ttl).await.map_err(err)?,
        "the same value again is not",
    )?;
    check(
        store.first_use("iss\0jti-2", ttl).await.map_err(err)?,
        "another value is",
    )?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    check(
        store.first_use("iss\0jti-1", ttl).await.map_err(err)?,
        "a value is forgotten after its time",
    )
}

async fn idle_expiry(store: &SessionStore) -> Result<(), String> {
    let id = SessionId::generate();
    let s = session("idle", now() + 60)?;
    store
        .insert(id.clone(), s)
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        check(
            sub_of(store, &id).await?.is_some(),
            "reading a session keeps it alive past the idle timeout",
        )?;
    }
    tokio::time::sleep(Duration::from_millis(1400)).await;
    check(
        sub_of(store, &id).await?.is_none(),
        "an unused session ends after the idle timeout",
    )
}
