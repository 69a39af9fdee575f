//! Everything a request needs, built once from the config.

use std::sync::Arc;

use crate::config::Config;
use crate::flow::Flow;
use crate::provider::{Provider, ProviderError};
use crate::proxy::Upstream;
use crate::session::SessionStore;

pub struct AppState {
    pub config: Config,
    pub flow: Flow,
    pub upstream: Upstream,
    /// The path the IdP redirects back to (from `redirect-url`).
    pub callback_path: String,
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<Self>, ProviderError> {
        let provider = Provider::new(&config)?;
        let sessions = SessionStore::new(&config.session);
        let flow = Flow::new(&config, provider, sessions);
        let upstream = Upstream::new(&config);
        let callback_path = config.provider.redirect_url.path().to_string();
        Ok(Arc::new(Self {
            config,
            flow,
            upstream,
            callback_path,
        }))
    }

    pub fn is_ready(&self) -> bool {
        self.flow.provider().is_ready()
    }
}
