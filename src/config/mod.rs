//! One typed, validated, immutable configuration.
//!
//! Every setting is declared once, in `settings.rs` (a field and its default).
//! `load.rs` stacks defaults < TOML file (`file.rs`) < `SIDECAR_*` environment
//! (`source.rs`) < flags (`args.rs`) into one [`Settings`]; `validate.rs`
//! turns that into a [`Config`] or every [`Problem`] at once.
//! Entry point: [`Config::load`].
//!
//! Inside, imports go one way (a test in `load.rs` checks it): de <- settings
//! <- args, file <- load; check, parse, problem <- alb, forward_auth,
//! pem_files, policy, provider, store <- validate <- load.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use url::Url;

use crate::secret::Secret;

mod alb;
mod args;
mod check;
mod de;
mod file;
mod forward_auth;
mod load;
mod parse;
mod pem_files;
mod policy;
mod problem;
mod provider;
mod redis_url;
mod secret_files;
mod settings;
mod source;
mod store;
mod validate;

pub use args::{RunArgs, LAYERING_HELP};
pub use problem::{ConfigError, Problem};
pub use provider::DEFAULT_PROVIDER;
pub use redis_url::{parse as parse_redis_url, RedisEndpoint, Topology as RedisTopology};
pub use settings::{ProviderSettings, ProviderTable, RouteSettings, Settings};
pub use source::{env_key, MapSource, ProcessEnv, Source, CONFIG_ENV};
pub use validate::validate;

/// Which protocol dialect the identity provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Amazon Cognito user pool: `token_use`, `cognito:groups`, `/logout?client_id&logout_uri`.
    Cognito,
    /// Any other OpenID Connect provider: `aud` arrays, `azp`, `end_session_endpoint`.
    Oidc,
}

/// How the sidecar authenticates itself at the token endpoint.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// Public app client: `client_id` in the form body only.
    None,
    /// A confidential client; the method is chosen from discovery at start.
    Secret(Secret<String>),
}

#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// `default` for the flat settings' provider; `[[provider]]` tables name theirs.
    pub name: String,
    /// What the sign-in chooser shows ("Sign in with your company account").
    pub display_name: String,
    /// Hosts this provider serves (lower case; `.example.com` for subdomains); empty: any.
    pub hosts: Vec<String>,
    /// Path prefixes this provider serves; empty: any.
    pub path_prefixes: Vec<String>,
    pub kind: ProviderKind,
    /// Compared byte-for-byte with discovery's `issuer` and every token's `iss`.
    pub issuer: Url,
    /// Where the discovery document lives; default `{issuer}/.well-known/openid-configuration`.
    pub discovery_url: Url,
    pub client_id: String,
    pub client_auth: ClientAuth,
    /// The callback registered at the IdP, sent byte-for-byte.
    pub redirect_url: Url,
    /// Allowed sign-out URL registered at the IdP (Cognito `logout_uri`).
    pub sign_out_url: Url,
    /// Space-separated scopes.
    pub scope: String,
    /// Cognito's `identity_provider` hint (e.g. `Google`, a SAML provider name).
    pub identity_provider: Option<String>,
    /// Accept emails the IdP has not verified (default false).
    pub allow_unverified_email: bool,
    /// The claim holding the user's groups (`cognito:groups`, `groups`, ...).
    pub groups_claim: String,
    /// API clients: `Authorization: Bearer` with this pool's tokens.
    pub bearer: BearerConfig,
}

