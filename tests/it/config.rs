//! `Config::load` end to end: layers, defaults, every validation problem, secrets.

// Test helpers outside `#[test]` fns fail loudly too.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cognito_sidecar::config::{ClientAuth, Config, ConfigError, MapSource, ProviderKind, RunArgs};

const COOKIE_SECRET: &str = "cookie-secret-0123456789abcdef-xyz";

/// The binary's shape: RunArgs flattened beside subcommands.
#[derive(Parser, Debug)]
#[command(version, term_width = 200)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    Demo,
    MockCognito,
}

fn args(argv: &[&str]) -> RunArgs {
    Cli::try_parse_from(std::iter::once("cognito-sidecar").chain(argv.iter().copied()))
        .unwrap()
        .run
}

fn minimal_env() -> Vec<(&'static str, String)> {
    [
        ("SIDECAR_UPSTREAM", "http://127.0.0.1:8080"),
        ("SIDECAR_ISSUER_URL", "https://login.example.com"),
        ("SIDECAR_CLIENT_ID", "the-client"),
        (
            "SIDECAR_REDIRECT_URL",
            "https://app.example.com/oauth2/callback",
        ),
        ("SIDECAR_COOKIE_SECRET", COOKIE_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

/// The minimal environment with `extra` replacing or adding variables.
fn env(extra: &[(&'static str, &str)]) -> MapSource {
    let mut vars = minimal_env();
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k, (*v).to_string()));
    }
    MapSource::new(vars)
}

fn load(argv: &[&str], extra: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
    Config::load(&args(argv), &env(extra))
}

fn problems(argv: &[&str], extra: &[(&'static str, &str)]) -> Vec<String> {
    load(argv, extra)
        .unwrap_err()
        .to_string()
        .lines()
        .map(str::to_string)
        .collect()
}

fn temp_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_fill_everything_not_given() {
    let c = load(&[], &[]).unwrap();
    assert_eq!(
        c.listen,
        vec![
            "[::]:4180".parse().unwrap(),
            "0.0.0.0:4180".parse().unwrap()
        ]
    );
    assert_eq!(c.upstream.as_str(), "http://127.0.0.1:8080/");
    let p = &c.provider;
    assert_eq!(p.kind, ProviderKind::Oidc);
    assert_eq!(
        p.discovery_url.as_str(),
        "https://login.example.com/.well-known/openid-configuration"
    );
    assert!(matches!(p.client_auth, ClientAuth::None));
    assert_eq!(
        p.sign_out_url.as_str(),
        "https://app.example.com/oauth2/signed_out"
    );
    assert_eq!(p.scope, "openid email profile");
    assert_eq!(
        (p.identity_provider.as_deref(), p.allow_unverified_email),
        (None, false)
    );
    assert_eq!(c.cookie.name, "_cognito_sidecar");
    assert_eq!(c.cookie.secrets.len(), 1);
    assert_eq!(c.cookie.secrets[0].expose(), COOKIE_SECRET.as_bytes());
    assert!(c.cookie.secure && c.cookie.domain.is_none());
    assert_eq!(c.session.ttl, Duration::from_secs(12 * 3600));
    assert_eq!(c.session.idle_timeout, Duration::from_secs(3600));
    assert_eq!(
        (c.session.max_bytes, c.session.max_per_user),
        (256 << 20, 10)
    );
    assert!(c.allowed_redirect_domains.is_empty() && c.trusted_proxies.is_empty());
    assert_eq!(
        (
            c.proxy_prefix.as_str(),
            c.ping_path.as_str(),
            c.ready_path.as_str()
        ),
        ("/oauth2", "/ping", "/ready")
    );
    let h = &c.headers;
    let names = [&h.email, &h.name, &h.sub, &h.groups, &h.username].map(|n| n.as_str());
    assert_eq!(
        names,
        [
            "x-user-email",
            "x-user-name",
            "x-user-sub",
            "x-user-groups",
            "x-user-username"
        ]
    );
    let t = &c.timeouts;
    let secs = [
        t.idp_connect,
        t.idp_total,
        t.upstream_connect,
        t.upstream_headers,
        t.client_header_read,
    ];
    assert_eq!(secs.map(|d| d.as_secs()), [5, 15, 5, 60, 10]);
    assert_eq!(
        (t.idle_keepalive.as_secs(), t.shutdown_grace.as_secs()),
        (60, 10)
    );
    let l = &c.limits;
    assert_eq!(
        (l.max_request_header_bytes, l.max_connections),
        (16 * 1024, 10_000)
    );
    assert_eq!((l.max_idp_body_bytes, l.max_pending_logins), (1 << 20, 5));
}

#[test]
fn flags_beat_environment_beat_file() {
    let file = temp_file(
        "client_id = \"from-file\"\nsession_ttl = \"1h\"\nscope = \"openid file\"\ncookie_name = \"file_cookie\"\n",
    );
    let path = file.path().to_str().unwrap();
    let extra = [
        ("SIDECAR_CONFIG", path),
        ("SIDECAR_SESSION_TTL", "2h"),
        ("SIDECAR_COOKIE_NAME", "env_cookie"),
    ];
    let mut vars = minimal_env();
    vars.retain(|(k, _)| *k != "SIDECAR_CLIENT_ID");
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_string())));
    let c = Config::load(
        &args(&["--cookie-name", "flag_cookie"]),
        &MapSource::new(vars),
    )
    .unwrap();
    assert_eq!(c.provider.client_id, "from-file");
    assert_eq!(c.provider.scope, "openid file");
    assert_eq!(c.session.ttl, Duration::from_secs(7200));
    assert_eq!(c.cookie.name, "flag_cookie");
}

#[test]
fn config_flag_beats_config_env() {
    let env_file = temp_file("cookie_name = \"from_env_file\"\n");
    let flag_file = temp_file("cookie_name = \"from_flag_file\"\n");
    let argv = ["--config", flag_file.path().to_str().unwrap()];
    let c = load(
        &argv,
        &[("SIDECAR_CONFIG", env_file.path().to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(c.cookie.name, "from_flag_file");
}

#[test]
fn a_file_can_hold_everything_required() {
    let text = format!(
        "upstream = \"http://127.0.0.1:9\"\nissuer_url = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P00l\"\n\
         client_id = \"abc\"\nredirect_url = \"https://a.example/oauth2/callback\"\ncookie_secret = [\"{COOKIE_SECRET}\", \"{COOKIE_SECRET}-old\"]\n\
         listen = [\"127.0.0.1:4180\"]\ncookie_secure = false\ntrusted_proxies = \"10.0.0.0/8, 192.168.1.1\"\n"
    );
    let file = temp_file(&text);
    let c = Config::load(
        &args(&["--config", file.path().to_str().unwrap()]),
        &MapSource::default(),
    )
    .unwrap();
    assert_eq!(c.provider.kind, ProviderKind::Cognito);
    let disc = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P00l/.well-known/openid-configuration";
    assert_eq!(c.provider.discovery_url.as_str(), disc);
    assert_eq!(c.cookie.secrets.len(), 2);
    assert!(!c.cookie.secure);
    assert_eq!(c.listen, vec!["127.0.0.1:4180".parse().unwrap()]);
    let proxies: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.1/32"]);
}

#[test]
fn unknown_file_keys_are_errors() {
    let file = temp_file("client_id = \"x\"\nclient-secret = \"hunter2\"\nclinet_id = \"y\"\n");
    let got = problems(&["--config", file.path().to_str().unwrap()], &[]);
    assert_eq!(
        got,
        [
            r#"config: unknown key in the config file (got "client-secret")"#,
            r#"config: unknown key in the config file (got "clinet_id")"#,
        ]
    );
}

#[test]
fn unreadable_file_stops_before_other_checks() {
    let got = problems(
        &["--config", "/nonexistent/sidecar.toml"],
        &[("SIDECAR_UPSTREAM", "nope")],
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("config: cannot read the file: "),
        "{got:?}"
    );
}

#[test]
fn flags_lists_and_repeats() {
    let argv = [
        "--listen",
        "127.0.0.1:1,127.0.0.1:2",
        "--listen",
        "[::1]:3",
        "--allowed-redirect-domains",
        ".Example.com",
    ];
    let c = load(
        &argv,
        &[("SIDECAR_ALLOWED_REDIRECT_DOMAINS", "ignored.example")],
    )
    .unwrap();
    assert_eq!(c.listen.len(), 3);
    assert_eq!(c.allowed_redirect_domains, [".example.com"]);
}

/// One bad value per setting and the exact line it must produce.
const BAD: &[(&str, &str, &str)] = &[
    (
        "SIDECAR_LISTEN",
        "localhost:80",
        r#"listen: must be IP:port, e.g. 0.0.0.0:4180 or [::]:4180 (got "localhost:80")"#,
    ),
    (
        "SIDECAR_UPSTREAM",
        "ftp://x",
        r#"upstream: must be an http:// or https:// URL (got "ftp://x")"#,
    ),
    (
        "SIDECAR_ISSUER_URL",
        "http://idp.example.com",
        r#"issuer-url: must be https:// (http:// is allowed only for localhost, 127.0.0.0/8 and ::1) (got "http://idp.example.com")"#,
    ),
    (
        "SIDECAR_DISCOVERY_URL",
        "/x",
        r#"discovery-url: must be an absolute URL (relative URL without a base) (got "/x")"#,
    ),
    (
        "SIDECAR_PROVIDER",
        "okta",
        r#"provider: must be cognito or oidc (got "okta")"#,
    ),
    (
        "SIDECAR_REDIRECT_URL",
        "https://a.example/cb#x",
        r#"redirect-url: must not have a #fragment (got "https://a.example/cb#x")"#,
    ),
    (
        "SIDECAR_SIGN_OUT_URL",
        "javascript:alert(1)",
        r#"sign-out-url: must be an http:// or https:// URL (got "javascript:alert(1)")"#,
    ),
    (
        "SIDECAR_COOKIE_SECRET",
        "too-short",
        r#"cookie-secret: must be at least 32 bytes (make one with: openssl rand -base64 48) (got "[redacted]")"#,
    ),
    (
        "SIDECAR_COOKIE_SECURE",
        "maybe",
        r#"cookie-secure: must be true/false/1/0/yes/no (got "maybe")"#,
    ),
    (
        "SIDECAR_COOKIE_NAME",
        "a=b",
        r#"cookie-name: must be a cookie name (letters, digits and !#$%&'*+-.^_`|~) (got "a=b")"#,
    ),
    (
        "SIDECAR_COOKIE_DOMAIN",
        "exa mple.com",
        r#"cookie-domain: must be a host name like example.com or .example.com (got "exa mple.com")"#,
    ),
    (
        "SIDECAR_ALLOWED_REDIRECT_DOMAINS",
        "ok.com,bad/x",
        r#"allowed-redirect-domains: must be a host name like example.com or .example.com (got "bad/x")"#,
    ),
    (
        "SIDECAR_TRUSTED_PROXIES",
        "10.0.0.0/99",
        r#"trusted-proxies: must be an IP address or CIDR network (got "10.0.0.0/99")"#,
    ),
    (
        "SIDECAR_SCOPE",
        "email profile",
        r#"scope: must contain openid (got "email profile")"#,
    ),
    (
        "SIDECAR_SESSION_TTL",
        "0",
        r#"session-ttl: must be more than zero (got "0")"#,
    ),
    (
        "SIDECAR_SESSION_IDLE_TIMEOUT",
        "1w",
        r#"session-idle-timeout: must be a duration like 90s, 30m, 12h, 7d or plain seconds (got "1w")"#,
    ),
    (
        "SIDECAR_SESSION_MAX_BYTES",
        "1TB",
        r#"session-max-bytes: must be a size like 16KiB, 256MiB, 1GiB or plain bytes (got "1TB")"#,
    ),
    (
        "SIDECAR_SESSIONS_PER_USER",
        "0",
        r#"sessions-per-user: must be at least 1 (got "0")"#,
    ),
    (
        "SIDECAR_ALLOW_UNVERIFIED_EMAIL",
        "sure",
        r#"allow-unverified-email: must be true/false/1/0/yes/no (got "sure")"#,
    ),
    (
        "SIDECAR_PROXY_PREFIX",
        "/oauth2/",
        r#"proxy-prefix: must not end with / (use e.g. /oauth2) (got "/oauth2/")"#,
    ),
    (
        "SIDECAR_PING_PATH",
        "ping",
        r#"ping-path: must start with a single / (got "ping")"#,
    ),
    (
        "SIDECAR_READY_PATH",
        "/re ady",
        r#"ready-path: must be a plain path without ?, #, %, \ or spaces (got "/re ady")"#,
    ),
    (
        "SIDECAR_HEADER_EMAIL",
        "X Email",
        r#"header-email: must be a valid HTTP header name (got "X Email")"#,
    ),
    (
        "SIDECAR_HEADER_NAME",
        "a:b",
        r#"header-name: must be a valid HTTP header name (got "a:b")"#,
    ),
    (
        "SIDECAR_HEADER_GROUPS",
        "(g)",
        r#"header-groups: must be a valid HTTP header name (got "(g)")"#,
    ),
    (
        "SIDECAR_HEADER_USERNAME",
        "ü",
        r#"header-username: must be a valid HTTP header name (got "ü")"#,
    ),
    (
        "SIDECAR_IDP_CONNECT_TIMEOUT",
        "5x",
        r#"idp-connect-timeout: must be a duration like 90s, 30m, 12h, 7d or plain seconds (got "5x")"#,
    ),
    (
        "SIDECAR_IDP_TIMEOUT",
        "0s",
        r#"idp-timeout: must be more than zero (got "0s")"#,
    ),
    (
        "SIDECAR_UPSTREAM_CONNECT_TIMEOUT",
        "-1",
        r#"upstream-connect-timeout: must be a duration like 90s, 30m, 12h, 7d or plain seconds (got "-1")"#,
    ),
    (
        "SIDECAR_UPSTREAM_TIMEOUT",
        "1.5s",
        r#"upstream-timeout: must be a duration like 90s, 30m, 12h, 7d or plain seconds (got "1.5s")"#,
    ),
    (
        "SIDECAR_CLIENT_HEADER_TIMEOUT",
        "0ms",
        r#"client-header-timeout: must be more than zero (got "0ms")"#,
    ),
    (
        "SIDECAR_IDLE_TIMEOUT",
        "soon",
        r#"idle-timeout: must be a duration like 90s, 30m, 12h, 7d or plain seconds (got "soon")"#,
    ),
    (
        "SIDECAR_SHUTDOWN_GRACE",
        "99999999999999999d",
        r#"shutdown-grace: is too large (got "99999999999999999d")"#,
    ),
    (
        "SIDECAR_MAX_HEADER_BYTES",
        "0",
        r#"max-header-bytes: must be more than zero (got "0")"#,
    ),
    (
        "SIDECAR_MAX_CONNECTIONS",
        "many",
        r#"max-connections: must be a whole number (got "many")"#,
    ),
    (
        "SIDECAR_MAX_IDP_BODY_BYTES",
        "1 PiB",
        r#"max-idp-body-bytes: must be a size like 16KiB, 256MiB, 1GiB or plain bytes (got "1 PiB")"#,
    ),
    (
        "SIDECAR_MAX_PENDING_LOGINS",
        "0",
        r#"max-pending-logins: must be at least 1 (got "0")"#,
    ),
];

#[test]
fn every_bad_value_yields_its_line() {
    for (key, value, line) in BAD {
        assert_eq!(problems(&[], &[(key, value)]), [*line], "{key}={value}");
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let bad: Vec<(&'static str, &str)> = BAD.iter().map(|(k, v, _)| (*k, *v)).collect();
    let got = problems(&[], &bad);
    let want: Vec<&str> = BAD.iter().map(|(_, _, l)| *l).collect();
    for line in &want {
        assert!(got.iter().any(|g| g == line), "missing {line}\nin {got:#?}");
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
}

#[test]
fn missing_required_settings_are_each_named() {
    let got = Config::load(&RunArgs::default(), &MapSource::default())
        .unwrap_err()
        .to_string();
    let want = "upstream: is required but not set\n\
                issuer-url: is required but not set\n\
                client-id: is required but not set\n\
                redirect-url: is required but not set\n\
                cookie-secret: is required but not set (or set cookie-secret-file)";
    assert_eq!(got, want);
}

#[test]
fn http_issuer_only_on_loopback() {
    for ok in [
        "http://localhost:9000/pool",
        "http://127.0.0.1:9000",
        "http://[::1]:9000",
    ] {
        let c = load(&[], &[("SIDECAR_ISSUER_URL", ok)]).unwrap();
        assert_eq!(c.provider.issuer.scheme(), "http", "{ok}");
    }
    for bad in [
        "http://10.0.0.1",
        "http://localhost.evil.com",
        "http://127.0.0.1.nip.io",
    ] {
        let got = problems(&[], &[("SIDECAR_ISSUER_URL", bad)]);
        assert!(
            got[0].starts_with("issuer-url: must be https://"),
            "{bad}: {got:?}"
        );
    }
}

#[test]
fn provider_is_detected_unless_given() {
    let cognito = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";
    assert_eq!(
        load(&[], &[("SIDECAR_ISSUER_URL", cognito)])
            .unwrap()
            .provider
            .kind,
        ProviderKind::Cognito
    );
    let c = load(&["--provider", "oidc"], &[("SIDECAR_ISSUER_URL", cognito)]).unwrap();
    assert_eq!(c.provider.kind, ProviderKind::Oidc);
    let c = load(
        &[],
        &[
            ("SIDECAR_ISSUER_URL", "http://127.0.0.1:9/x"),
            ("SIDECAR_PROVIDER", "COGNITO"),
        ],
    )
    .unwrap();
    assert_eq!(c.provider.kind, ProviderKind::Cognito);
}

#[test]
fn booleans_accept_the_usual_spellings() {
    for (value, want) in [
        ("true", true),
        ("1", true),
        ("YES", true),
        ("false", false),
        ("0", false),
        ("no", false),
    ] {
        let c = load(
            &["--allow-unverified-email", value],
            &[("SIDECAR_COOKIE_SECURE", value)],
        )
        .unwrap();
        assert_eq!(
            (c.cookie.secure, c.provider.allow_unverified_email),
            (want, want),
            "{value}"
        );
    }
}

#[test]
fn secret_files_are_read_and_trimmed() {
    let client = temp_file("client-s3cret\n");
    let cookies = temp_file(&format!("{COOKIE_SECRET}\r\n{COOKIE_SECRET}-previous\n\n"));
    let extra = [
        (
            "SIDECAR_CLIENT_SECRET_FILE",
            client.path().to_str().unwrap(),
        ),
        ("SIDECAR_COOKIE_SECRET", ""),
    ];
    let c = load(
        &["--cookie-secret-file", cookies.path().to_str().unwrap()],
        &extra,
    )
    .unwrap();
    let ClientAuth::Secret(secret) = &c.provider.client_auth else {
        panic!("no client secret")
    };
    assert_eq!(secret.expose(), "client-s3cret");
    let got: Vec<&[u8]> = c
        .cookie
        .secrets
        .iter()
        .map(|s| s.expose().as_slice())
        .collect();
    assert_eq!(
        got,
        [
            COOKIE_SECRET.as_bytes(),
            format!("{COOKIE_SECRET}-previous").as_bytes()
        ]
    );
}

#[test]
fn secret_file_problems_name_the_path_not_the_secret() {
    let short = temp_file("hunter2\n");
    let path = short.path().to_str().unwrap();
    let got = problems(&["--cookie-secret-file", path], &[]);
    assert_eq!(
        got,
        [format!(
            "cookie-secret-file: every secret in the file must be at least 32 bytes (make one with: openssl rand -base64 48) (got {path:?})"
        )]
    );
    let got = problems(
        &[],
        &[("SIDECAR_CLIENT_SECRET_FILE", "/nonexistent/secret")],
    );
    assert!(
        got[0].starts_with("client-secret-file: cannot read the file: "),
        "{got:?}"
    );
}

#[test]
fn a_secret_and_its_file_in_one_layer_conflict() {
    let got = problems(
        &[],
        &[
            ("SIDECAR_CLIENT_SECRET", "x"),
            ("SIDECAR_CLIENT_SECRET_FILE", "/x"),
        ],
    );
    assert_eq!(
        got,
        ["client-secret: set together with client-secret-file in the environment; use one"]
    );
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let argv = [
        "--client-secret",
        "hunter2-client",
        "--cookie-secret",
        "hunter2-short",
    ];
    let err = load(&argv, &[("SIDECAR_UPSTREAM", "bad")]).unwrap_err();
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{:?}", args(&argv)),
    ] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    let long = "hunter2-hunter2-hunter2-hunter2-hunter2";
    let c = load(&["--client-secret", long, "--cookie-secret", long], &[]).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
    let file = temp_file(&format!(
        "client_secret = \"{long}\"\ncookie_secret = \"x\"\n"
    ));
    let err = load(
        &["--config", file.path().to_str().unwrap()],
        &[("SIDECAR_COOKIE_SECRET", "")],
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[test]
fn run_args_flatten_beside_subcommands() {
    let cli = Cli::try_parse_from(["cognito-sidecar", "--client-id", "x", "demo"]).unwrap();
    assert!(matches!(cli.command, Some(Command::Demo)));
    assert_eq!(cli.run.flag("client-id"), Some("x"));
    let help = Cli::try_parse_from(["cognito-sidecar", "--help"])
        .unwrap_err()
        .to_string();
    assert!(
        help.contains("--cookie-secret-file <FILE>") && help.contains("[default: /oauth2]"),
        "{help}"
    );
}

#[test]
fn unknown_sidecar_variables_are_warnings_naming_the_closest_setting() {
    let c = load(
        &[],
        &[
            ("SIDECAR_COOKIE_DOMIAN", "example.com"),
            ("SIDECAR_LOG", "debug"),
            ("SIDECAR_TOTALLY_UNRELATED_THING", "1"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.warnings,
        [
            "SIDECAR_COOKIE_DOMIAN is not a setting and is ignored; did you mean SIDECAR_COOKIE_DOMAIN (cookie-domain)?",
            "SIDECAR_TOTALLY_UNRELATED_THING is not a setting and is ignored (see --help for every setting)",
        ]
    );
    assert!(c.cookie.domain.is_none());
    assert!(load(&[], &[]).unwrap().warnings.is_empty());
}

#[test]
fn a_misspelt_variable_is_named_beside_the_setting_it_leaves_unset() {
    let lines = problems(
        &[],
        &[
            ("SIDECAR_UPSTREAM", ""),
            ("SIDECAR_UPSTRAEM", "http://127.0.0.1:8080"),
        ],
    );
    assert_eq!(
        lines,
        [
            "upstream: is required but not set",
            "warning: SIDECAR_UPSTRAEM is not a setting and is ignored; did you mean SIDECAR_UPSTREAM (upstream)?",
        ]
    );
}

#[test]
fn lists_without_spaces_in_values_take_commas_or_spaces() {
    for scope in [
        "openid,email,profile",
        "openid email profile",
        "openid, email  profile",
    ] {
        let c = load(&["--scope", scope], &[]).unwrap();
        assert_eq!(c.provider.scope, "openid email profile", "{scope}");
    }
    let c = load(
        &[],
        &[("SIDECAR_TRUSTED_PROXIES", "10.0.0.0/8 192.168.1.1,::1")],
    )
    .unwrap();
    assert_eq!(c.trusted_proxies.len(), 3);
    let c = load(&[], &[("SIDECAR_ALLOWED_GROUPS", "Team A,Team B")]).unwrap();
    assert_eq!(
        c.authz.rules.groups,
        ["Team A", "Team B"],
        "group names keep their spaces"
    );
    assert_eq!(
        problems(&["--scope", "email,profile"], &[]),
        [r#"scope: must contain openid (got "email profile")"#]
    );
}
