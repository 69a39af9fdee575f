//! `cognito-sidecar check` against the mock Cognito set up right and then each
//! wrong way: every single mistake gives exactly one problem line, naming the
//! setting to change (other lines stay ok, or could-not-check when they depend
//! on the broken part). Also through the real [`binary`] (exit code, text,
//! JSON) with the start-up warnings of `run`, and with several [`providers`].
//! The `oidc` kind is in check_oidc.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod binary;
mod providers;

use std::process::Stdio;
use std::time::Duration;

use cognito_sidecar::check::{self, Finding, Outcome, Report};
use cognito_sidecar::mock::{MockClient, MockConfig, MockHandle, DEMO_CLIENT_SECRET};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::{self, bounded, RecordingUpstream};

/// The sidecar's public origin in these tests; nothing listens there, the
/// check only sends it to the IdP.
const BASE: &str = "http://127.0.0.1:4180";

struct Setup {
    mock: MockHandle,
    upstream: RecordingUpstream,
}

impl Setup {
    async fn start() -> Self {
        Self::with_pool(MockConfig::demo()).await
    }

    async fn with_pool(pool: MockConfig) -> Self {
        let mock = support::start_mock_for(pool, BASE).await;
        let upstream = RecordingUpstream::start().await;
        Self { mock, upstream }
    }

