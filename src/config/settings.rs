//! Every setting, declared once: a field (its doc comment is the `--help`
//! text, its name the flag, `SIDECAR_*` variable and TOML key) and its default
//! (`default_value`, which `Default` reads through clap). Values stay text
//! until `validate` checks them all at once; lists are split here (see `de`).
//!
//! A new setting is a field here (its doc comment is its help, its attribute
//! its default) and the line in `validate.rs` that checks it into the
//! [`super::Config`] field it fills.

use clap::{Args, Command, FromArgMatches};
use serde::{Deserialize, Serialize};

use super::de;
use crate::secret::Secret;

// The `--help` headings, in the order they appear.
const PROXY: &str = "Proxy";
const IDP: &str = "Identity provider";
const AUTHZ: &str = "Authorization";
const SESSIONS: &str = "Cookies and sessions";
const HEADERS: &str = "Identity headers";
const JWT: &str = "Signed identity";
const ALB: &str = "ALB-compatible headers";
const FORWARD_AUTH: &str = "Forward auth";
const OBSERVABILITY: &str = "Observability";
const TLS: &str = "TLS";
const TIMEOUTS: &str = "Timeouts";
const LIMITS: &str = "Limits";

/// The top level: flags, `SIDECAR_*` variables and the TOML file's keys.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on, repeatable or a list; the second default is the fallback without IPv6.
    #[arg(long, value_name = "IP:PORT", help_heading = PROXY, default_values = ["[::]:4180", "0.0.0.0:4180"])]
    #[serde(deserialize_with = "de::words")]
    pub listen: Vec<String>,
    /// The app to protect, an http(s) URL. [required]
    #[arg(long, value_name = "URL", help_heading = PROXY)]
    pub upstream: Option<String>,
    /// Path prefix of the sidecar's own endpoints; starts with /, no trailing slash.
    #[arg(long, value_name = "PATH", help_heading = PROXY, default_value = "/oauth2")]
    pub proxy_prefix: String,
    /// Liveness endpoint.
    #[arg(long, value_name = "PATH", help_heading = PROXY, default_value = "/ping")]
    pub ping_path: String,
    /// Readiness endpoint.
    #[arg(long, value_name = "PATH", help_heading = PROXY, default_value = "/ready")]
    pub ready_path: String,
    /// Hosts the return-to URL may point to besides our own; a leading . allows subdomains.
    #[arg(long, value_name = "DOMAIN", help_heading = PROXY)]
    #[serde(deserialize_with = "de::words")]
    pub allowed_redirect_domains: Vec<String>,
    /// Peers whose X-Forwarded-* headers are believed: CIDRs or bare IPs.
    #[arg(long, value_name = "CIDR", help_heading = PROXY)]
    #[serde(deserialize_with = "de::words")]
    pub trusted_proxies: Vec<String>,

    /// The flat settings' provider, named `default`.
    #[command(flatten)]
    #[serde(flatten)]
    pub provider: ProviderSettings,

    /// Only users whose verified email is in these domains; .example.com allows its subdomains. [default: any]
    #[arg(long, value_name = "DOMAIN", help_heading = AUTHZ)]
    #[serde(deserialize_with = "de::words")]
    pub allowed_email_domains: Vec<String>,
    /// Only users with one of these verified emails. [default: any]
    #[arg(long, value_name = "EMAIL", help_heading = AUTHZ)]
    #[serde(deserialize_with = "de::words")]
    pub allowed_emails: Vec<String>,
    /// Only users in at least one of these groups, comma separated (names with commas: use a [[route]] table). [default: any]
    #[arg(long, value_name = "GROUP", help_heading = AUTHZ)]
    #[serde(deserialize_with = "de::list")]
    pub allowed_groups: Vec<String>,
    /// Requests forwarded without sign-in, comma separated: [METHOD ]PATH, PATH exact, or a prefix when it ends in / or *.
    #[arg(long, value_name = "ROUTE", help_heading = AUTHZ)]
    #[serde(deserialize_with = "de::list")]
    pub skip_auth_routes: Vec<String>,
    /// Forward CORS preflights (OPTIONS with Origin and Access-Control-Request-Method) without sign-in.
    #[arg(long, value_name = "BOOL", help_heading = AUTHZ, default_value = "false")]
    pub skip_auth_preflight: String,

    /// Cookie secret, 32+ bytes; repeat or comma separate to rotate (the first seals). [required, or --cookie-secret-file]
    #[arg(long, value_name = "SECRET", help_heading = SESSIONS)]
    #[serde(deserialize_with = "de::secret_list", skip_serializing)]
    pub cookie_secret: Vec<Secret<String>>,
    /// File(s) holding cookie secrets, one per line.
    #[arg(long, value_name = "FILE", help_heading = SESSIONS)]
    #[serde(deserialize_with = "de::list")]
    pub cookie_secret_file: Vec<String>,
    /// Mark cookies Secure (true/false/1/0/yes/no).
    #[arg(long, value_name = "BOOL", help_heading = SESSIONS, default_value = "true")]
    pub cookie_secure: String,
    /// Session cookie name.
    #[arg(long, value_name = "NAME", help_heading = SESSIONS, default_value = "_cognito_sidecar")]
    pub cookie_name: String,
    /// Cookie Domain attribute. [default: none, host-only]
    #[arg(long, value_name = "DOMAIN", help_heading = SESSIONS)]
    pub cookie_domain: Option<String>,
    /// Absolute session lifetime (90s, 30m, 12h, 7d or seconds).
    #[arg(long, value_name = "DURATION", help_heading = SESSIONS, default_value = "12h")]
    pub session_ttl: String,
    /// A session unused this long ends.
    #[arg(long, value_name = "DURATION", help_heading = SESSIONS, default_value = "1h")]
    pub session_idle_timeout: String,
    /// Tokens older than this are refreshed at the next request, so a refresh token revoked at the IdP ends the session within it.
    #[arg(long, value_name = "DURATION", help_heading = SESSIONS, default_value = "1h")]
    pub session_refresh_interval: String,
    /// Memory for the session store (bytes, KiB, MiB, GiB).
    #[arg(long, value_name = "BYTES", help_heading = SESSIONS, default_value = "256MiB")]
    pub session_max_bytes: String,
    /// Live sessions per user; the oldest goes first.
    #[arg(long, value_name = "N", help_heading = SESSIONS, default_value = "10")]
    pub sessions_per_user: String,
    /// Where sessions live: memory (one replica), redis (shared by replicas), or a Redis URL (redis plus that redis-url). [default: redis when a Redis URL is set, else memory]
    #[arg(long, value_name = "STORE", help_heading = SESSIONS)]
    #[serde(skip_serializing)]
    pub session_store: Option<Secret<String>>,
    /// Redis for shared sessions: redis://[:password@]host[:port][/db]; redis+sentinel://[:password@]host:port[,host:port...]/master_name[/db]; redis+cluster://[:password@]host:port[,host:port...]; rediss... for TLS.
    #[arg(long, value_name = "URL", help_heading = SESSIONS)]
    #[serde(skip_serializing)]
    pub redis_url: Option<Secret<String>>,
    /// File holding the Redis URL (it may hold a password).
    #[arg(long, value_name = "FILE", help_heading = SESSIONS)]
    pub redis_url_file: Option<String>,
    /// Prefix of every Redis key, to share one Redis between deployments.
    #[arg(long, value_name = "PREFIX", help_heading = SESSIONS, default_value = "cognito-sidecar:")]
    pub redis_prefix: String,
    /// PEM CA certificates trusted for a rediss:// URL, instead of the system's. [default: none, the system roots]
    #[arg(long, value_name = "FILE", help_heading = SESSIONS)]
    pub redis_ca_file: Option<String>,
    /// The Redis Sentinels' own password, for a redis+sentinel:// URL.
    #[arg(long, value_name = "PASSWORD", help_heading = SESSIONS)]
    #[serde(skip_serializing)]
    pub redis_sentinel_password: Option<Secret<String>>,

    /// Upstream header carrying the user's email.
    #[arg(long, value_name = "HEADER", help_heading = HEADERS, default_value = "X-User-Email")]
    pub header_email: String,
    /// Upstream header carrying the user's name.
    #[arg(long, value_name = "HEADER", help_heading = HEADERS, default_value = "X-User-Name")]
    pub header_name: String,
    /// Upstream header carrying the user's subject id.
    #[arg(long, value_name = "HEADER", help_heading = HEADERS, default_value = "X-User-Sub")]
    pub header_sub: String,
    /// Upstream header carrying the user's groups.
    #[arg(long, value_name = "HEADER", help_heading = HEADERS, default_value = "X-User-Groups")]
    pub header_groups: String,
    /// Upstream header carrying the user name.
    #[arg(long, value_name = "HEADER", help_heading = HEADERS, default_value = "X-User-Username")]
    pub header_username: String,

    /// Add a short-lived ES256 JWT of the identity to every proxied request and publish its keys at <proxy-prefix>/jwks.json.
    #[arg(long, value_name = "BOOL", help_heading = JWT, default_value = "false")]
    pub identity_jwt: String,
    /// Header carrying the signed identity; client-sent copies are always removed.
    #[arg(long, value_name = "HEADER", help_heading = JWT, default_value = "X-Sidecar-Identity")]
    pub identity_jwt_header: String,
    /// The JWT's aud claim, which the upstream checks. [default: the upstream URL's origin]
    #[arg(long, value_name = "TEXT", help_heading = JWT)]
    pub identity_jwt_audience: Option<String>,
    /// Lifetime of each JWT (exp - iat), 1s to 1h.
    #[arg(long, value_name = "DURATION", help_heading = JWT, default_value = "60s")]
    pub identity_jwt_ttl: String,
    /// PEM P-256 private key (PKCS#8 or SEC1), so replicas share a key and it survives restarts. [default: none, a new key at each start]
    #[arg(long, value_name = "FILE", help_heading = JWT)]
    pub identity_jwt_key_file: Option<String>,

    /// Send the headers an Application Load Balancer's authenticate-cognito action sends (x-amzn-oidc-data, -identity, -accesstoken) and publish the key at <proxy-prefix>/alb-public-keys/<kid>.
    #[arg(long, value_name = "BOOL", help_heading = ALB, default_value = "false")]
    pub alb_headers: String,
    /// The ALB ARN in each x-amzn-oidc-data token's signer, as your apps expect it; required with alb-headers.
    #[arg(long, value_name = "ARN", help_heading = ALB)]
    pub alb_signer: Option<String>,
    /// PEM P-256 private key (PKCS#8 or SEC1) signing x-amzn-oidc-data, so replicas share it. [default: none, a new key at each start]
    #[arg(long, value_name = "FILE", help_heading = ALB)]
    pub alb_key_file: Option<String>,

    /// Status of a successful /oauth2/auth answer: 202, or 200 for Envoy ext_authz. [default: 200 with forward-auth-ingress envoy, else 202]
    #[arg(long, value_name = "STATUS", help_heading = FORWARD_AUTH)]
    pub forward_auth_status: Option<String>,
    /// /oauth2/auth redirects browser navigations to sign-in instead of 401 (Traefik ForwardAuth). [default: true with forward-auth-ingress traefik, else false]
    #[arg(long, value_name = "BOOL", help_heading = FORWARD_AUTH)]
    pub forward_auth_redirect: Option<String>,
    /// Which ingress calls /oauth2/auth, so only its own headers describe the original request (nginx|traefik|envoy|generic).
    #[arg(long, value_name = "INGRESS", help_heading = FORWARD_AUTH, default_value = "nginx")]
    pub forward_auth_ingress: String,
    /// generic ingress: the header holding the original method. [default: none, the auth request's own]
    #[arg(long, value_name = "HEADER", help_heading = FORWARD_AUTH)]
    pub forward_auth_method_header: Option<String>,
    /// generic ingress: the header holding the original URL (absolute, or a path). [required with generic]
    #[arg(long, value_name = "HEADER", help_heading = FORWARD_AUTH)]
    pub forward_auth_url_header: Option<String>,
    /// generic ingress: the header holding the original host when the URL header holds a path.
    #[arg(long, value_name = "HEADER", help_heading = FORWARD_AUTH)]
    pub forward_auth_host_header: Option<String>,

    /// Separate listener for Prometheus /metrics, e.g. 127.0.0.1:9090.
    #[arg(long, value_name = "IP:PORT", help_heading = OBSERVABILITY)]
    pub metrics_address: Option<String>,
    /// Log lines as pretty text or JSON (pretty|json); level from SIDECAR_LOG.
    #[arg(long, value_name = "FORMAT", help_heading = OBSERVABILITY, default_value = "pretty")]
    pub log_format: String,

    /// PEM certificate chain to serve HTTPS with (HTTP/2 and HTTP/1.1); reloaded when it changes. [default: none, plain HTTP]
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub tls_cert_file: Option<String>,
    /// PEM private key of tls-cert-file; reloaded with it.
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub tls_key_file: Option<String>,
    /// PEM CA certificates trusted for an https upstream, instead of the system's. [default: none, the system roots]
    #[arg(long, value_name = "FILE", help_heading = TLS)]
    pub upstream_ca_file: Option<String>,
    /// Send the client's Host upstream; false sends the upstream URL's host (name-based virtual hosts).
    #[arg(long, value_name = "BOOL", help_heading = TLS, default_value = "true")]
    pub pass_host_header: String,
    /// Also serve HTTP/2 without TLS (h2c, prior knowledge) on the plain listener.
    #[arg(long, value_name = "BOOL", help_heading = TLS, default_value = "false")]
    pub h2c: String,

    /// Connecting to the provider.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "5s")]
    pub idp_connect_timeout: String,
    /// A whole provider request.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "15s")]
    pub idp_timeout: String,
    /// Connecting to the upstream.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "5s")]
    pub upstream_connect_timeout: String,
    /// Waiting for the upstream's response headers.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "60s")]
    pub upstream_timeout: String,
    /// Reading a client's request headers.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "10s")]
    pub client_header_timeout: String,
    /// HTTP/2 keep-alive ping interval for clients; an idle HTTP/1.1 connection closes after client-header-timeout.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "60s")]
    pub idle_timeout: String,
    /// Time open requests get to finish at shutdown.
    #[arg(long, value_name = "DURATION", help_heading = TIMEOUTS, default_value = "10s")]
    pub shutdown_grace: String,

    /// Largest request header block accepted.
    #[arg(long, value_name = "BYTES", help_heading = LIMITS, default_value = "16KiB")]
    pub max_header_bytes: String,
    /// Concurrent client connections.
    #[arg(long, value_name = "N", help_heading = LIMITS, default_value = "10000")]
    pub max_connections: String,
    /// Threads serving requests, each with its own runtime and upstream pool. [default: one per core]
    #[arg(long, value_name = "N", help_heading = LIMITS)]
    pub workers: Option<String>,
    /// Largest provider answer read (token, discovery, JWKS).
    #[arg(long, value_name = "BYTES", help_heading = LIMITS, default_value = "1MiB")]
    pub max_idp_body_bytes: String,
    /// Sign-ins in progress kept per browser.
    #[arg(long, value_name = "N", help_heading = LIMITS, default_value = "5")]
    pub max_pending_logins: String,

    /// `[[provider]]` tables (config file only).
    #[arg(skip)]
    #[serde(skip)]
    pub providers: Vec<ProviderTable>,
    /// `[[route]]` tables (config file only).
    #[arg(skip)]
    #[serde(skip)]
    pub routes: Vec<RouteSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        defaults()
    }
}

