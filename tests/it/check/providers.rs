//! Several providers: each is checked, and hosts the cookie cannot reach are
//! named; a Cognito pool checked as `oidc` names the provider setting.

use super::*;

#[tokio::test]
async fn every_provider_is_checked_and_hosts_the_cookie_cannot_reach_are_named() {
    let setup = Setup::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sidecar.toml");
    let table = format!(
        "[[provider]]\nname = \"staff\"\nhosts = [\"staff.example.org\"]\nprovider = \"cognito\"\n\
         issuer_url = \"{}\"\ndiscovery_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"wrong\"\n",
        setup.mock.issuer(),
        setup.mock.discovery_url(),
        cognito_sidecar::mock::DEMO_CLIENT_ID,
    );
    std::fs::write(&file, table).unwrap();
    let report = setup
        .check(&[("SIDECAR_CONFIG", file.to_str().unwrap())])
        .await;
    let problems: Vec<(Option<&str>, &str, Option<&str>)> = report
        .problems()
        .map(|f| (f.provider.as_deref(), f.check, f.setting))
        .collect();
    assert_eq!(
        problems,
        [
            (Some("staff"), "client-credentials", Some("client-secret")),
            (None, "cookie-domain", Some("cookie-domain")),
        ],
        "{}",
        describe(&report)
    );
    let reach = report
        .problems()
        .find(|f| f.check == "cookie-domain")
        .unwrap();
    assert!(
        reach.message.contains("staff.example.org"),
        "{}",
        reach.message
    );
    assert!(
        reach.message.contains("[[provider]] staff"),
        "{}",
        reach.message
    );
    let default_ok = report
        .findings
        .iter()
        .filter(|f| f.provider.as_deref() == Some("default"))
        .all(|f| f.outcome == Outcome::Ok);
    assert!(default_ok, "{}", describe(&report));
}

#[tokio::test]
async fn a_cognito_pool_checked_as_oidc_names_the_provider_setting() {
    // An issuer on a host not named cognito-idp.* makes `provider` default to
    // oidc; sign-out is where a Cognito pool then fails.
    let setup = Setup::start().await;
    let report = setup.check(&[("SIDECAR_PROVIDER", "oidc")]).await;
    assert_only(
        &report,
        "sign-out-url",
        Some("provider"),
        &["set provider=cognito", "/logout?client_id="],
    );
}
