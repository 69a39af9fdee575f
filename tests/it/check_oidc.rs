//! `cognito-sidecar check` for the `oidc` kind, against the independent
//! OpenID provider of oidc_provider.rs (panva's oidc-provider): its own error
//! pages and answers, not the mock's. Needs scripts/install-test-deps.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cognito_sidecar::check::{self, Outcome, Report};
use cognito_sidecar::config::{Config, MapSource, RunArgs};
use serde_json::json;

use crate::oidc_harness::OidcProvider;
use crate::support::{bounded, RecordingUpstream, COOKIE_SECRET};

const CLIENT_ID: &str = "sidecar-check-test";
const CLIENT_SECRET: &str = "check: s3cr3t+with/special~chars";
const BASE: &str = "http://127.0.0.1:4180";

/// The provider with one client whose callback and sign-out URLs are on `base`.
async fn provider(base: &str) -> OidcProvider {
    OidcProvider::start(json!({
        "accounts": {},
        "client": {
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [format!("{base}/oauth2/callback")],
            "post_logout_redirect_uris": [format!("{base}/oauth2/signed_out")],
        },
    }))
    .await
}

async fn check(
    provider: &OidcProvider,
    upstream: &RecordingUpstream,
    base: &str,
    overrides: &[(&str, &str)],
) -> Report {
    let mut env: Vec<(String, String)> = [
        ("SIDECAR_PROVIDER", "oidc".to_string()),
        ("SIDECAR_ISSUER_URL", provider.issuer.clone()),
        ("SIDECAR_UPSTREAM", format!("http://{}", upstream.addr)),
        ("SIDECAR_CLIENT_ID", CLIENT_ID.into()),
        ("SIDECAR_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("SIDECAR_REDIRECT_URL", format!("{base}/oauth2/callback")),
        ("SIDECAR_SCOPE", "openid email profile".into()),
        ("SIDECAR_COOKIE_SECRET", COOKIE_SECRET.into()),
        ("SIDECAR_COOKIE_SECURE", "false".into()),
        ("SIDECAR_IDP_TIMEOUT", "5s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in overrides {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    let config = Config::load(&RunArgs::default(), &MapSource(env.into_iter().collect()))
        .unwrap_or_else(|e| panic!("config: {e}"));
    bounded(check::run(&config)).await
}

fn only_problem(report: &Report) -> (&'static str, Option<&'static str>, String) {
    let problems: Vec<_> = report.problems().collect();
    assert_eq!(problems.len(), 1, "{}", report.to_text());
    (
        problems[0].check,
        problems[0].setting,
        problems[0].message.clone(),
    )
}

#[tokio::test]
async fn oidc_provider_set_up_right_and_each_wrong_way() {
    let provider = provider(BASE).await;
    let upstream = RecordingUpstream::start().await;

    let report = check(&provider, &upstream, BASE, &[]).await;
    assert!(
        report.findings.iter().all(|f| f.outcome == Outcome::Ok),
        "{}",
        report.to_text()
    );
    assert_eq!(report.exit_code(), 0);

    let report = check(
        &provider,
        &upstream,
        BASE,
        &[("SIDECAR_CLIENT_SECRET", "wrong")],
    )
    .await;
    let (check_name, setting, message) = only_problem(&report);
    assert_eq!(
        (check_name, setting),
        ("client-credentials", Some("client-secret")),
        "{message}"
    );
    assert!(message.contains("invalid_client"), "{message}");

    let report = check(
        &provider,
        &upstream,
        BASE,
        &[("SIDECAR_CLIENT_ID", "nobody")],
    )
    .await;
    let (check_name, setting, message) = only_problem(&report);
    assert_eq!(
        (check_name, setting),
        ("client-credentials", Some("client-id")),
        "{message}"
    );

    let callback = format!("{BASE}/other/callback");
    let report = check(
        &provider,
        &upstream,
        BASE,
        &[("SIDECAR_REDIRECT_URL", callback.as_str())],
    )
    .await;
    let (check_name, setting, message) = only_problem(&report);
    assert_eq!(
        (check_name, setting),
        ("callback-url", Some("redirect-url")),
        "{message}"
    );
    assert!(message.contains(&callback), "{message}");

    let sign_out = format!("{BASE}/goodbye");
    let report = check(
        &provider,
        &upstream,
        BASE,
        &[("SIDECAR_SIGN_OUT_URL", sign_out.as_str())],
    )
    .await;
    let (check_name, setting, message) = only_problem(&report);
    assert_eq!(
        (check_name, setting),
        ("sign-out-url", Some("sign-out-url")),
        "{message}"
    );
    assert!(message.contains(&sign_out), "{message}");

    let slash = format!("{}/realm/", provider.issuer);
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
    let overrides = [
        ("SIDECAR_ISSUER_URL", slash.as_str()),
        ("SIDECAR_DISCOVERY_URL", discovery.as_str()),
    ];
    let report = check(&provider, &upstream, BASE, &overrides).await;
    let (check_name, setting, message) = only_problem(&report);
    assert_eq!(
        (check_name, setting),
        ("issuer", Some("issuer-url")),
        "{message}"
    );
    assert!(
        message.contains(&format!("set issuer-url to {}", provider.issuer)),
        "{message}"
    );
}

#[tokio::test]
async fn oidc_secure_cookies_on_plain_http_away_from_localhost_are_the_only_problem() {
    // Unlike Cognito, this provider takes an http:// callback on any host, so
    // the cookie is the one thing wrong.
    let base = "http://app.test:4180";
    let provider = provider(base).await;
    let upstream = RecordingUpstream::start().await;
    let report = check(
        &provider,
        &upstream,
        base,
        &[("SIDECAR_COOKIE_SECURE", "true")],
    )
    .await;
    let (check_name, setting, message) = only_problem(&report);
    assert_eq!(
        (check_name, setting),
        ("cookie-secure", Some("cookie-secure")),
        "{message}"
    );
    assert!(
        message.contains("http://app.test:4180/oauth2/callback"),
        "{message}"
    );
}