/// One identity provider: the flat settings' own, or a `[[provider]]` table's.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
#[serde(default)]
pub struct ProviderSettings {
    /// Issuer URL; https, or http only on a loopback host. [required]
    #[arg(long, value_name = "URL", help_heading = IDP)]
    pub issuer_url: Option<String>,
    /// Discovery document URL. [default: <issuer-url>/.well-known/openid-configuration]
    #[arg(long, value_name = "URL", help_heading = IDP)]
    pub discovery_url: Option<String>,
    /// cognito or oidc. [default: cognito when the issuer host starts with cognito-idp., else oidc]
    #[arg(long, value_name = "KIND", help_heading = IDP)]
    pub provider: Option<String>,
    /// OAuth2 client id. [required]
    #[arg(long, value_name = "ID", help_heading = IDP)]
    pub client_id: Option<String>,
    /// OAuth2 client secret; leave unset for a public client.
    #[arg(long, value_name = "SECRET", help_heading = IDP)]
    #[serde(skip_serializing)]
    pub client_secret: Option<Secret<String>>,
    /// File holding the client secret (trailing newline ignored).
    #[arg(long, value_name = "FILE", help_heading = IDP)]
    pub client_secret_file: Option<String>,
    /// Callback URL registered at the provider, absolute http(s), no fragment. [required]
    #[arg(long, value_name = "URL", help_heading = IDP)]
    pub redirect_url: Option<String>,
    /// Where the provider sends the browser after sign-out. [default: <redirect-url origin><proxy-prefix>/signed_out]
    #[arg(long, value_name = "URL", help_heading = IDP)]
    pub sign_out_url: Option<String>,
    /// Scopes, separated by spaces or commas; must contain openid.
    #[arg(long, value_name = "SCOPES", help_heading = IDP, default_values = ["openid", "email", "profile"])]
    #[serde(deserialize_with = "de::words")]
    pub scope: Vec<String>,
    /// Cognito identity_provider hint, e.g. Google.
    #[arg(long, value_name = "NAME", help_heading = IDP)]
    pub identity_provider: Option<String>,
    /// Accept email addresses the provider has not verified.
    #[arg(long, value_name = "BOOL", help_heading = IDP, default_value = "false")]
    pub allow_unverified_email: String,
    /// Accept `Authorization: Bearer` ID or access tokens of this pool for API clients.
    #[arg(long, value_name = "BOOL", help_heading = IDP, default_value = "true")]
    pub bearer_tokens: String,
    /// App client ids whose bearer tokens are accepted. [default: the client-id]
    #[arg(long, value_name = "ID", help_heading = IDP)]
    #[serde(deserialize_with = "de::words")]
    pub api_client_ids: Vec<String>,
    /// Scopes a bearer access token must all carry.
    #[arg(long, value_name = "SCOPE", help_heading = IDP)]
    #[serde(deserialize_with = "de::words")]
    pub api_scopes: Vec<String>,
    /// Claim holding the user's groups. [default: cognito:groups for cognito, groups for oidc]
    #[arg(long, value_name = "CLAIM", help_heading = IDP)]
    pub groups_claim: Option<String>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        defaults()
    }
}

