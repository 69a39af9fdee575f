//! Serving one accepted connection, and closing the ones that do nothing.
//!
//! hyper bounds reading a request's headers once they start, but not the wait
//! for a first byte, nor an HTTP/2 connection that never opens a stream: such
//! sockets would hold a `max-connections` permit for ever, and a few thousand
//! of them lock everyone out. So a connection that has had no request in
//! flight for a while is shut down gracefully (HTTP/2 gets a GOAWAY; a
//! response being written is finished first): `client-header-timeout` before
//! its first request, `idle-timeout` between requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep};

/// The idle limits of one connection.
#[derive(Clone, Copy)]
pub(super) struct IdleLimits {
    /// Until the first request arrives.
    pub first_request: Duration,
    /// Between requests.
    pub between_requests: Duration,
}

/// Requests in flight on one connection, and when the last one ended.
#[derive(Default)]
pub(super) struct Activity {
    in_flight: AtomicUsize,
    /// `None` until the first request; then when the last request ended.
    last_end: Mutex<Option<Instant>>,
}

/// Marks one request in flight until dropped.
pub(super) struct InFlight(Arc<Activity>);

impl Activity {
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// When the connection counts as idle for too long, or `None` while a
    /// request is in flight.
    fn deadline(&self, opened: Instant, limits: IdleLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last_end = *self.last_end.lock().unwrap_or_else(|e| e.into_inner());
        Some(match last_end {
            None => opened + limits.first_request,
            Some(end) => end + limits.between_requests,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_end.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Drives a connection to its end; `shutdown` asks it to finish gracefully
/// when it has been idle past its limits or the server stops. `_open` is
/// dropped with it, so the accept loop can wait for every connection at
/// shutdown. (A plain `Future`, not an `async fn`: hyper's connection types
/// trip the compiler's `Send` check inside a generic `async fn`.)
pub(super) struct Guarded<C, F> {
    conn: Pin<Box<C>>,
    shutdown: F,
    activity: Arc<Activity>,
    limits: IdleLimits,
    opened: Instant,
    sleep: Pin<Box<Sleep>>,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    closing: bool,
    _open: mpsc::Sender<()>,
}

impl<C, F> Guarded<C, F> {
    pub(super) fn new(
        conn: C,
        shutdown: F,
        activity: Arc<Activity>,
        limits: IdleLimits,
        mut stopped: watch::Receiver<bool>,
        open: mpsc::Sender<()>,
    ) -> Self {
        let opened = Instant::now();
        Self {
            conn: Box::pin(conn),
            shutdown,
            activity,
            limits,
            opened,
            sleep: Box::pin(tokio::time::sleep_until(opened + limits.first_request)),
            stop: Box::pin(async move {
                let _ = stopped.changed().await;
            }),
            closing: false,
            _open: open,
        }
    }

    /// Whether the connection should close now; else arms the timer for the
    /// next look (after the shorter limit while a request is in flight).
    fn idle_past_limit(&mut self, now: Instant) -> bool {
        match self.activity.deadline(self.opened, self.limits) {
            Some(deadline) if deadline <= now => true,
            Some(deadline) => {
                self.sleep.as_mut().reset(deadline);
                false
            }
            None => {
                self.sleep.as_mut().reset(now + self.limits.first_request);
                false
            }
        }
    }
}

impl<C, F> Future for Guarded<C, F>
where
    C: Future,
    F: Fn(Pin<&mut C>) + Unpin,
{
    type Output = C::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = &mut *self;
        if let Poll::Ready(output) = this.conn.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if this.closing {
            return Poll::Pending;
        }
        let mut close = this.stop.as_mut().poll(cx).is_ready();
        while !close && this.sleep.as_mut().poll(cx).is_ready() {
            close = this.idle_past_limit(Instant::now());
            if close {
                tracing::debug!("closing a connection idle past its limit");
            }
        }
        if !close {
            return Poll::Pending;
        }
        this.closing = true;
        (this.shutdown)(this.conn.as_mut());
        this.conn.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_follows_requests() {
        let limits = IdleLimits {
            first_request: Duration::from_secs(10),
            between_requests: Duration::from_secs(60),
        };
        let opened = Instant::now();
        let activity = Arc::new(Activity::default());
        assert_eq!(
            activity.deadline(opened, limits),
            Some(opened + limits.first_request)
        );
        let request = activity.begin();
        assert_eq!(activity.deadline(opened, limits), None);
        drop(request);
        let d = activity.deadline(opened, limits).unwrap();
        assert!(d >= opened + limits.between_requests);
    }
}