    /// The run settings as `SIDECAR_*` pairs, with `overrides` on top.
    fn env(&self, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let overrides: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut env = vec![
            ("SIDECAR_UPSTREAM", format!("http://{}", self.upstream.addr)),
            ("SIDECAR_ISSUER_URL", self.mock.issuer()),
            ("SIDECAR_DISCOVERY_URL", self.mock.discovery_url()),
            ("SIDECAR_PROVIDER", "cognito".into()),
            (
                "SIDECAR_CLIENT_ID",
                cognito_sidecar::mock::DEMO_CLIENT_ID.into(),
            ),
            ("SIDECAR_CLIENT_SECRET", DEMO_CLIENT_SECRET.into()),
            ("SIDECAR_REDIRECT_URL", format!("{BASE}/oauth2/callback")),
            ("SIDECAR_SIGN_OUT_URL", format!("{BASE}/oauth2/signed_out")),
            ("SIDECAR_COOKIE_SECRET", support::COOKIE_SECRET.into()),
            ("SIDECAR_COOKIE_SECURE", "false".into()),
            ("SIDECAR_IDP_TIMEOUT", "3s".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<Vec<_>>();
        env.retain(|(k, _)| !overrides.iter().any(|(o, _)| o == k));
        env.extend(overrides);
        env
    }

    async fn check(&self, overrides: &[(&str, &str)]) -> Report {
        // Through the environment, as the `check` command reads it.
        let env = cognito_sidecar::config::MapSource(self.env(overrides).into_iter().collect());
        let config = cognito_sidecar::config::Config::load(&Default::default(), &env)
            .unwrap_or_else(|e| panic!("test config: {e}"));
        bounded(check::run(&config)).await
    }
}

fn describe(report: &Report) -> String {
    report.to_text()
}

/// Every check ok (or the given ones could not tell), exit code 0.
fn assert_all_ok(report: &Report) {
    assert!(
        report.findings.iter().all(|f| f.outcome == Outcome::Ok),
        "{}",
        describe(report)
    );
    assert_eq!(report.exit_code(), 0);
}

/// Exactly one problem: `check` naming `setting`, its message containing
/// each of `words`; every other line is ok or could not check.
fn assert_only(report: &Report, check: &str, setting: Option<&str>, words: &[&str]) -> Finding {
    let problems: Vec<&Finding> = report.problems().collect();
    assert_eq!(problems.len(), 1, "{}", describe(report));
    let problem = problems[0].clone();
    assert_eq!(problem.check, check, "{}", describe(report));
    assert_eq!(problem.setting, setting, "{}", describe(report));
    for word in words {
        assert!(
            problem.message.contains(word),
            "{word:?} not in {:?}",
            problem.message
        );
    }
    assert_eq!(report.exit_code(), 1);
    problem
}

fn outcome(report: &Report, check: &str) -> Outcome {
    report
        .findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} line: {}", describe(report)))
        .outcome
}

#[tokio::test]
async fn a_correct_setup_is_all_ok() {
    let setup = Setup::start().await;
    let report = setup.check(&[]).await;
    assert_all_ok(&report);
    let checks: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
    for expected in [
        "discovery",
        "issuer",
        "clock",
        "jwks",
        "client-credentials",
        "callback-url",
        "scope",
        "sign-out-url",
        "cookie-secure",
        "cookie-domain",
        "upstream",
    ] {
        assert!(checks.contains(&expected), "{expected}: {checks:?}");
    }
    // A known external identity provider as hint is fine too.
    let report = setup
        .check(&[("SIDECAR_IDENTITY_PROVIDER", "Google")])
        .await;
    assert_all_ok(&report);
    assert_eq!(outcome(&report, "identity-provider"), Outcome::Ok);
}

#[tokio::test]
async fn a_wrong_client_secret_is_named() {
    let setup = Setup::start().await;
    let report = setup
        .check(&[("SIDECAR_CLIENT_SECRET", "not-the-secret")])
        .await;
    let p = assert_only(
        &report,
        "client-credentials",
        Some("client-secret"),
        &["invalid_client", "/oauth2/token", "client-secret is wrong"],
    );
    assert!(!p.message.contains("not-the-secret"), "{}", p.message);
    assert!(!describe(&report).contains("not-the-secret"));
}

#[tokio::test]
async fn a_wrong_client_id_is_named_not_the_callback() {
    let setup = Setup::start().await;
    let report = setup
        .check(&[("SIDECAR_CLIENT_ID", "1example23456789abcdefghij")])
        .await;
    assert_only(
        &report,
        "client-credentials",
        Some("client-id"),
        &[
            "no app client 1example23456789abcdefghij",
            "check client-id",
        ],
    );
    assert_eq!(outcome(&report, "callback-url"), Outcome::CouldNotCheck);
    assert_eq!(outcome(&report, "sign-out-url"), Outcome::CouldNotCheck);
}

#[tokio::test]
async fn public_clients_are_told_apart() {
    let mut pool = MockConfig::demo();
    pool.clients.push(MockClient {
        client_id: "public-spa-client".into(),
        client_secret: None,
        scopes: ["openid", "email", "profile"].map(String::from).to_vec(),
        ..pool.clients[0].clone()
    });
    let setup = Setup::with_pool(pool).await;
    let public = [
        ("SIDECAR_CLIENT_ID", "public-spa-client"),
        ("SIDECAR_CLIENT_SECRET", ""),
    ];
    let report = setup.check(&public).await;
    assert_all_ok(&report);
    let line = report
        .findings
        .iter()
        .find(|f| f.check == "client-credentials")
        .unwrap();
    assert!(line.message.contains("public client"), "{}", line.message);

    let given_a_secret = [("SIDECAR_CLIENT_ID", "public-spa-client")];
    let report = setup.check(&given_a_secret).await;
    assert_only(
        &report,
        "client-credentials",
        Some("client-secret"),
        &["is public", "remove client-secret"],
    );

    let report = setup.check(&[("SIDECAR_CLIENT_SECRET", "")]).await;
    assert_only(
        &report,
        "client-credentials",
        Some("client-secret"),
        &["without a secret", "set client-secret"],
    );
}

#[tokio::test]
async fn an_unregistered_callback_url_is_named() {
    let setup = Setup::start().await;
    let url = format!("{BASE}/oauth2/callback/");
    let report = setup.check(&[("SIDECAR_REDIRECT_URL", url.as_str())]).await;
    assert_only(
        &report,
        "callback-url",
        Some("redirect-url"),
        &[&url, "redirect_mismatch", "/oauth2/authorize"],
    );
    assert_eq!(outcome(&report, "client-credentials"), Outcome::Ok);
}

#[tokio::test]
async fn an_unregistered_sign_out_url_is_named() {
    let setup = Setup::start().await;
    let url = format!("{BASE}/goodbye");
    let report = setup.check(&[("SIDECAR_SIGN_OUT_URL", url.as_str())]).await;
    assert_only(
        &report,
        "sign-out-url",
        Some("sign-out-url"),
        &[
            &url,
            "/logout?client_id=",
            "HTTP 302",
            "error=redirect_mismatch",
        ],
    );
}

#[tokio::test]
async fn a_scope_the_pool_does_not_know_is_named() {
    let setup = Setup::start().await;
    let report = setup
        .check(&[("SIDECAR_SCOPE", "openid email orders/read")])
        .await;
    assert_only(
        &report,
        "scope",
        Some("scope"),
        &["invalid_scope", "openid email orders/read"],
    );
}

#[tokio::test]
async fn an_identity_provider_the_pool_does_not_know_is_named() {
    let setup = Setup::start().await;
    let report = setup.check(&[("SIDECAR_IDENTITY_PROVIDER", "Okta")]).await;
    assert_only(
        &report,
        "identity-provider",
        Some("identity-provider"),
        &[
            "identity_provider=Okta",
            "no identity provider of that name",
        ],
    );
}

#[tokio::test]
async fn an_issuer_with_a_trailing_slash_is_named() {
    let setup = Setup::start().await;
    let issuer = format!("{}/", setup.mock.issuer());
    let report = setup
        .check(&[("SIDECAR_ISSUER_URL", issuer.as_str())])
        .await;
    assert_only(
        &report,
        "issuer",
        Some("issuer-url"),
        &[
            "trailing slash",
            &format!("set issuer-url to {}", setup.mock.issuer()),
        ],
    );
}

#[tokio::test]
async fn a_wrong_pool_id_or_region_is_named() {
    let setup = Setup::start().await;
    let wrong_pool = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool";
    let report = setup.check(&[("SIDECAR_ISSUER_URL", wrong_pool)]).await;
    assert_only(
        &report,
        "issuer",
        Some("issuer-url"),
        &[
            "user pool ID differs",
            "us-east-1_OtherPool",
            &setup.mock.pool_id(),
        ],
    );
    let wrong_region = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_DemoPool1";
    let report = setup.check(&[("SIDECAR_ISSUER_URL", wrong_region)]).await;
    assert_only(
        &report,
        "issuer",
        Some("issuer-url"),
        &["region differs", "eu-west-1", "us-east-1"],
    );
}

#[tokio::test]
async fn the_hosted_login_domain_as_issuer_is_recognised() {
    // The mock's base URL is its hosted-login domain (a custom domain, as
    // far as the check can tell): discovery is not there, /oauth2/authorize is.
    let setup = Setup::start().await;
    let domain = setup.mock.base_url();
    let report = setup
        .check(&[
            ("SIDECAR_ISSUER_URL", domain.as_str()),
            ("SIDECAR_DISCOVERY_URL", ""),
        ])
        .await;
    assert_only(
        &report,
        "issuer",
        Some("issuer-url"),
        &[
            "hosted-login domain",
            "https://cognito-idp.<region>.amazonaws.com/<user pool id>",
        ],
    );
    assert_eq!(outcome(&report, "discovery"), Outcome::CouldNotCheck);
    // A Cognito prefix domain is recognised without asking it (and its region kept).
    let prefix = "https://my-app.auth.eu-west-1.amazoncognito.com";
    let report = setup
        .check(&[
            ("SIDECAR_ISSUER_URL", prefix),
            ("SIDECAR_DISCOVERY_URL", ""),
        ])
        .await;
    assert_only(
        &report,
        "issuer",
        Some("issuer-url"),
        &["https://cognito-idp.eu-west-1.amazonaws.com/<user pool id>"],
    );
}

#[tokio::test]
async fn secure_cookies_on_plain_http_away_from_localhost_are_named() {
    // Cognito also refuses such a callback URL, and says so: both lines name
    // the one mistake (plain http on a host that is not localhost).
    let setup = Setup::start().await;
    let report = setup
        .check(&[
            (
                "SIDECAR_REDIRECT_URL",
                "http://app.test:4180/oauth2/callback",
            ),
            ("SIDECAR_COOKIE_SECURE", "true"),
        ])
        .await;
    let problems: Vec<(&str, Option<&str>)> =
        report.problems().map(|f| (f.check, f.setting)).collect();
    assert_eq!(
        problems,
        [
            ("callback-url", Some("redirect-url")),
            ("cookie-secure", Some("cookie-secure"))
        ],
        "{}",
        describe(&report)
    );
    for p in report.problems() {
        assert!(p.message.contains("http"), "{}", p.message);
        assert!(p.message.contains("localhost"), "{}", p.message);
    }
    // The same on localhost is fine: browsers keep Secure cookies there.
    let report = setup.check(&[("SIDECAR_COOKIE_SECURE", "true")]).await;
    assert_all_ok(&report);
}

#[tokio::test]
async fn a_cookie_domain_that_misses_the_host_is_named() {
    let setup = Setup::start().await;
    let report = setup
        .check(&[("SIDECAR_COOKIE_DOMAIN", "example.com")])
        .await;
    assert_only(
        &report,
        "cookie-domain",
        Some("cookie-domain"),
        &["does not cover 127.0.0.1"],
    );
    let report = setup
        .check(&[("SIDECAR_ALLOWED_REDIRECT_DOMAINS", "app.example.org")])
        .await;
    assert_only(
        &report,
        "cookie-domain",
        Some("cookie-domain"),
        &["never reaches app.example.org", "allowed-redirect-domains"],
    );
}

#[tokio::test]
async fn clock_skew_beyond_the_leeway_is_named() {
    let setup = Setup::start().await;
    setup.mock.set_clock_offset(300);
    let report = setup.check(&[]).await;
    let p = assert_only(&report, "clock", None, &["behind", "NTP"]);
    let skew: u64 = p
        .message
        .split(" s ")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((299..=301).contains(&skew), "{}", p.message);
    setup.mock.set_clock_offset(-30);
    assert_all_ok(&setup.check(&[]).await);
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_is_named() {
    let setup = Setup::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}/");
    let report = setup.check(&[("SIDECAR_UPSTREAM", url.as_str())]).await;
    assert_only(
        &report,
        "upstream",
        Some("upstream"),
        &[&url, "did not answer"],
    );
}

#[tokio::test]
async fn an_identity_provider_that_does_not_answer_leaves_the_rest_open() {
    let setup = Setup::start().await;
    let discovery = setup.mock.discovery_url();
    setup.mock.clone().shutdown().await;
    let report = setup.check(&[]).await;
    assert_only(
        &report,
        "discovery",
        Some("discovery-url"),
        &[&discovery, "could not fetch"],
    );
    for open in [
        "jwks",
        "client-credentials",
        "callback-url",
        "sign-out-url",
        "clock",
    ] {
        assert_eq!(outcome(&report, open), Outcome::CouldNotCheck, "{open}");
    }
}
