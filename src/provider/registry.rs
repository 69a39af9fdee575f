//! Several user pools or OpenID providers at once, chosen per request by host
//! and path prefix. A session belongs to the provider that made it and counts
//! only on requests that provider serves.

use std::sync::Arc;

use crate::authz::{domain_matches, loosely_under, PathView, Target};
use crate::config::Config;

use super::{Provider, ProviderError};

/// Every configured provider; the first is the flat settings' `default`.
#[derive(Clone)]
pub struct Providers {
    all: Arc<Vec<Arc<Provider>>>,
}

impl Providers {
    pub fn new(config: &Config) -> Result<Self, ProviderError> {
        let mut all = vec![Provider::new(&config.provider, config)?];
        for extra in &config.providers {
            all.push(Provider::new(extra, config)?);
        }
        Ok(Self { all: Arc::new(all) })
    }

    /// The flat settings' provider.
    pub fn default_provider(&self) -> &Arc<Provider> {
        &self.all[0]
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.all
    }

    pub fn named(&self, name: &str) -> Option<&Arc<Provider>> {
        self.all.iter().find(|p| p.name() == name)
    }

    /// Ready once every provider's discovery and keys are loaded.
    pub fn is_ready(&self) -> bool {
        self.all.iter().all(|p| p.is_ready())
    }

    pub fn spawn_loaders(&self) -> Vec<tokio::task::JoinHandle<()>> {
        self.all.iter().map(|p| p.spawn_loader()).collect()
    }

    /// The providers serving `target`. Providers with hosts or path prefixes
    /// claim their requests, and only they serve them; the unrestricted ones
    /// (the default among them) serve what nobody claims. A prefix claims its
    /// path in any case and with a format suffix too (`/staff` claims
    /// `/STAFF/x` and `/staff.json`, see [`crate::authz::fold`]). An ambiguous
    /// path gets only the providers both readings agree on.
    pub fn choices(&self, target: &Target) -> Vec<&Arc<Provider>> {
        match &target.path {
            PathView::Canonical(path) => self.choices_for(target.host.as_deref(), path),
            PathView::Ambiguous { resolved, raw } => {
                let a = self.choices_for(target.host.as_deref(), resolved);
                let b = self.choices_for(target.host.as_deref(), raw);
                a.into_iter()
                    .filter(|p| b.iter().any(|q| Arc::ptr_eq(p, q)))
                    .collect()
            }
        }
    }

    fn choices_for(&self, host: Option<&str>, path: &str) -> Vec<&Arc<Provider>> {
        let restricted = |p: &Provider| {
            let c = p.config();
            !c.hosts.is_empty() || !c.path_prefixes.is_empty()
        };
        let claims = |p: &Provider| {
            let c = p.config();
            let host_ok = c.hosts.is_empty()
                || host.is_some_and(|h| c.hosts.iter().any(|want| domain_matches(want, h)));
            let path_ok = c.path_prefixes.is_empty()
                || c.path_prefixes.iter().any(|pre| loosely_under(pre, path));
            restricted(p) && host_ok && path_ok
        };
        let claimed: Vec<&Arc<Provider>> = self.all.iter().filter(|p| claims(p)).collect();
        if claimed.is_empty() {
            self.all.iter().filter(|p| !restricted(p)).collect()
        } else {
            claimed
        }
    }
}