/// The `default_value`s declared on the fields, read by clap from an empty
/// command line: the defaults `--help` shows are the ones in force.
#[allow(clippy::expect_used)] // fixed at compile time; every test that builds Settings runs it
fn defaults<T: Args + FromArgMatches>() -> T {
    let matches = T::augment_args(Command::new("defaults")).try_get_matches_from(["defaults"]);
    let defaults = matches.and_then(|m| T::from_arg_matches(&m));
    defaults.expect("every setting without a default is an Option or a list")
}

/// A `[[provider]]` table: a provider chosen per request by host and/or path
/// prefix. The redirect and sign-out URLs default to the flat settings' (one
/// callback serves all).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ProviderTable {
    /// Letters, digits, - or _; sessions carry it. [required]
    pub name: Option<String>,
    /// What the sign-in chooser shows. [default: the name]
    pub display_name: Option<String>,
    /// Hosts this provider serves (`.example.com` for subdomains). [default: any]
    #[serde(deserialize_with = "de::words")]
    pub hosts: Vec<String>,
    /// Path prefixes this provider serves. [default: any]
    #[serde(deserialize_with = "de::words")]
    pub path_prefixes: Vec<String>,
    #[serde(flatten)]
    pub settings: ProviderSettings,
    #[serde(flatten)]
    pub(crate) unknown: toml::Table,
}

/// A `[[route]]` table: rules for requests matching host, path prefix and methods.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct RouteSettings {
    /// Host (`.example.com` for subdomains). [default: any]
    pub host: Option<String>,
    /// Path prefix. [default: any]
    pub path_prefix: Option<String>,
    /// Methods in upper case. [default: any]
    #[serde(deserialize_with = "de::list")]
    pub methods: Vec<String>,
    #[serde(deserialize_with = "de::list_items")]
    pub allowed_email_domains: Vec<String>,
    #[serde(deserialize_with = "de::list_items")]
    pub allowed_emails: Vec<String>,
    /// Group names as given: they may hold commas and spaces.
    #[serde(deserialize_with = "de::list_items")]
    pub allowed_groups: Vec<String>,
    /// Forward without sign-in (a boolean); cannot have `allowed_*` rules. [default: false]
    pub skip_auth: Option<String>,
    #[serde(flatten)]
    pub(crate) unknown: toml::Table,
}

#[cfg(test)]
impl Settings {
    /// Settings from `(key, text)` pairs, as the environment gives them (blank means unset).
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let table: toml::Table = pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| ((*k).to_string(), toml::Value::String((*v).to_string())))
            .collect();
        toml::Value::Table(table).try_into().unwrap()
    }
}