/// Which bearer tokens authenticate API requests without a cookie.
#[derive(Clone, Debug)]
pub struct BearerConfig {
    pub enabled: bool,
    /// App clients whose access tokens (`client_id`) and ID tokens (`aud`) are accepted.
    pub client_ids: Vec<String>,
    /// Scopes an access token must all carry.
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct CookieConfig {
    /// Session cookie name; with no domain it gets the `__Host-` prefix when secure.
    pub name: String,
    /// At least one secret of 32+ bytes; the first seals, all open (rotation).
    pub secrets: Vec<Secret<Vec<u8>>>,
    pub secure: bool,
    pub domain: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Absolute lifetime of a session.
    pub ttl: Duration,
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// Tokens older than this are refreshed at the next request, whatever the
    /// ID token's lifetime: how long a refresh token revoked at the IdP (Cognito's
    /// global sign-out) keeps a session alive here, at most.
    pub refresh_interval: Duration,
    /// Upper bound of the memory weighed by the session cache, in bytes.
    pub max_bytes: u64,
    /// At most this many live sessions per user (`sub`); the oldest goes first.
    pub max_per_user: usize,
    /// Where sessions live.
    pub backend: SessionBackend,
}

/// Where sessions live: this process, or Redis shared by replicas.
#[derive(Clone, Debug)]
pub enum SessionBackend {
    Memory,
    Redis {
        /// `redis://`, `rediss://`, `redis+sentinel://` or `redis+cluster://`
        /// (`rediss+...` for TLS), possibly with a password.
        url: Secret<String>,
        /// Prepended to every key, default `cognito-sidecar:`.
        prefix: String,
        /// PEM CA certificates trusted for `rediss://` instead of the system's roots.
        ca_file: Option<PathBuf>,
        /// The sentinels' own password (`redis-sentinel-password`).
        sentinel_password: Option<Secret<String>>,
    },
}

/// Names of the identity headers the sidecar sets upstream.
#[derive(Clone, Debug)]
pub struct IdentityHeaders {
    pub email: HeaderName,
    pub name: HeaderName,
    pub sub: HeaderName,
    pub groups: HeaderName,
    pub username: HeaderName,
    /// The signed identity (JWT) header; stripped from clients even when signing is off.
    pub jwt: HeaderName,
}

/// The signed identity header (ES256 JWT), for upstreams that verify it rather
/// than trust plain headers.
#[derive(Clone, Debug)]
pub struct IdentityJwtConfig {
    /// `iss`: the sidecar's own origin (from `redirect-url`).
    pub issuer: String,
    /// `aud`: the upstream, by default its origin.
    pub audience: String,
    /// `exp - iat`, whole seconds, 1 s to 1 h.
    pub ttl: Duration,
    /// DER of a P-256 private key (PKCS#8 or SEC1) shared by replicas; `None`
    /// generates a fresh key at start.
    pub key: Option<Secret<Vec<u8>>>,
}

/// Headers in the format of an Application Load Balancer's `authenticate-cognito`
/// action (`x-amzn-oidc-data`, `-identity`, `-accesstoken`), for apps written for one.
#[derive(Clone, Debug)]
pub struct AlbConfig {
    /// The ALB ARN put in each token's `signer`, which apps compare with theirs.
    pub signer: String,
    /// DER of the P-256 private key (PKCS#8 or SEC1) shared by replicas; `None`
    /// generates a fresh key at start.
    pub key: Option<Secret<Vec<u8>>>,
}

#[derive(Clone, Debug)]
pub struct Timeouts {
    pub idp_connect: Duration,
    pub idp_total: Duration,
    pub upstream_connect: Duration,
    pub upstream_headers: Duration,
    pub client_header_read: Duration,
    pub idle_keepalive: Duration,
    pub shutdown_grace: Duration,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_request_header_bytes: usize,
    pub max_connections: usize,
    /// Threads serving requests (one runtime and upstream pool each).
    pub workers: usize,
    /// Largest IdP answer (token, discovery, JWKS) read, in bytes.
    pub max_idp_body_bytes: usize,
    /// Pending logins (login cookies) kept per browser.
    pub max_pending_logins: usize,
}

/// What `/oauth2/auth` (forward-auth for ingress controllers) answers.
#[derive(Clone, Debug)]
pub struct ForwardAuthConfig {
    /// 202 by default; 200 for Envoy's `ext_authz`, which denies anything else.
    pub ok_status: http::StatusCode,
    /// Traefik ForwardAuth hands our answer to the browser as it is: redirect
    /// browser navigations to sign-in instead of answering 401.
    pub redirect_browsers: bool,
    /// Who calls `/oauth2/auth`: only its own headers describe the original request.
    pub ingress: ForwardAuthIngress,
}

/// The ingress controller in front of forward-auth. Each one sets its own
/// headers and passes the client's others through, so the sidecar reads only
/// the ones this ingress sets (a client's look-alikes are never believed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardAuthIngress {
    /// nginx `auth_request` / ingress-nginx: `X-Original-URL`, `X-Original-Method`.
    Nginx,
    /// Traefik ForwardAuth: `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`.
    Traefik,
    /// Envoy `ext_authz`: the auth request's own method, `Host` (`:authority`)
    /// and path after the auth path; `X-Forwarded-Proto` for the scheme.
    Envoy,
    /// Anything else: the headers are named in the settings.
    Generic(OriginalHeaders),
}

/// Where a generic ingress puts the original request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalHeaders {
    /// The method; `None` uses the auth request's own.
    pub method: Option<HeaderName>,
    /// An absolute URL, or a path (then the host comes from `host`).
    pub url: HeaderName,
    pub host: Option<HeaderName>,
}

/// The PEM files the listener serves TLS with; both are re-read when either changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Addresses to listen on, in order. The server tries them in order and
    /// falls back to the next when one cannot be bound: the default
    /// `[::]:4180`, `0.0.0.0:4180` thus ends up on IPv4 on a host without IPv6.
    /// An explicit `listen` value is used as given (no fallback is added).
    pub listen: Vec<SocketAddr>,
    pub upstream: Url,
    /// The provider of the flat settings, named `default`.
    pub provider: ProviderConfig,
    /// More providers from `[[provider]]` tables, in file order.
    pub providers: Vec<ProviderConfig>,
    pub cookie: CookieConfig,
    pub session: SessionConfig,
    /// Hosts `rd` may point to besides the sidecar's own (a leading `.` allows subdomains).
    pub allowed_redirect_domains: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Who may reach what: global rules, `[[route]]` tables, skip-auth routes.
    pub authz: crate::authz::Policy,
    /// Path prefix of the sidecar's own endpoints, default `/oauth2`.
    pub proxy_prefix: String,
    pub ping_path: String,
    pub ready_path: String,
    pub headers: IdentityHeaders,
    pub forward_auth: ForwardAuthConfig,
    /// Sign the identity into [`IdentityHeaders::jwt`]; `None` when off.
    pub identity_jwt: Option<IdentityJwtConfig>,
    /// ALB-compatible identity headers; `None` when `alb-headers` is off.
    pub alb: Option<AlbConfig>,
    /// A separate listener for `/metrics`; none by default.
    pub metrics_address: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// Terminate TLS on the listener; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// CA certificates for an `https` upstream; `None` trusts the system's roots.
    pub upstream_ca: Option<PathBuf>,
    /// The client's `Host` goes upstream (true), or the upstream URL's host (false).
    pub pass_host_header: bool,
    /// Serve HTTP/2 without TLS (prior knowledge) on a plain listener.
    pub h2c: bool,
    pub timeouts: Timeouts,
    pub limits: Limits,
    /// Start-up warnings (unknown `SIDECAR_*` variables), for the log.
    pub warnings: Vec<String>,
    /// Where every part built from this config reads the time: the system's
    /// (not a setting; tests hand in one they move).
    pub clock: crate::clock::Clock,
}
