//! cognito-sidecar: an authenticating reverse proxy for AWS Cognito and any
//! OpenID Connect provider.
//!
//! Layers, each importing only from the ones above it (checked by a unit test,
//! `layering.rs`, which holds the same table):
//! 0. leaves: [`secret`], [`body`], [`identity`], [`identity_values`], [`authz`], [`pem`], [`metrics`], [`tokens`], [`clock`]
//! 1. [`config`]
//! 2. provider and session (siblings that never import each other), [`identity_jwt`], [`logging`]
//! 3. flow: the login state machine, and the one decision per request
//! 4. HTTP surfaces: [`http`] (responses, pages), [`proxy`], [`forward_auth`]
//! 5. server, [`check`] (tries a configuration against the IdPs and the upstream), [`healthcheck`]
//!
//! Sideways, within a layer, only: authz -> identity, identity_values -> identity, tokens -> secret,
//! http -> proxy, forward_auth -> http and proxy, server -> check.
//!
//! [`mock`] (the `mock-cognito` crate, behind the default `mock` feature) and [`demo`] stand
//! beside the stack: the mock Cognito shares no code with it.

// The request future nests router -> proxied -> flow::decide -> session store;
// nightly (the fuzz build) computes its layout past the default depth of 128.
#![recursion_limit = "256"]

pub mod authz;
#[cfg(feature = "bench-seed")]
pub mod bench_seed;
pub mod body;
pub mod check;
pub mod clock;
pub mod config;
#[cfg(feature = "mock")]
pub mod demo;
pub mod flow;
pub mod forward_auth;
pub mod healthcheck;
pub mod http;
pub mod identity;
pub mod identity_jwt;
pub mod identity_values;
#[cfg(test)]
mod layering;
pub mod logging;
pub mod metrics;
/// The mock Cognito, its own crate (`mock-cognito/`): it shares no code with the sidecar.
#[cfg(feature = "mock")]
pub use mock_cognito as mock;
pub mod pem;
pub mod provider;
pub mod proxy;
pub mod secret;
pub mod server;
pub mod session;
pub mod tokens;

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
