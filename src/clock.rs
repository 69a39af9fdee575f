//! The wall-clock time the sidecar reads: the system's, moved only by tests.
//!
//! Every expiry in unix time reads [`Clock::now`]: the sidecar's own
//! (sessions, sign-in cookies, refresh due dates, the identity and ALB tokens
//! it signs and the ALB token's re-signing, the sign-in loop counter) and the
//! IdP's tokens (`exp`/`iat`/`nbf` of ID, bearer and logout tokens, checked in
//! `provider::verify` with jsonwebtoken's own time checks off). So an
//! integration test jumps past any expiry with [`Clock::advance`] instead of
//! sleeping through it. Not reached: Redis's own key expiry (its server's
//! clock) and the in-process caches' time-to-live (moka, monotonic: the memory
//! store's bound, the logout tokens' `jti` replay guard, the refresh back-off).
//! Durations measured on the monotonic clock (timeouts, back-off, rate limits)
//! stay on `Instant`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// System time plus an offset that starts at zero. Clones share the offset,
/// so a test holding one moves every part of the sidecar built with it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Unix time in seconds.
    pub fn now(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// Unix time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        let ns = self.now_ns() / 1_000_000;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Unix time in nanoseconds.
    pub fn now_ns(&self) -> u128 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let offset = i128::from(self.offset_ms.load(Ordering::Relaxed)) * 1_000_000;
        u128::try_from(
            i128::try_from(real)
                .unwrap_or(i128::MAX)
                .saturating_add(offset),
        )
        .unwrap_or(0)
    }

    /// How far ahead of the system's time this clock is.
    pub fn offset(&self) -> Duration {
        let ms = self.offset_ms.load(Ordering::Relaxed);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// Moves this clock (and every clone of it) `by` into the future.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_system_time_and_clones_move_together() {
        let clock = Clock::default();
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert!(clock.now().abs_diff(system) <= 1);
        let clone = clock.clone();
        clone.advance(Duration::from_secs(3600));
        assert!(clock.now().abs_diff(system + 3600) <= 1);
        assert_eq!(clock.now_ms() / 1000, clock.now());
    }
}
