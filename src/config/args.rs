//! Command-line flags: the highest layer. Values stay raw text here so that a bad
//! flag is reported together with every other problem by `validate`.
//!
//! No clap `env` attributes: the environment is read through [`super::Source`]
//! so tests never touch the process environment.

use std::path::PathBuf;

use clap::Args;

use super::source::Layer;
use crate::secret::Secret;

/// Explains the layers; for the binary's `after_help`.
pub const LAYERING_HELP: &str = "\
Settings come from, lowest first: defaults < TOML file (--config, SIDECAR_CONFIG) < environment < flags.
Every flag has an environment variable SIDECAR_<FLAG> (upper snake case, e.g. SIDECAR_CLIENT_ID) and a
TOML key <flag> (snake case, e.g. client_id). Lists take a repeated flag, a comma list or a TOML array.
Prefer the *-file forms for secrets: flags show up in the process list.";

/// Every setting of the sidecar, each `None` unless given on the command line.
#[derive(Args, Debug, Default, Clone)]
pub struct RunArgs {
    /// TOML config file (keys are the flag names in snake case). [default: none]
    #[arg(long, value_name = "FILE", help_heading = "Config file")]
    pub config: Option<PathBuf>,

    /// Address to listen on, repeatable or comma separated. [default: [::]:4180, falling back to 0.0.0.0:4180 without IPv6]
    #[arg(long, value_name = "IP:PORT", help_heading = "Proxy")]
    pub listen: Option<Vec<String>>,
    /// The app to protect, an http(s) URL. [required]
    #[arg(long, value_name = "URL", help_heading = "Proxy")]
    pub upstream: Option<String>,
    /// Path prefix of the sidecar's own endpoints; starts with /, no trailing slash. [default: /oauth2]
    #[arg(long, value_name = "PATH", help_heading = "Proxy")]
    pub proxy_prefix: Option<String>,
    /// Liveness endpoint. [default: /ping]
    #[arg(long, value_name = "PATH", help_heading = "Proxy")]
    pub ping_path: Option<String>,
    /// Readiness endpoint. [default: /ready]
    #[arg(long, value_name = "PATH", help_heading = "Proxy")]
    pub ready_path: Option<String>,
    /// Hosts the return-to URL may point to besides our own; a leading . allows subdomains. [default: none]
    #[arg(long, value_name = "DOMAIN", help_heading = "Proxy")]
    pub allowed_redirect_domains: Option<Vec<String>>,
    /// Peers whose X-Forwarded-* headers are believed: CIDRs or bare IPs. [default: none]
    #[arg(long, value_name = "CIDR", help_heading = "Proxy")]
    pub trusted_proxies: Option<Vec<String>>,

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
    /// OAuth2 client secret; leave unset for a public client. [default: none]
    #[arg(long, value_name = "SECRET", help_heading = "Identity provider")]
    pub client_secret: Option<Secret<String>>,
    /// File holding the client secret (trailing newline ignored). [default: none]
    #[arg(long, value_name = "FILE", help_heading = "Identity provider")]
    pub client_secret_file: Option<String>,
    /// Callback URL registered at the provider, absolute http(s), no fragment. [required]
    #[arg(long, value_name = "URL", help_heading = "Identity provider")]
    pub redirect_url: Option<String>,
    /// Where the provider sends the browser after sign-out. [default: <redirect-url origin><proxy-prefix>/signed_out]
    #[arg(long, value_name = "URL", help_heading = "Identity provider")]
    pub sign_out_url: Option<String>,
    /// Space-separated scopes; must contain openid. [default: openid email profile]
    #[arg(long, value_name = "SCOPES", help_heading = "Identity provider")]
    pub scope: Option<String>,
    /// Cognito identity_provider hint, e.g. Google. [default: none]
    #[arg(long, value_name = "NAME", help_heading = "Identity provider")]
    pub identity_provider: Option<String>,
    /// Accept email addresses the provider has not verified. [default: false]
    #[arg(long, value_name = "BOOL", help_heading = "Identity provider")]
    pub allow_unverified_email: Option<String>,
    /// Accept `Authorization: Bearer` ID or access tokens of this pool for API clients. [default: true]
    #[arg(long, value_name = "BOOL", help_heading = "Identity provider")]
    pub bearer_tokens: Option<String>,
    /// App client ids whose bearer tokens are accepted. [default: the client-id]
    #[arg(long, value_name = "ID", help_heading = "Identity provider")]
    pub api_client_ids: Option<Vec<String>>,
    /// Scopes a bearer access token must all carry. [default: none]
    #[arg(long, value_name = "SCOPE", help_heading = "Identity provider")]
    pub api_scopes: Option<Vec<String>>,
    /// Claim holding the user's groups. [default: cognito:groups for cognito, groups for oidc]
    #[arg(long, value_name = "CLAIM", help_heading = "Identity provider")]
    pub groups_claim: Option<String>,

