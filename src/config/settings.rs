//! Every setting, declared once: a field (its doc comment is the `--help`
//! text, its name the flag, `SIDECAR_*` variable and TOML key) and its default
//! in the `Default` impl. Values stay text until `validate` checks them all at
//! once; lists are split here (see `de`).
//!
//! A new setting is a field here (its doc comment is its help), a line in the
//! `Default` impl when it has one, and the line in `validate.rs` that checks
//! it into the [`super::Config`] field it fills.

use clap::Args;
use serde::{Deserialize, Serialize};

use super::de;
use crate::secret::Secret;

/// The top level: flags, `SIDECAR_*` variables and the TOML file's keys.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on, repeatable or a list; the second default is the fallback without IPv6.
    #[arg(long, value_name = "IP:PORT", help_heading = "Proxy")]
    #[serde(deserialize_with = "de::words")]
    pub listen: Vec<String>,
    /// The app to protect, an http(s) URL. [required]
    #[arg(long, value_name = "URL", help_heading = "Proxy")]
    pub upstream: Option<String>,
    /// Path prefix of the sidecar's own endpoints; starts with /, no trailing slash.
    #[arg(long, value_name = "PATH", help_heading = "Proxy")]
    pub proxy_prefix: String,
    /// Liveness endpoint.
    #[arg(long, value_name = "PATH", help_heading = "Proxy")]
    pub ping_path: String,
    /// Readiness endpoint.
    #[arg(long, value_name = "PATH", help_heading = "Proxy")]
    pub ready_path: String,
    /// Hosts the return-to URL may point to besides our own; a leading . allows subdomains.
    #[arg(long, value_name = "DOMAIN", help_heading = "Proxy")]
    #[serde(deserialize_with = "de::words")]
    pub allowed_redirect_domains: Vec<String>,
    /// Peers whose X-Forwarded-* headers are believed: CIDRs or bare IPs.
    #[arg(long, value_name = "CIDR", help_heading = "Proxy")]
    #[serde(deserialize_with = "de::words")]
    pub trusted_proxies: Vec<String>,

    /// The flat settings' provider, named `default`.
    #[command(flatten)]
    #[serde(flatten)]
    pub provider: ProviderSettings,

    /// Only users whose verified email is in these domains; .example.com allows its subdomains. [default: any]
    #[arg(long, value_name = "DOMAIN", help_heading = "Authorization")]
    #[serde(deserialize_with = "de::words")]
    pub allowed_email_domains: Vec<String>,
    /// Only users with one of these verified emails. [default: any]
    #[arg(long, value_name = "EMAIL", help_heading = "Authorization")]
    #[serde(deserialize_with = "de::words")]
    pub allowed_emails: Vec<String>,
    /// Only users in at least one of these groups, comma separated (names with commas: use a [[route]] table). [default: any]
    #[arg(long, value_name = "GROUP", help_heading = "Authorization")]
    #[serde(deserialize_with = "de::list")]
    pub allowed_groups: Vec<String>,
    /// Requests forwarded without sign-in, comma separated: [METHOD ]PATH, PATH exact, or a prefix when it ends in / or *.
    #[arg(long, value_name = "ROUTE", help_heading = "Authorization")]
    #[serde(deserialize_with = "de::list")]
    pub skip_auth_routes: Vec<String>,
    /// Forward CORS preflights (OPTIONS with Origin and Access-Control-Request-Method) without sign-in.
    #[arg(long, value_name = "BOOL", help_heading = "Authorization")]
    pub skip_auth_preflight: String,

    /// Cookie secret, 32+ bytes; repeat or comma separate to rotate (the first seals). [required, or --cookie-secret-file]
    #[arg(long, value_name = "SECRET", help_heading = "Cookies and sessions")]
    #[serde(deserialize_with = "de::secret_list", skip_serializing)]
    pub cookie_secret: Vec<Secret<String>>,
    /// File(s) holding cookie secrets, one per line.
    #[arg(long, value_name = "FILE", help_heading = "Cookies and sessions")]
    #[serde(deserialize_with = "de::list")]
    pub cookie_secret_file: Vec<String>,
    /// Mark cookies Secure (true/false/1/0/yes/no).
    #[arg(long, value_name = "BOOL", help_heading = "Cookies and sessions")]
    pub cookie_secure: String,
    /// Session cookie name.
    #[arg(long, value_name = "NAME", help_heading = "Cookies and sessions")]
    pub cookie_name: String,
    /// Cookie Domain attribute. [default: none, host-only]
    #[arg(long, value_name = "DOMAIN", help_heading = "Cookies and sessions")]
    pub cookie_domain: Option<String>,
    /// Absolute session lifetime (90s, 30m, 12h, 7d or seconds).
    #[arg(long, value_name = "DURATION", help_heading = "Cookies and sessions")]
    pub session_ttl: String,
    /// A session unused this long ends.
    #[arg(long, value_name = "DURATION", help_heading = "Cookies and sessions")]
    pub session_idle_timeout: String,
    /// Tokens older than this are refreshed at the next request, so a refresh token revoked at the IdP ends the session within it.
    #[arg(long, value_name = "DURATION", help_heading = "Cookies and sessions")]
    pub session_refresh_interval: String,
    /// Memory for the session store (bytes, KiB, MiB, GiB).
    #[arg(long, value_name = "BYTES", help_heading = "Cookies and sessions")]
    pub session_max_bytes: String,
    /// Live sessions per user; the oldest goes first.
    #[arg(long, value_name = "N", help_heading = "Cookies and sessions")]
    pub sessions_per_user: String,
    /// Where sessions live: memory (one replica), redis (shared by replicas), or a Redis URL (redis plus that redis-url). [default: redis when a Redis URL is set, else memory]
    #[arg(long, value_name = "STORE", help_heading = "Cookies and sessions")]
    #[serde(skip_serializing)]
    pub session_store: Option<Secret<String>>,
    /// Redis for shared sessions: redis://[:password@]host[:port][/db]; redis+sentinel://[:password@]host:port[,host:port...]/master_name[/db]; redis+cluster://[:password@]host:port[,host:port...]; rediss... for TLS.
    #[arg(long, value_name = "URL", help_heading = "Cookies and sessions")]
    #[serde(skip_serializing)]
    pub redis_url: Option<Secret<String>>,
    /// File holding the Redis URL (it may hold a password).
    #[arg(long, value_name = "FILE", help_heading = "Cookies and sessions")]
    pub redis_url_file: Option<String>,
    /// Prefix of every Redis key, to share one Redis between deployments.
    #[arg(long, value_name = "PREFIX", help_heading = "Cookies and sessions")]
    pub redis_prefix: String,
    /// PEM CA certificates trusted for a rediss:// URL, instead of the system's. [default: none, the system roots]
    #[arg(long, value_name = "FILE", help_heading = "Cookies and sessions")]
    pub redis_ca_file: Option<String>,
    /// The Redis Sentinels' own password, for a redis+sentinel:// URL.
    #[arg(long, value_name = "PASSWORD", help_heading = "Cookies and sessions")]
    #[serde(skip_serializing)]
    pub redis_sentinel_password: Option<Secret<String>>,

    /// Upstream header carrying the user's email.
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_email: String,
    /// Upstream header carrying the user's name.
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_name: String,
    /// Upstream header carrying the user's subject id.
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_sub: String,
    /// Upstream header carrying the user's groups.
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_groups: String,
    /// Upstream header carrying the user name.
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_username: String,

    /// Add a short-lived ES256 JWT of the identity to every proxied request and publish its keys at <proxy-prefix>/jwks.json.
    #[arg(long, value_name = "BOOL", help_heading = "Signed identity")]
    pub identity_jwt: String,
    /// Header carrying the signed identity; client-sent copies are always removed.
    #[arg(long, value_name = "HEADER", help_heading = "Signed identity")]
    pub identity_jwt_header: String,
    /// The JWT's aud claim, which the upstream checks. [default: the upstream URL's origin]
    #[arg(long, value_name = "TEXT", help_heading = "Signed identity")]
    pub identity_jwt_audience: Option<String>,
    /// Lifetime of each JWT (exp - iat), 1s to 1h.
    #[arg(long, value_name = "DURATION", help_heading = "Signed identity")]
    pub identity_jwt_ttl: String,
    /// PEM P-256 private key (PKCS#8 or SEC1), so replicas share a key and it survives restarts. [default: none, a new key at each start]
    #[arg(long, value_name = "FILE", help_heading = "Signed identity")]
    pub identity_jwt_key_file: Option<String>,

    /// Send the headers an Application Load Balancer's authenticate-cognito action sends (x-amzn-oidc-data, -identity, -accesstoken) and publish the key at <proxy-prefix>/alb-public-keys/<kid>.
    #[arg(long, value_name = "BOOL", help_heading = "ALB-compatible headers")]
    pub alb_headers: String,
    /// The ALB ARN in each x-amzn-oidc-data token's signer, as your apps expect it; required with alb-headers.
    #[arg(long, value_name = "ARN", help_heading = "ALB-compatible headers")]
    pub alb_signer: Option<String>,
    /// PEM P-256 private key (PKCS#8 or SEC1) signing x-amzn-oidc-data, so replicas share it. [default: none, a new key at each start]
    #[arg(long, value_name = "FILE", help_heading = "ALB-compatible headers")]
    pub alb_key_file: Option<String>,

    /// Status of a successful /oauth2/auth answer: 202, or 200 for Envoy ext_authz. [default: 200 with forward-auth-ingress envoy, else 202]
    #[arg(long, value_name = "STATUS", help_heading = "Forward auth")]
    pub forward_auth_status: Option<String>,
    /// /oauth2/auth redirects browser navigations to sign-in instead of 401 (Traefik ForwardAuth). [default: true with forward-auth-ingress traefik, else false]
    #[arg(long, value_name = "BOOL", help_heading = "Forward auth")]
    pub forward_auth_redirect: Option<String>,
    /// Which ingress calls /oauth2/auth, so only its own headers describe the original request (nginx|traefik|envoy|generic).
    #[arg(long, value_name = "INGRESS", help_heading = "Forward auth")]
    pub forward_auth_ingress: String,
    /// generic ingress: the header holding the original method. [default: none, the auth request's own]
    #[arg(long, value_name = "HEADER", help_heading = "Forward auth")]
    pub forward_auth_method_header: Option<String>,
    /// generic ingress: the header holding the original URL (absolute, or a path). [required with generic]
    #[arg(long, value_name = "HEADER", help_heading = "Forward auth")]
    pub forward_auth_url_header: Option<String>,
    /// generic ingress: the header holding the original host when the URL header holds a path.
    #[arg(long, value_name = "HEADER", help_heading = "Forward auth")]
    pub forward_auth_host_header: Option<String>,

    /// Separate listener for Prometheus /metrics, e.g. 127.0.0.1:9090.
    #[arg(long, value_name = "IP:PORT", help_heading = "Observability")]
    pub metrics_address: Option<String>,
    /// Log lines as pretty text or JSON (pretty|json); level from SIDECAR_LOG.
    #[arg(long, value_name = "FORMAT", help_heading = "Observability")]
    pub log_format: String,

    /// PEM certificate chain to serve HTTPS with (HTTP/2 and HTTP/1.1); reloaded when it changes. [default: none, plain HTTP]
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_cert_file: Option<String>,
    /// PEM private key of tls-cert-file; reloaded with it.
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_key_file: Option<String>,
    /// PEM CA certificates trusted for an https upstream, instead of the system's. [default: none, the system roots]
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub upstream_ca_file: Option<String>,
    /// Send the client's Host upstream; false sends the upstream URL's host (name-based virtual hosts).
    #[arg(long, value_name = "BOOL", help_heading = "TLS")]
    pub pass_host_header: String,
    /// Also serve HTTP/2 without TLS (h2c, prior knowledge) on the plain listener.
    #[arg(long, value_name = "BOOL", help_heading = "TLS")]
    pub h2c: String,

    /// Connecting to the provider.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub idp_connect_timeout: String,
    /// A whole provider request.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub idp_timeout: String,
    /// Connecting to the upstream.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub upstream_connect_timeout: String,
    /// Waiting for the upstream's response headers.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub upstream_timeout: String,
    /// Reading a client's request headers.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub client_header_timeout: String,
    /// HTTP/2 keep-alive ping interval for clients; an idle HTTP/1.1 connection closes after client-header-timeout.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub idle_timeout: String,
    /// Time open requests get to finish at shutdown.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub shutdown_grace: String,

    /// Largest request header block accepted.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_header_bytes: String,
    /// Concurrent client connections.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_connections: String,
    /// Threads serving requests, each with its own runtime and upstream pool. [default: one per core]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub workers: Option<String>,
    /// Largest provider answer read (token, discovery, JWKS).
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_idp_body_bytes: String,
    /// Sign-ins in progress kept per browser.
    #[arg(long, value_name = "N", help_heading = "Limits")]
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
        let text = |s: &str| s.to_string();
        Self {
            listen: vec![text("[::]:4180"), text("0.0.0.0:4180")],
            upstream: None,
            proxy_prefix: text("/oauth2"),
            ping_path: text("/ping"),
            ready_path: text("/ready"),
            allowed_redirect_domains: Vec::new(),
            trusted_proxies: Vec::new(),
            provider: ProviderSettings::default(),
            allowed_email_domains: Vec::new(),
            allowed_emails: Vec::new(),
            allowed_groups: Vec::new(),
            skip_auth_routes: Vec::new(),
            skip_auth_preflight: text("false"),
            cookie_secret: Vec::new(),
            cookie_secret_file: Vec::new(),
            cookie_secure: text("true"),
            cookie_name: text("_cognito_sidecar"),
            cookie_domain: None,
            session_ttl: text("12h"),
            session_idle_timeout: text("1h"),
            session_refresh_interval: text("1h"),
            session_max_bytes: text("256MiB"),
            sessions_per_user: text("10"),
            session_store: None,
            redis_url: None,
            redis_url_file: None,
            redis_prefix: text("cognito-sidecar:"),
            redis_ca_file: None,
            redis_sentinel_password: None,
            header_email: text("X-User-Email"),
            header_name: text("X-User-Name"),
            header_sub: text("X-User-Sub"),
            header_groups: text("X-User-Groups"),
            header_username: text("X-User-Username"),
            identity_jwt: text("false"),
            identity_jwt_header: text("X-Sidecar-Identity"),
            identity_jwt_audience: None,
            identity_jwt_ttl: text("60s"),
            identity_jwt_key_file: None,
            alb_headers: text("false"),
            alb_signer: None,
            alb_key_file: None,
            forward_auth_status: None,
            forward_auth_redirect: None,
            forward_auth_ingress: text("nginx"),
            forward_auth_method_header: None,
            forward_auth_url_header: None,
            forward_auth_host_header: None,
            metrics_address: None,
            log_format: text("pretty"),
            tls_cert_file: None,
            tls_key_file: None,
            upstream_ca_file: None,
            pass_host_header: text("true"),
            h2c: text("false"),
            idp_connect_timeout: text("5s"),
            idp_timeout: text("15s"),
            upstream_connect_timeout: text("5s"),
            upstream_timeout: text("60s"),
            client_header_timeout: text("10s"),
            idle_timeout: text("60s"),
            shutdown_grace: text("10s"),
            max_header_bytes: text("16KiB"),
            max_connections: text("10000"),
            workers: None,
            max_idp_body_bytes: text("1MiB"),
            max_pending_logins: text("5"),
            providers: Vec::new(),
            routes: Vec::new(),
        }
    }
}

