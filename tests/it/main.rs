//! The integration tests, one binary: a module per area. Each starts real servers
//! (the mock Cognito, a recording upstream, the sidecar) on ephemeral loopback ports.
//! `secrets_in_logs` stays a binary of its own: it installs a process-wide TRACE subscriber.

mod alb;
mod authz;
mod backchannel;
mod bearer;
mod browser;
mod check;
mod check_oidc;
mod config;
mod demo;
mod deploy_manifests;
mod django;
mod federated;
mod forward_auth;
mod h2;
mod hostile_input;
mod identity_jwt;
mod keepalive;
mod limits;
mod logging;
mod login;
mod misconfigured;
mod mock_cognito;
mod multi_host;
mod multi_provider;
mod nginx_auth_request;
mod observability;
mod oidc_harness;
mod oidc_provider;
mod open_redirects;
mod proxying;
mod redis_ha;
mod redis_sessions;
mod refresh;
mod rotation;
mod sign_out;
mod skip_auth;
mod smuggling;
mod startup;
mod support;
mod tls;
mod tokens;
mod upstream_faults;
mod upstream_pool;