    /// Only users whose verified email is in these domains; .example.com allows its subdomains. [default: any]
    #[arg(long, value_name = "DOMAIN", help_heading = "Authorization")]
    pub allowed_email_domains: Option<Vec<String>>,
    /// Only users with one of these verified emails. [default: any]
    #[arg(long, value_name = "EMAIL", help_heading = "Authorization")]
    pub allowed_emails: Option<Vec<String>>,
    /// Only users in at least one of these groups (names with commas: use a [[route]] table). [default: any]
    #[arg(long, value_name = "GROUP", help_heading = "Authorization")]
    pub allowed_groups: Option<Vec<String>>,
    /// Requests forwarded without sign-in: [METHOD ]PATH, PATH exact, or a prefix when it ends in / or *. [default: none]
    #[arg(long, value_name = "ROUTE", help_heading = "Authorization")]
    pub skip_auth_routes: Option<Vec<String>>,
    /// Forward CORS preflights (OPTIONS with Origin and Access-Control-Request-Method) without sign-in. [default: false]
    #[arg(long, value_name = "BOOL", help_heading = "Authorization")]
    pub skip_auth_preflight: Option<String>,

    /// Cookie secret, 32+ bytes; repeat or comma separate to rotate (the first seals). [required, or --cookie-secret-file]
    #[arg(long, value_name = "SECRET", help_heading = "Cookies and sessions")]
    pub cookie_secret: Option<Vec<Secret<String>>>,
    /// File(s) holding cookie secrets, one per line. [default: none]
    #[arg(long, value_name = "FILE", help_heading = "Cookies and sessions")]
    pub cookie_secret_file: Option<Vec<String>>,
    /// Mark cookies Secure (true/false/1/0/yes/no). [default: true]
    #[arg(long, value_name = "BOOL", help_heading = "Cookies and sessions")]
    pub cookie_secure: Option<String>,
    /// Session cookie name. [default: _cognito_sidecar]
    #[arg(long, value_name = "NAME", help_heading = "Cookies and sessions")]
    pub cookie_name: Option<String>,
    /// Cookie Domain attribute. [default: none, host-only]
    #[arg(long, value_name = "DOMAIN", help_heading = "Cookies and sessions")]
    pub cookie_domain: Option<String>,
    /// Absolute session lifetime (90s, 30m, 12h, 7d or seconds). [default: 12h]
    #[arg(long, value_name = "DURATION", help_heading = "Cookies and sessions")]
    pub session_ttl: Option<String>,
    /// A session unused this long ends. [default: 1h]
    #[arg(long, value_name = "DURATION", help_heading = "Cookies and sessions")]
    pub session_idle_timeout: Option<String>,
    /// Tokens older than this are refreshed at the next request, so a refresh token revoked at the IdP ends the session within it. [default: 1h]
    #[arg(long, value_name = "DURATION", help_heading = "Cookies and sessions")]
    pub session_refresh_interval: Option<String>,
    /// Memory for the session store (bytes, KiB, MiB, GiB). [default: 256MiB]
    #[arg(long, value_name = "BYTES", help_heading = "Cookies and sessions")]
    pub session_max_bytes: Option<String>,
    /// Live sessions per user; the oldest goes first. [default: 10]
    #[arg(long, value_name = "N", help_heading = "Cookies and sessions")]
    pub sessions_per_user: Option<String>,
    /// Where sessions live: memory (one replica) or redis (shared by replicas). [default: redis when a Redis URL is set, else memory]
    #[arg(long, value_name = "STORE", help_heading = "Cookies and sessions")]
    pub session_store: Option<String>,
    /// Redis for shared sessions: redis://[:password@]host[:port][/db], or rediss:// for TLS. [default: none]
    #[arg(long, value_name = "URL", help_heading = "Cookies and sessions")]
    pub redis_url: Option<Secret<String>>,
    /// File holding the Redis URL (it may hold a password). [default: none]
    #[arg(long, value_name = "FILE", help_heading = "Cookies and sessions")]
    pub redis_url_file: Option<String>,
    /// Prefix of every Redis key, to share one Redis between deployments. [default: cognito-sidecar:]
    #[arg(long, value_name = "PREFIX", help_heading = "Cookies and sessions")]
    pub redis_prefix: Option<String>,
    /// PEM CA certificates trusted for a rediss:// URL, instead of the system's. [default: none, the system roots]
    #[arg(long, value_name = "FILE", help_heading = "Cookies and sessions")]
    pub redis_ca_file: Option<String>,

