//! Everything a request needs, built once from the config.

use std::sync::Arc;

use crate::config::Config;
use crate::flow::Flow;
use crate::identity_jwt::IdentitySigner;
use crate::provider::Providers;
use crate::proxy::alb::AlbSigner;
use crate::proxy::Upstream;
use crate::session::SessionStore;

pub struct AppState {
    pub config: Config,
    /// Sign-in, sessions of requests, the one decision per request.
    pub flow: Flow,
    /// For readiness and start-up (the flow holds its own handles).
    pub providers: Providers,
    /// For readiness, the sessions gauge and bench seeding.
    pub sessions: SessionStore,
    pub upstream: Upstream,
    /// Signs the identity header and serves the JWKS; `None` when `identity-jwt` is off.
    pub signer: Option<Arc<IdentitySigner>>,
    /// Signs ALB's `x-amzn-oidc-data` and serves its key; `None` when `alb-headers` is off.
    pub alb: Option<Arc<AlbSigner>>,
    /// The path the IdP redirects back to (from `redirect-url`).
    pub callback_path: String,
    /// `host:port` of the upstream, named when it fails.
    pub upstream_addr: String,
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<Self>, super::StartError> {
        let providers = Providers::new(&config)?;
        let sessions = SessionStore::new(&config.session, &config.cookie, config.clock.clone())?;
        let flow = Flow::new(&config, providers.clone(), sessions.clone());
        let signer = IdentitySigner::from_config(&config)?.map(Arc::new);
        let alb = AlbSigner::from_config(&config)?.map(Arc::new);
        let upstream = Upstream::with_signers(&config, signer.clone(), alb.clone());
        let callback_path = config.provider.redirect_url.path().to_string();
        let upstream_addr = match (
            config.upstream.host_str(),
            config.upstream.port_or_known_default(),
        ) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => config.upstream.to_string(),
        };
        Ok(Arc::new(Self {
            config,
            flow,
            providers,
            sessions,
            upstream,
            signer,
            alb,
            callback_path,
            upstream_addr,
        }))
    }

    pub fn is_ready(&self) -> bool {
        self.providers.is_ready()
    }
}