/// One identity provider: the flat settings' own, or a `[[provider]]` table's.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
#[serde(default)]
pub struct ProviderSettings {
    /// Issuer URL; https, or http only on a loopback host. [required]
    #[arg(long, value_name = "URL", help_heading = "Identity provider")]
    pub issuer_url: Option<String>,
    /// Discovery document URL. [default: <issuer-url>/.well-known/openid-configuration]
    #[arg(long, value_name = "URL", help_heading = "Identity provider")]
    pub discovery_url: Option<String>,
    /// cognito or oidc. [default: cognito when the issuer host starts with cognito-idp., else oidc]
    #[arg(long, value_name = "KIND", help_heading = "Identity provider")]
    pub provider: Option<String>,
    /// OAuth2 client id. [required]
    #[arg(long, value_name = "ID", help_heading = "Identity provider")]
    pub client_id: Option<String>,
    /// OAuth2 client secret; leave unset for a public client.
    #[arg(long, value_name = "SECRET", help_heading = "Identity provider")]
    #[serde(skip_serializing)]
    pub client_secret: Option<Secret<String>>,
    /// File holding the client secret (trailing newline ignored).
    #[arg(long, value_name = "FILE", help_heading = "Identity provider")]
    pub client_secret_file: Option<String>,
    /// Callback URL registered at the provider, absolute http(s), no fragment. [required]
    #[arg(long, value_name = "URL", help_heading = "Identity provider")]
    pub redirect_url: Option<String>,
    /// Where the provider sends the browser after sign-out. [default: <redirect-url origin><proxy-prefix>/signed_out]
    #[arg(long, value_name = "URL", help_heading = "Identity provider")]
    pub sign_out_url: Option<String>,
    /// Scopes, separated by spaces or commas; must contain openid.
    #[arg(long, value_name = "SCOPES", help_heading = "Identity provider")]
    #[serde(deserialize_with = "de::words")]
    pub scope: Vec<String>,
    /// Cognito identity_provider hint, e.g. Google.
    #[arg(long, value_name = "NAME", help_heading = "Identity provider")]
    pub identity_provider: Option<String>,
    /// Accept email addresses the provider has not verified.
    #[arg(long, value_name = "BOOL", help_heading = "Identity provider")]
    pub allow_unverified_email: String,
    /// Accept `Authorization: Bearer` ID or access tokens of this pool for API clients.
    #[arg(long, value_name = "BOOL", help_heading = "Identity provider")]
    pub bearer_tokens: String,
    /// App client ids whose bearer tokens are accepted. [default: the client-id]
    #[arg(long, value_name = "ID", help_heading = "Identity provider")]
    #[serde(deserialize_with = "de::words")]
    pub api_client_ids: Vec<String>,
    /// Scopes a bearer access token must all carry.
    #[arg(long, value_name = "SCOPE", help_heading = "Identity provider")]
    #[serde(deserialize_with = "de::words")]
    pub api_scopes: Vec<String>,
    /// Claim holding the user's groups. [default: cognito:groups for cognito, groups for oidc]
    #[arg(long, value_name = "CLAIM", help_heading = "Identity provider")]
    pub groups_claim: Option<String>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            issuer_url: None,
            discovery_url: None,
            provider: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            redirect_url: None,
            sign_out_url: None,
            scope: ["openid", "email", "profile"].map(String::from).to_vec(),
            identity_provider: None,
            allow_unverified_email: "false".into(),
            bearer_tokens: "true".into(),
            api_client_ids: Vec::new(),
            api_scopes: Vec::new(),
            groups_claim: None,
        }
    }
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