    /// Upstream header carrying the user's email. [default: X-User-Email]
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_email: Option<String>,
    /// Upstream header carrying the user's name. [default: X-User-Name]
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_name: Option<String>,
    /// Upstream header carrying the user's subject id. [default: X-User-Sub]
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_sub: Option<String>,
    /// Upstream header carrying the user's groups. [default: X-User-Groups]
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_groups: Option<String>,
    /// Upstream header carrying the user name. [default: X-User-Username]
    #[arg(long, value_name = "HEADER", help_heading = "Identity headers")]
    pub header_username: Option<String>,

    /// Add a short-lived ES256 JWT of the identity to every proxied request and publish its keys at <proxy-prefix>/jwks.json. [default: false]
    #[arg(long, value_name = "BOOL", help_heading = "Signed identity")]
    pub identity_jwt: Option<String>,
    /// Header carrying the signed identity; client-sent copies are always removed. [default: X-Sidecar-Identity]
    #[arg(long, value_name = "HEADER", help_heading = "Signed identity")]
    pub identity_jwt_header: Option<String>,
    /// The JWT's aud claim, which the upstream checks. [default: the upstream URL's origin]
    #[arg(long, value_name = "TEXT", help_heading = "Signed identity")]
    pub identity_jwt_audience: Option<String>,
    /// Lifetime of each JWT (exp - iat), 1s to 1h. [default: 60s]
    #[arg(long, value_name = "DURATION", help_heading = "Signed identity")]
    pub identity_jwt_ttl: Option<String>,
    /// PEM P-256 private key (PKCS#8 or SEC1), so replicas share a key and it survives restarts. [default: none, a new key at each start]
    #[arg(long, value_name = "FILE", help_heading = "Signed identity")]
    pub identity_jwt_key_file: Option<String>,

    /// Send the headers an Application Load Balancer's authenticate-cognito action sends (x-amzn-oidc-data, -identity, -accesstoken) and publish the key at <proxy-prefix>/alb-public-keys/<kid>. [default: false]
    #[arg(long, value_name = "BOOL", help_heading = "ALB-compatible headers")]
    pub alb_headers: Option<String>,
    /// The ALB ARN in each x-amzn-oidc-data token's signer, as your apps expect it; required with alb-headers. [default: none]
    #[arg(long, value_name = "ARN", help_heading = "ALB-compatible headers")]
    pub alb_signer: Option<String>,
    /// PEM P-256 private key (PKCS#8 or SEC1) signing x-amzn-oidc-data, so replicas share it. [default: none, a new key at each start]
    #[arg(long, value_name = "FILE", help_heading = "ALB-compatible headers")]
    pub alb_key_file: Option<String>,

