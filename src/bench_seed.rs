//! Bench builds only (`cargo build --release --features bench-seed`; release
//! builds lack this module): mints N sessions at start-up and writes their
//! sealed cookie values to a file, so `bench/run.sh` can measure memory and
//! throughput at a million sessions without a million sign-ins.
//!
//! `SIDECAR_BENCH_SEED=N` and `SIDECAR_BENCH_SEED_FILE=PATH`, both or neither.
//! Each session is what a Cognito sign-in leaves: its own user (`sub`, email,
//! name, username, one group) and Cognito-sized tokens of distinct random bytes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use crate::clock::Clock;
use crate::identity::Identity;
use crate::secret::Secret;
use crate::server::AppState;
use crate::session::{Session, SessionId};
use crate::tokens::TokenSet;

/// Token lengths as Cognito issues them (ID token with profile claims and two
/// groups, access token, JWE refresh token), in bytes.
pub const ID_TOKEN_LEN: usize = 1150;
pub const ACCESS_TOKEN_LEN: usize = 1050;
pub const REFRESH_TOKEN_LEN: usize = 1780;

/// Seeds when `SIDECAR_BENCH_SEED` is set; otherwise does nothing.
pub async fn from_env(state: &AppState) -> anyhow::Result<()> {
    let (Ok(n), Ok(file)) = (
        std::env::var("SIDECAR_BENCH_SEED"),
        std::env::var("SIDECAR_BENCH_SEED_FILE"),
    ) else {
        return Ok(());
    };
    let n: usize = n.parse().context("SIDECAR_BENCH_SEED must be a count")?;
    seed(state, n, Path::new(&file)).await
}

/// Mints `n` sessions and writes one sealed session-cookie value per line to
/// `out` (written beside it, then renamed, so a reader never sees half a file).
pub async fn seed(state: &AppState, n: usize, out: &Path) -> anyhow::Result<()> {
    let (flow, sessions) = (&state.flow, &state.sessions);
    let started = Instant::now();
    let name = flow.cookies().name("");
    let mut lines = Vec::with_capacity(n * 100);
    for i in 0..n {
        let id = SessionId::generate();
        let sealed = flow
            .cookies()
            .seal(&name, id.expose())
            .context("no cookie key to seal with")?;
        sessions
            .insert(id, session(i))
            .await
            .context("storing a seeded session")?;
        lines.extend_from_slice(sealed.as_bytes());
        lines.push(b'\n');
    }
    let tmp = PathBuf::from(format!("{}.tmp", out.display()));
    std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&lines))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    tracing::warn!(
        sessions = n,
        seconds = started.elapsed().as_secs_f64(),
        "bench-seed: sessions minted (bench build only)"
    );
    Ok(())
}

/// Random base64url text of exactly `len` bytes, dotted like a compact JWT.
fn token(len: usize) -> Secret<String> {
    let mut raw = vec![0u8; len * 3 / 4 + 3];
    rand::rng().fill_bytes(&mut raw);
    let mut text = URL_SAFE_NO_PAD.encode(&raw);
    text.truncate(len);
    // Header.payload.signature, as Cognito's JWTs are shaped.
    for at in [len / 10, len * 2 / 3] {
        if at < text.len() {
            text.replace_range(at..=at, ".");
        }
    }
    Secret::new(text)
}

/// The `i`-th seeded session: its own user, so the per-user cap never bites.
fn session(i: usize) -> Session {
    let at = Clock::default().now();
    Session {
        identity: Identity {
            sub: uuid::Uuid::new_v4().to_string(),
            email: Some(format!("user{i}@example.com")),
            email_verified: true,
            name: format!("Bench User {i}"),
            username: format!("user{i}"),
            groups: vec!["bench".to_string()],
            ..Default::default()
        },
        tokens: TokenSet {
            id_token: token(ID_TOKEN_LEN),
            access_token: token(ACCESS_TOKEN_LEN),
            refresh_token: Some(token(REFRESH_TOKEN_LEN)),
            expires_in: Some(3600),
        },
        created_at: at,
        tokens_at: at,
        expires_at: at + 12 * 3600,
        id_token_expires_at: at + 3600,
        provider: crate::config::DEFAULT_PROVIDER.into(),
        userinfo: None,
        sid: None,
        encoded: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_cognito_sized_and_distinct() {
        let (a, b) = (token(ID_TOKEN_LEN), token(ID_TOKEN_LEN));
        assert_eq!(a.expose().len(), ID_TOKEN_LEN);
        assert_eq!(a.expose().matches('.').count(), 2);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(token(REFRESH_TOKEN_LEN).expose().len(), REFRESH_TOKEN_LEN);
    }

    #[test]
    fn each_session_is_its_own_user() {
        let (a, b) = (session(1), session(2));
        assert_ne!(a.identity.sub, b.identity.sub);
        assert_ne!(a.identity.username, b.identity.username);
        assert!(a.expires_at > a.id_token_expires_at);
    }
}
