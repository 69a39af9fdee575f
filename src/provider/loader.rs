//! Loading discovery and keys in the background: retried with backoff while it
//! fails, refreshed hourly once it works.

use std::sync::Arc;
use std::time::Duration;

use super::{Provider, ProviderError};

/// Retries of a failed load start here and double, with jitter, up to
/// [`MAX_RETRY`]: a fixed fast rate would hammer an IdP that is down or a URL
/// that will never answer.
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// The next delay after `delay`: doubled, capped, with up to 10% taken off at
/// random so replicas started together do not retry in step.
fn backoff(delay: Duration) -> Duration {
    let doubled = (delay * 2).min(MAX_RETRY);
    let jitter = doubled.mul_f64(rand::random::<f64>() * 0.1);
    doubled - jitter
}

impl Provider {
    /// Loads at start with retries (the sidecar serves meanwhile, `/ready` says
    /// not ready), then refreshes the keys hourly.
    pub fn spawn_loader(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut retry = FIRST_RETRY;
            loop {
                let delay = match this.load().await {
                    Ok(()) => {
                        tracing::info!(provider = %this.name(), issuer = %this.issuer, "identity provider loaded");
                        retry = FIRST_RETRY;
                        Duration::from_secs(3600)
                    }
                    Err(error) => {
                        this.log_load_failure(&error, retry);
                        let delay = if this.is_ready() { MAX_RETRY } else { retry };
                        retry = backoff(retry);
                        delay
                    }
                };
                tokio::time::sleep(delay).await;
            }
        })
    }

    /// A configuration problem at `error` with its URL and setting; a
    /// transient failure at `warn`.
    fn log_load_failure(&self, error: &ProviderError, retry: Duration) {
        let retry_in_s = (retry.as_secs_f64() * 10.0).round() / 10.0;
        match error {
            ProviderError::Misconfigured(p) => tracing::error!(
                provider = %self.name(),
                reason = p.reason,
                url = %p.url,
                setting = p.setting,
                retry_in_s,
                "loading the identity provider failed: {}; check the setting `{}`",
                p.problem,
                p.setting
            ),
            error => tracing::warn!(
                provider = %self.name(),
                %error,
                retry_in_s,
                "loading the identity provider failed"
            ),
        }
    }
}