    /// Status of a successful /oauth2/auth answer: 202, or 200 for Envoy ext_authz. [default: 202]
    #[arg(long, value_name = "STATUS", help_heading = "Forward auth")]
    pub forward_auth_status: Option<String>,
    /// /oauth2/auth redirects browser navigations to sign-in instead of 401 (Traefik ForwardAuth). [default: false]
    #[arg(long, value_name = "BOOL", help_heading = "Forward auth")]
    pub forward_auth_redirect: Option<String>,
    /// Which ingress calls /oauth2/auth, so only its own headers describe the original request (nginx|traefik|envoy|generic). [default: nginx]
    #[arg(long, value_name = "INGRESS", help_heading = "Forward auth")]
    pub forward_auth_ingress: Option<String>,
    /// generic ingress: the header holding the original method. [default: none, the auth request's own]
    #[arg(long, value_name = "HEADER", help_heading = "Forward auth")]
    pub forward_auth_method_header: Option<String>,
    /// generic ingress: the header holding the original URL (absolute, or a path). [required with generic]
    #[arg(long, value_name = "HEADER", help_heading = "Forward auth")]
    pub forward_auth_url_header: Option<String>,
    /// generic ingress: the header holding the original host when the URL header holds a path. [default: none]
    #[arg(long, value_name = "HEADER", help_heading = "Forward auth")]
    pub forward_auth_host_header: Option<String>,

    /// Separate listener for Prometheus /metrics, e.g. 127.0.0.1:9090. [default: none]
    #[arg(long, value_name = "IP:PORT", help_heading = "Observability")]
    pub metrics_address: Option<String>,
    /// Log lines as pretty text or JSON (pretty|json); level from SIDECAR_LOG. [default: pretty]
    #[arg(long, value_name = "FORMAT", help_heading = "Observability")]
    pub log_format: Option<String>,

    /// PEM certificate chain to serve HTTPS with (HTTP/2 and HTTP/1.1); reloaded when it changes. [default: none, plain HTTP]
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_cert_file: Option<String>,
    /// PEM private key of tls-cert-file; reloaded with it. [default: none]
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub tls_key_file: Option<String>,
    /// PEM CA certificates trusted for an https upstream, instead of the system's. [default: none, the system roots]
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub upstream_ca_file: Option<String>,
    /// Send the client's Host upstream; false sends the upstream URL's host (name-based virtual hosts). [default: true]
    #[arg(long, value_name = "BOOL", help_heading = "TLS")]
    pub pass_host_header: Option<String>,
    /// Also serve HTTP/2 without TLS (h2c, prior knowledge) on the plain listener. [default: false]
    #[arg(long, value_name = "BOOL", help_heading = "TLS")]
    pub h2c: Option<String>,

    /// Connecting to the provider. [default: 5s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub idp_connect_timeout: Option<String>,
    /// A whole provider request. [default: 15s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub idp_timeout: Option<String>,
    /// Connecting to the upstream. [default: 5s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub upstream_connect_timeout: Option<String>,
    /// Waiting for the upstream's response headers. [default: 60s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub upstream_timeout: Option<String>,
    /// Reading a client's request headers. [default: 10s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub client_header_timeout: Option<String>,
    /// HTTP/2 keep-alive ping interval for clients; an idle HTTP/1.1 connection closes after client-header-timeout. [default: 60s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub idle_timeout: Option<String>,
    /// Time open requests get to finish at shutdown. [default: 10s]
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts")]
    pub shutdown_grace: Option<String>,

