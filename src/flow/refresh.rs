//! Keeping sessions fresh: when the ID token nears expiry, or the tokens are
//! older than `session-refresh-interval`, they are refreshed in the background,
//! once per session at a time, so no request waits on the IdP. The interval
//! bounds how long a refresh token revoked at the IdP (Cognito's global
//! sign-out, which has no back-channel logout) keeps a session alive here. Only an answer that the grant is dead ends the session; an IdP
//! that is down or slow leaves it working on its current claims.
//!
//! Once per session across replicas too: a shared store hands out a lock, and
//! the session is read again under it, so a refresh another replica finished
//! meanwhile is not repeated (a rotating refresh token used twice is dead).

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::clock::Clock;
use crate::identity::{Identity, UserInfoClaims};
use crate::provider::{Provider, ProviderError, Providers, SignIn};
use crate::session::{Session, SessionId, SessionStore};

/// After an attempt, the same session is not refreshed again for this long.
const RETRY_AFTER: Duration = Duration::from_secs(15);
/// Refresh at most this long before the ID token expires.
const MAX_MARGIN_SECS: u64 = 300;

#[derive(Clone)]
pub struct Refresher {
    providers: Providers,
    sessions: SessionStore,
    /// Sessions with a refresh in flight or recently tried: the single-flight guard.
    attempts: Cache<SessionId, ()>,
    /// `session-refresh-interval`, in seconds.
    interval_secs: u64,
    /// `alb-headers`: read userInfo again with the new tokens.
    read_userinfo: bool,
    clock: Clock,
}

/// Whether the session's tokens should be refreshed now: in the last quarter of
/// the ID token's life (at most five minutes before expiry), after it, or once
/// they are `interval_secs` old.
pub fn due(session: &Session, at: u64, interval_secs: u64) -> bool {
    if session.tokens.refresh_token.is_none() {
        return false;
    }
    let lifetime = session
        .id_token_expires_at
        .saturating_sub(session.tokens_at);
    let margin = (lifetime / 4).min(MAX_MARGIN_SECS);
    at + margin >= session.id_token_expires_at
        || at >= session.tokens_at.saturating_add(interval_secs)
}

impl Refresher {
    pub fn new(
        providers: Providers,
        sessions: SessionStore,
        interval: Duration,
        read_userinfo: bool,
        clock: Clock,
    ) -> Self {
        let attempts = Cache::builder()
            .max_capacity(1_000_000)
            .time_to_live(RETRY_AFTER)
            .build();
        Self {
            providers,
            sessions,
            attempts,
            interval_secs: interval.as_secs().max(1),
            read_userinfo,
            clock,
        }
    }

    /// Starts a refresh for this session unless one ran recently.
    pub async fn refresh_if_due(&self, id: &SessionId, session: &Arc<Session>) {
        if !due(session, self.clock.now(), self.interval_secs) {
            return;
        }
        // `or_insert_with` coalesces racing callers (plain `or_insert` is a
        // get then an insert): exactly one of them sees a fresh entry.
        let entry = self
            .attempts
            .entry(id.clone())
            .or_insert_with(async {})
            .await;
        if !entry.is_fresh() {
            return;
        }
        let this = self.clone();
        let id = id.clone();
        tokio::spawn(async move { this.refresh_locked(id).await });
    }

    /// Under the store's lock, with the session as it is now.
    async fn refresh_locked(&self, id: SessionId) {
        match self.sessions.lock_refresh(&id).await {
            Ok(true) => {}
            Ok(false) => return, // another replica is refreshing it
            Err(error) => {
                tracing::warn!(%error, "refresh skipped: the session store is unavailable");
                return;
            }
        }
        let current = match self.sessions.get(&id).await {
            Ok(Some(current)) if due(&current, self.clock.now(), self.interval_secs) => current,
            // Signed out, or refreshed by another replica meanwhile.
            Ok(_) => return self.unlock(&id).await,
            Err(error) => {
                tracing::warn!(%error, "refresh skipped: the session store is unavailable");
                return;
            }
        };
        self.refresh(id, current).await;
    }

    async fn unlock(&self, id: &SessionId) {
        if let Err(error) = self.sessions.unlock_refresh(id).await {
            tracing::debug!(%error, "refresh lock left to expire");
        }
    }