    /// Largest request header block accepted. [default: 16KiB]
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_header_bytes: Option<String>,
    /// Concurrent client connections. [default: 10000]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_connections: Option<String>,
    /// Threads serving requests, each with its own runtime and upstream pool. [default: one per core]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub workers: Option<String>,
    /// Largest provider answer read (token, discovery, JWKS). [default: 1MiB]
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_idp_body_bytes: Option<String>,
    /// Sign-ins in progress kept per browser. [default: 5]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_pending_logins: Option<String>,
}

impl RunArgs {
    /// The flags that were given, as a raw layer.
    pub(crate) fn layer(&self) -> Layer {
        let mut l = Layer::new("the command line");
        let mut one = |name: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                l.values.insert(name, vec![v.clone()]);
            }
        };
        one("upstream", &self.upstream);
        one("proxy-prefix", &self.proxy_prefix);
        one("ping-path", &self.ping_path);
        one("ready-path", &self.ready_path);
        one("issuer-url", &self.issuer_url);
        one("discovery-url", &self.discovery_url);
        one("provider", &self.provider);
        one("client-id", &self.client_id);
        one(
            "client-secret",
            &self.client_secret.as_ref().map(|s| s.expose().clone()),
        );
        one("client-secret-file", &self.client_secret_file);
        one("redirect-url", &self.redirect_url);
        one("sign-out-url", &self.sign_out_url);
        one("scope", &self.scope);
        one("identity-provider", &self.identity_provider);
        one("allow-unverified-email", &self.allow_unverified_email);
        one("bearer-tokens", &self.bearer_tokens);
        one("groups-claim", &self.groups_claim);
        one("skip-auth-preflight", &self.skip_auth_preflight);
        one("cookie-secure", &self.cookie_secure);
        one("cookie-name", &self.cookie_name);
        one("cookie-domain", &self.cookie_domain);
        one("session-ttl", &self.session_ttl);
        one("session-idle-timeout", &self.session_idle_timeout);
        one("session-refresh-interval", &self.session_refresh_interval);
        one("session-max-bytes", &self.session_max_bytes);
        one("sessions-per-user", &self.sessions_per_user);
        one("session-store", &self.session_store);
        one(
            "redis-url",
            &self.redis_url.as_ref().map(|s| s.expose().clone()),
        );
        one("redis-url-file", &self.redis_url_file);
        one("redis-prefix", &self.redis_prefix);
        one("redis-ca-file", &self.redis_ca_file);
        self.headers_timeouts_limits(&mut one);
        let secrets = self
            .cookie_secret
            .as_ref()
            .map(|v| v.iter().map(|s| s.expose().clone()).collect());
        for (name, v) in [
            ("listen", &self.listen),
            ("allowed-redirect-domains", &self.allowed_redirect_domains),
            ("trusted-proxies", &self.trusted_proxies),
            ("api-client-ids", &self.api_client_ids),
            ("api-scopes", &self.api_scopes),
            ("allowed-email-domains", &self.allowed_email_domains),
            ("allowed-emails", &self.allowed_emails),
            ("allowed-groups", &self.allowed_groups),
            ("skip-auth-routes", &self.skip_auth_routes),
            ("cookie-secret", &secrets),
            ("cookie-secret-file", &self.cookie_secret_file),
        ] {
            if let Some(v) = v {
                l.values.insert(name, v.clone());
            }
        }
        l
    }

    fn headers_timeouts_limits(&self, one: &mut impl FnMut(&'static str, &Option<String>)) {
        one("header-email", &self.header_email);
        one("header-name", &self.header_name);
        one("header-sub", &self.header_sub);
        one("header-groups", &self.header_groups);
        one("header-username", &self.header_username);
        one("idp-connect-timeout", &self.idp_connect_timeout);
        one("idp-timeout", &self.idp_timeout);
        one("identity-jwt", &self.identity_jwt);
        one("identity-jwt-header", &self.identity_jwt_header);
        one("identity-jwt-audience", &self.identity_jwt_audience);
        one("identity-jwt-ttl", &self.identity_jwt_ttl);
        one("identity-jwt-key-file", &self.identity_jwt_key_file);
        one("alb-headers", &self.alb_headers);
        one("alb-signer", &self.alb_signer);
        one("alb-key-file", &self.alb_key_file);
        one("forward-auth-status", &self.forward_auth_status);
        one("forward-auth-redirect", &self.forward_auth_redirect);
        one("forward-auth-ingress", &self.forward_auth_ingress);
        one(
            "forward-auth-method-header",
            &self.forward_auth_method_header,
        );
        one("forward-auth-url-header", &self.forward_auth_url_header);
        one("forward-auth-host-header", &self.forward_auth_host_header);
        one("h2c", &self.h2c);
        one("metrics-address", &self.metrics_address);
        one("log-format", &self.log_format);
        one("tls-cert-file", &self.tls_cert_file);
        one("tls-key-file", &self.tls_key_file);
        one("upstream-ca-file", &self.upstream_ca_file);
        one("pass-host-header", &self.pass_host_header);
        one("upstream-connect-timeout", &self.upstream_connect_timeout);
        one("upstream-timeout", &self.upstream_timeout);
        one("client-header-timeout", &self.client_header_timeout);
        one("idle-timeout", &self.idle_timeout);
        one("shutdown-grace", &self.shutdown_grace);
        one("max-header-bytes", &self.max_header_bytes);
        one("max-connections", &self.max_connections);
        one("workers", &self.workers);
        one("max-idp-body-bytes", &self.max_idp_body_bytes);
        one("max-pending-logins", &self.max_pending_logins);
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::super::source::{Kind, SETTINGS};
    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn flag_names() -> Vec<String> {
        Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .filter(|n| n != "config" && n != "help")
            .collect()
    }

    #[test]
    fn every_setting_has_a_flag_and_every_flag_a_setting() {
        let mut flags = flag_names();
        let mut settings: Vec<String> = SETTINGS.iter().map(|s| s.name.to_string()).collect();
        flags.sort();
        settings.sort();
        assert_eq!(flags, settings);
    }

    #[test]
    fn every_flag_reaches_its_setting() {
        let mut argv = vec!["sidecar".to_string()];
        for s in SETTINGS {
            argv.push(format!("--{}", s.name));
            argv.push(format!("v-{}", s.name));
            if s.kind == Kind::List {
                argv.push(format!("--{}", s.name));
                argv.push("second".into());
            }
        }
        let cli = Cli::try_parse_from(argv).unwrap();
        let layer = cli.run.layer();
        assert_eq!(layer.values.len(), SETTINGS.len());
        for s in SETTINGS {
            let mut want = vec![format!("v-{}", s.name)];
            if s.kind == Kind::List {
                want.push("second".into());
            }
            assert_eq!(layer.values[s.name], want, "{}", s.name);
        }
    }

    #[test]
    fn help_documents_every_flag_and_its_default() {
        for arg in Cli::command().get_arguments() {
            if arg.get_long() == Some("help") {
                continue;
            }
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(
                help.contains("[default: ") || help.contains("[required"),
                "{:?}: {help}",
                arg.get_long()
            );
        }
        let rendered = Cli::command().render_long_help().to_string();
        assert!(rendered.contains("--session-ttl <DURATION>"));
        assert!(rendered.contains("[default: 12h]"));
    }

    #[test]
    fn debug_hides_secrets_given_as_flags() {
        let cli = Cli::try_parse_from([
            "s",
            "--client-secret",
            "hunter2",
            "--cookie-secret",
            "longsecret-longsecret-longsecret",
        ])
        .unwrap();
        let debug = format!("{:?}", cli.run);
        assert!(
            !debug.contains("hunter2") && !debug.contains("longsecret"),
            "{debug}"
        );
        assert!(cli.run.config.is_none());
    }
}