    async fn refresh(&self, id: SessionId, session: Arc<Session>) {
        let Some(refresh_token) = session.tokens.refresh_token.as_ref() else {
            return;
        };
        let Some(provider) = self.providers.named(&session.provider) else {
            return;
        };
        match provider.refresh(refresh_token).await {
            Ok(fresh) if !same_subject(&session.identity, &fresh.identity) => {
                // OIDC Core 12.2: a refreshed ID token names the same subject
                // and issuer. Another one is not this user: end the session
                // rather than switch it.
                tracing::warn!(
                    sub = %session.identity.sub,
                    "refresh answered for another subject: the session ends"
                );
                if let Err(error) = self.sessions.remove(&id).await {
                    tracing::warn!(%error, "the ended session could not be removed");
                }
            }
            Ok(fresh) => {
                // Signed out meanwhile, newer tokens stored (a lock that
                // expired mid-grant), or the store is down: keep what is there.
                match self.sessions.get(&id).await {
                    Ok(Some(latest)) if latest.tokens_at <= session.tokens_at => {}
                    _ => return,
                }
                let userinfo = match self.read_userinfo {
                    true => fresh_userinfo(provider, &fresh, &session).await,
                    false => None,
                };
                let updated = Session {
                    identity: fresh.identity,
                    tokens: fresh.tokens,
                    tokens_at: self.clock.now(),
                    id_token_expires_at: fresh.id_token_expires_at,
                    userinfo,
                    ..(*session).clone()
                };
                tracing::info!(sub = %updated.identity.sub, "session refreshed");
                if let Err(error) = self.sessions.replace(&id, updated).await {
                    tracing::warn!(%error, "the refreshed session could not be stored");
                    return;
                }
                // The back-off is for failures: the next expiry may refresh at once.
                self.attempts.invalidate(&id).await;
                self.unlock(&id).await;
            }
            Err(ProviderError::Refused(code))
                if code == "invalid_grant" || code == "invalid_client" =>
            {
                tracing::info!(sub = %session.identity.sub, %code, "refresh refused: the session ends");
                if let Err(error) = self.sessions.remove(&id).await {
                    tracing::warn!(%error, "the ended session could not be removed");
                }
            }
            Err(error) => {
                tracing::warn!(sub = %session.identity.sub, %error, "refresh failed; keeping the session, will retry");
            }
        }
    }
}

/// Same `sub`, and the same issuer (unknown in sessions stored before the
/// identity named it; `verify` checks it is the provider's own anyway).
fn same_subject(session: &Identity, fresh: &Identity) -> bool {
    session.sub == fresh.sub && (session.issuer.is_empty() || session.issuer == fresh.issuer)
}

/// userInfo for the refreshed tokens; when it fails, the claims read before
/// stay (they rarely change, and the new tokens are good).
async fn fresh_userinfo(
    provider: &Provider,
    fresh: &SignIn,
    session: &Session,
) -> Option<UserInfoClaims> {
    match provider.userinfo(&fresh.tokens, &fresh.identity.sub).await {
        Ok(claims) => Some(claims),
        Err(error) => {
            tracing::warn!(sub = %fresh.identity.sub, %error, "userinfo after refresh failed; keeping the claims read before");
            session.userinfo.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::tokens::TokenSet;

    fn session(tokens_at: u64, expires: u64, refresh: bool) -> Session {
        Session {
            identity: Identity {
                sub: "s".into(),
                email: None,
                email_verified: false,
                name: "n".into(),
                username: "u".into(),
                groups: vec![],
                ..Default::default()
            },
            tokens: TokenSet {
                id_token: Secret::new("i".into()),
                access_token: Secret::new("a".into()),
                refresh_token: refresh.then(|| Secret::new("r".into())),
                expires_in: None,
            },
            created_at: tokens_at,
            tokens_at,
            expires_at: u64::MAX,
            id_token_expires_at: expires,
            provider: "default".into(),
            sid: None,
            userinfo: None,
            encoded: Default::default(),
        }
    }

    const DAY: u64 = 86_400;

    #[test]
    fn due_in_the_last_quarter_capped_at_five_minutes() {
        let s = session(1000, 1000 + 3600, true);
        assert!(!due(&s, 1000 + 3600 - 301, DAY));
        assert!(due(&s, 1000 + 3600 - 300, DAY));
        assert!(due(&s, 1000 + 4000, DAY));
        let short = session(1000, 1008, true);
        assert!(!due(&short, 1005, DAY));
        assert!(due(&short, 1006, DAY));
        assert!(
            !due(&session(1000, 1008, false), 2000, DAY),
            "nothing to refresh with"
        );
    }

    #[test]
    fn a_refresh_must_keep_sub_and_issuer() {
        let who = |sub: &str, issuer: &str| Identity {
            sub: sub.into(),
            issuer: issuer.into(),
            ..Identity::default()
        };
        assert!(same_subject(&who("s", "https://i"), &who("s", "https://i")));
        assert!(!same_subject(
            &who("s", "https://i"),
            &who("t", "https://i")
        ));
        assert!(!same_subject(
            &who("s", "https://i"),
            &who("s", "https://j")
        ));
        assert!(
            same_subject(&who("s", ""), &who("s", "https://i")),
            "an old session"
        );
        assert!(!same_subject(&who("s", ""), &who("t", "https://i")));
    }

    /// A day-long ID token (Cognito allows up to 24 h) would leave a revoked
    /// refresh token unnoticed for most of a day; the interval bounds it.
    #[test]
    fn due_once_the_tokens_are_older_than_the_refresh_interval() {
        let s = session(1000, 1000 + DAY, true);
        assert!(!due(&s, 1000 + 3599, 3600));
        assert!(due(&s, 1000 + 3600, 3600));
        assert!(!due(&session(1000, 1000 + DAY, false), 1000 + 3600, 3600));
    }
}
