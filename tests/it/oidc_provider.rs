//! Sign-in and sign-out against a second, independent OpenID Connect provider:
//! panva's certified `oidc-provider` (npm, pinned in tests/oidc/package.json),
//! run by Node from tests/oidc/provider.mjs, with `provider = oidc`.
//!
//! The provider's own login and consent pages are filled in like a person would,
//! so the test goes through its real authorize, token, JWKS and end-session code.
//! Needs `scripts/install-test-deps.sh` to have installed tests/oidc/node_modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use crate::oidc_harness as harness;

use std::time::Duration;

use cognito_sidecar::config::{Config, MapSource, RunArgs};
use cognito_sidecar::server::{self, Running};
use harness::{attr, client, jwt_payload, param, query_of, resolve, OidcProvider};
use serde_json::{json, Value};
use support::{location, navigate, RecordingUpstream, Seen, COOKIE_SECRET};
use tokio::net::TcpListener;

pub(crate) const CLIENT_ID: &str = "sidecar-oidc-test";
/// Basic auth must form-encode this (RFC 6749 2.3.1) for the provider to accept it.
pub(crate) const CLIENT_SECRET: &str = "s3cr3t: with+special%chars/~";
pub(crate) const ADA: &str = "ada-7f3c9b21";
const EVE: &str = "eve-unverified-5e1d";

/// The account claims the provider holds, keyed by account id (the `sub`).
pub(crate) fn accounts() -> Value {
    json!({
        ADA: {
            "email": "Ada.Lovelace@Example.org", "email_verified": true,
            "name": "Ada Lovelace-Ñúñez", "preferred_username": "ada",
            "groups": ["analysts", "Ops, EU"],
        },
        EVE: { "email": "eve@example.org", "email_verified": false, "name": "Eve" },
    })
}

/// Provider, recording upstream and sidecar of one test.
struct Rig {
    provider: OidcProvider,
    upstream: RecordingUpstream,
    _sidecar: Running,
    base: String,
}

/// oidc-provider with the test accounts and one client whose callback and
/// sign-out URLs are on `base`.
async fn start_provider(mut settings: Value, base: &str) -> OidcProvider {
    settings["accounts"] = accounts();
    settings["client"] = json!({
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_uris": [format!("{base}/oauth2/callback")],
        "post_logout_redirect_uris": [format!("{base}/oauth2/signed_out")],
    });
    OidcProvider::start(settings).await
}

impl Rig {
    async fn start(provider_settings: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let provider = start_provider(provider_settings, &base).await;
        let upstream = RecordingUpstream::start().await;
        let config = sidecar_config(&base, &provider.issuer, &upstream);
        let sidecar = server::start_on(config, vec![listener]).unwrap();
        let rig = Self {
            provider,
            upstream,
            _sidecar: sidecar,
            base,
        };
        rig.wait_ready().await;
        rig
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn wait_ready(&self) {
        let client = client(false);
        for _ in 0..150 {
            if let Ok(r) = client.get(self.url("/ready")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the sidecar never became ready against issuer {:?} (provider log: {})",
            self.provider.issuer,
            self.provider.log.lock().unwrap()
        );
    }
}

fn sidecar_config(base: &str, issuer: &str, upstream: &RecordingUpstream) -> Config {
    sidecar_config_with(base, issuer, upstream, &[])
}

/// The sidecar's settings for this provider's test client, plus `extra`.
pub(crate) fn sidecar_config_with(
    base: &str,
    issuer: &str,
    upstream: &RecordingUpstream,
    extra: &[(&str, String)],
) -> Config {
    let env = [
        ("SIDECAR_PROVIDER", "oidc".to_string()),
        ("SIDECAR_ISSUER_URL", issuer.to_string()),
        ("SIDECAR_UPSTREAM", format!("http://{}", upstream.addr)),
        ("SIDECAR_CLIENT_ID", CLIENT_ID.into()),
        ("SIDECAR_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("SIDECAR_REDIRECT_URL", format!("{base}/oauth2/callback")),
        ("SIDECAR_SCOPE", "openid email profile groups".into()),
        ("SIDECAR_COOKIE_SECRET", COOKIE_SECRET.into()),
        ("SIDECAR_COOKIE_SECURE", "false".into()),
        ("SIDECAR_IDP_TIMEOUT", "5s".into()),
        ("SIDECAR_UPSTREAM_TIMEOUT", "3s".into()),
    ];
    let env = env
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Config::load(&RunArgs::default(), &MapSource(env)).unwrap_or_else(|e| panic!("config: {e}"))
}

/// Follows the provider from its authorize URL until it redirects back to the
/// sidecar, filling in its login form (as `account`) and its consent form.
/// Returns the redirect to the sidecar's callback and the prompts answered.
pub(crate) async fn through_provider(
    client: &reqwest::Client,
    authorize: &str,
    account: &str,
    sidecar: &str,
) -> (String, Vec<String>) {
    let (mut url, mut prompts) = (authorize.to_string(), Vec::new());
    for _ in 0..12 {
        let r = client.get(&url).send().await.unwrap();
        if r.status().is_redirection() {
            url = resolve(&url, &location(&r));
            if url.starts_with(sidecar) {
                return (url, prompts);
            }
            continue;
        }
        let status = r.status();
        let page = r.text().await.unwrap();
        assert_eq!(status, 200, "provider page {url}: {page}");
        let form = &page[page.find("<form").expect("a form")..];
        let action = resolve(&url, &attr(form, "action").unwrap());
        let prompt = attr(&form[form.find("name=\"prompt\"").unwrap()..], "value").unwrap();
        let mut fields = vec![("prompt", prompt.clone())];
        if prompt == "login" {
            fields.push(("login", account.to_string()));
            fields.push(("password", "any password".to_string()));
        }
        let r = client.post(&action).form(&fields).send().await.unwrap();
        assert!(r.status().is_redirection(), "{prompt} form: {}", r.status());
        prompts.push(prompt);
        url = resolve(&action, &location(&r));
    }
    panic!("the provider never redirected back to the sidecar (prompts {prompts:?})");
}

/// Navigates to `path`, signs in at the provider as `account` and returns the
/// sidecar's answer to the callback, with the prompts the provider showed.
async fn sign_in(
    rig: &Rig,
    client: &reqwest::Client,
    path: &str,
    account: &str,
) -> (reqwest::Response, Vec<String>) {
    let r = navigate(client, &rig.url(path)).await;
    assert_eq!(r.status(), 302, "no session: off to the provider");
    let authorize = location(&r);
    assert!(
        authorize.starts_with(&format!(
            "{}/auth?",
            rig.provider.issuer.trim_end_matches('/')
        )),
        "{authorize}"
    );
    let (callback, prompts) = through_provider(client, &authorize, account, &rig.base).await;
    assert!(
        callback.starts_with(&rig.url("/oauth2/callback?")),
        "{callback}"
    );
    (client.get(&callback).send().await.unwrap(), prompts)
}

/// Signs `account` in at `path`, loads the page, and returns what the upstream saw.
async fn signed_in_request(rig: &Rig, path: &str, account: &str) -> Seen {
    let client = client(true);
    let (r, prompts) = sign_in(rig, &client, path, account).await;
    assert_eq!(r.status(), 302, "the callback succeeds");
    assert_eq!(location(&r), path, "back to the deep link");
    assert_eq!(
        prompts,
        ["login", "consent"],
        "the provider's own pages ran"
    );
    let r = navigate(&client, &rig.url(path)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), format!("upstream:{path}"));
    rig.upstream.last()
}

fn assert_ada(seen: &Seen) {
    assert_eq!(seen.header("x-user-sub"), Some(ADA));
    assert_eq!(
        seen.header("x-user-email"),
        Some("ada.lovelace@example.org")
    );
    assert_eq!(seen.header("x-user-username"), Some("ada"));
    assert_eq!(
        seen.header("x-user-name"),
        Some("Ada Lovelace-%C3%91%C3%BA%C3%B1ez")
    );
    assert_eq!(seen.header("x-user-groups"), Some("analysts,Ops%2C EU"));
}

#[tokio::test]
async fn deep_link_sign_in_at_oidc_provider_lands_on_the_page_with_identity_headers() {
    let rig = Rig::start(json!({})).await;
    let discovery = rig.provider.discovery().await;
    assert_eq!(discovery["issuer"], rig.provider.issuer.as_str());
    assert!(
        !rig.provider.issuer.ends_with('/'),
        "origin-only issuer, no slash"
    );
    let seen = signed_in_request(&rig, "/reports/q3?region=eu&q=a%20b", ADA).await;
    assert_ada(&seen);
}

#[tokio::test]
async fn unverified_email_at_oidc_provider_is_not_forwarded_upstream() {
    let rig = Rig::start(json!({})).await;
    let seen = signed_in_request(&rig, "/inbox", EVE).await;
    assert_eq!(seen.header("x-user-sub"), Some(EVE));
    assert_eq!(seen.header("x-user-email"), None);
    assert_eq!(seen.header("x-user-name"), Some("Eve"));
}

/// Auth0-style issuer `http://host:port/`: discovery says it with the slash.
#[tokio::test]
async fn origin_issuer_with_trailing_slash_signs_in() {
    let rig = Rig::start(json!({ "trailing_slash": true })).await;
    assert!(rig.provider.issuer.ends_with('/'));
    let discovery = rig.provider.discovery().await;
    assert_eq!(discovery["issuer"], rig.provider.issuer.as_str());
    let seen = signed_in_request(&rig, "/slash", ADA).await;
    assert_ada(&seen);
}

/// A provider that keeps to OIDC Core 5.4 puts scope claims (email, name) only
/// in userinfo when an access token is issued; its ID token has just `sub`.
#[tokio::test]
async fn conformant_provider_claims_from_userinfo_reach_the_upstream() {
    let rig = Rig::start(json!({ "conform_id_token_claims": true })).await;
    let seen = signed_in_request(&rig, "/conformant", ADA).await;
    assert_ada(&seen);
}

/// Sign-out ends the sidecar session, sends the browser to the provider's
/// `end_session_endpoint` with the ID token as hint, and the provider's
/// confirmation lands on `signed_out`, then on `rd`; the next visit must sign
/// in at the provider again (before sign-out, its session answered silently).
#[tokio::test]
async fn sign_out_goes_through_the_provider_end_session_and_back_to_rd() {
    let rig = Rig::start(json!({})).await;
    let end_session = rig.provider.discovery().await["end_session_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let client = client(true);
    let (r, _) = sign_in(&rig, &client, "/", ADA).await;
    assert_eq!(r.status(), 302);
    // Control: while the provider's session lives, it answers without a prompt.
    let r = navigate(&client, &rig.url("/oauth2/start?rd=/again")).await;
    let (callback, prompts) = through_provider(&client, &location(&r), ADA, &rig.base).await;
    assert!(prompts.is_empty(), "silent re-authentication: {prompts:?}");
    assert_eq!(
        location(&client.get(&callback).send().await.unwrap()),
        "/again"
    );

    let r = navigate(&client, &rig.url("/oauth2/sign_out?rd=/bye")).await;
    assert_eq!(r.status(), 302);
    let to_provider = location(&r);
    assert!(
        to_provider.starts_with(&format!("{end_session}?")),
        "{to_provider}"
    );
    let query = query_of(&to_provider);
    let hint = jwt_payload(param(&query, "id_token_hint").expect("id_token_hint"));
    assert_eq!(hint["sub"], ADA);
    assert_eq!(hint["iss"], rig.provider.issuer.as_str());
    assert_eq!(param(&query, "client_id"), Some(CLIENT_ID));
    let signed_out = rig.url("/oauth2/signed_out");
    assert_eq!(
        param(&query, "post_logout_redirect_uri"),
        Some(signed_out.as_str())
    );

    let back = confirm_logout(&client, &to_provider).await;
    assert_eq!(
        back, signed_out,
        "the provider accepted hint and return URL"
    );
    let r = client.get(&back).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r)), (302, "/bye".into()));

    let r = navigate(&client, &rig.url("/bye")).await;
    assert_eq!(r.status(), 302, "the sidecar session is gone");
    let (_, prompts) = through_provider(&client, &location(&r), ADA, &rig.base).await;
    assert_eq!(prompts.first().map(String::as_str), Some("login"));
}

/// Answers "yes" on the provider's logout page; returns where it sends the browser.
pub(crate) async fn confirm_logout(client: &reqwest::Client, end_session: &str) -> String {
    let r = client.get(end_session).send().await.unwrap();
    let status = r.status();
    let page = r.text().await.unwrap();
    assert_eq!(status, 200, "logout page: {page}");
    let form = &page[page.find("<form").expect("a logout form")..];
    let action = resolve(end_session, &attr(form, "action").unwrap());
    let xsrf = attr(&form[form.find("name=\"xsrf\"").unwrap()..], "value").unwrap();
    let fields = [("xsrf", xsrf.as_str()), ("logout", "yes")];
    let r = client.post(&action).form(&fields).send().await.unwrap();
    assert!(
        r.status().is_redirection(),
        "logout confirm: {}",
        r.status()
    );
    resolve(&action, &location(&r))
}

/// Three providers at once: this independent OpenID provider as `default`, and
/// two differently configured mock Cognito pools claiming `/a` and `/b`.
#[tokio::test]
async fn three_providers_at_once_each_sign_in_lands_and_sessions_stay_on_their_routes() {
    use cognito_sidecar::mock::{
        MockCognito, MockConfig, MockHandle, MockUser, DEMO_CLIENT_SECRET,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = start_provider(json!({}), &base).await;
    let mut pools: Vec<MockHandle> = Vec::new();
    let mut tables = String::new();
    for (name, prefix, pool_id, client_id) in [
        (
            "pool-a",
            "/a",
            "us-east-1_PoolAaaa",
            "clientpoolaaaa0123456789ab",
        ),
        (
            "pool-b",
            "/b",
            "eu-west-1_PoolBbbb",
            "clientpoolbbbb0123456789ab",
        ),
    ] {
        let mut pool = MockConfig::demo();
        pool.pool_id = pool_id.into();
        pool.region = pool_id.split('_').next().unwrap().into();
        pool.allow_http_loopback_ip = true;
        pool.clients[0].client_id = client_id.into();
        pool.clients[0].callback_urls = vec![format!("{base}/oauth2/callback")];
        if name == "pool-b" {
            pool.users = vec![MockUser {
                username: "sam".into(),
                password: "sam-password".into(),
                email: Some("sam@corp.example".into()),
                email_verified: true,
                ..MockUser::default()
            }];
        }
        let mock = MockCognito::start(pool, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        tables += &format!(
            "[[provider]]\nname = \"{name}\"\npath_prefixes = [\"{prefix}\"]\nissuer_url = \"{}\"\n\
             discovery_url = \"{}\"\nprovider = \"cognito\"\nclient_id = \"{client_id}\"\n\
             client_secret = \"{DEMO_CLIENT_SECRET}\"\nscope = \"openid email profile\"\n\n",
            mock.issuer(),
            mock.discovery_url(),
        );
        pools.push(mock);
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), tables).unwrap();
    let upstream = RecordingUpstream::start().await;
    let args = RunArgs {
        config: Some(file.path().to_path_buf()),
        ..RunArgs::default()
    };
    let main = sidecar_config(&base, &provider.issuer, &upstream);
    let env = MapSource::new([
        ("SIDECAR_PROVIDER", "oidc".to_string()),
        ("SIDECAR_ISSUER_URL", provider.issuer.clone()),
        ("SIDECAR_UPSTREAM", format!("http://{}", upstream.addr)),
        ("SIDECAR_CLIENT_ID", CLIENT_ID.into()),
        ("SIDECAR_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("SIDECAR_REDIRECT_URL", format!("{base}/oauth2/callback")),
        ("SIDECAR_SCOPE", "openid email profile groups".into()),
        ("SIDECAR_COOKIE_SECRET", COOKIE_SECRET.into()),
        ("SIDECAR_COOKIE_SECURE", "false".into()),
    ]);
    let config = Config::load(&args, &env).unwrap_or_else(|e| panic!("config: {e}"));
    assert_eq!(config.providers.len(), 2);
    assert_eq!(config.provider.issuer, main.provider.issuer);
    let sidecar = server::start_on(config, vec![listener]).unwrap();
    let rig = Rig {
        provider,
        upstream,
        _sidecar: sidecar,
        base,
    };
    rig.wait_ready().await;

    // The independent provider serves everything the pools do not claim.
    let seen = signed_in_request(&rig, "/reports", ADA).await;
    assert_ada(&seen);
    // Each pool signs in its own users at its own prefix.
    for (path, user, password, email, mock) in [
        (
            "/a/orders",
            "alice",
            "alice-password",
            "alice@example.com",
            &pools[0],
        ),
        (
            "/b/payroll",
            "sam",
            "sam-password",
            "sam@corp.example",
            &pools[1],
        ),
    ] {
        let client = client(true);
        let r = navigate(&client, &rig.url(path)).await;
        let to_idp = location(&r);
        assert!(
            to_idp.starts_with(&mock.base_url()),
            "{path} goes to its pool: {to_idp}"
        );
        let r = support::submit_login(&client, &to_idp, user, password).await;
        let r = client.get(location(&r)).send().await.unwrap();
        assert_eq!(location(&r), path);
        assert_eq!(navigate(&client, &rig.url(path)).await.status(), 200);
        assert_eq!(rig.upstream.last().header("x-user-email"), Some(email));
        // That session counts nowhere else.
        let other = if path.starts_with("/a") {
            "/b/payroll"
        } else {
            "/a/orders"
        };
        assert_eq!(
            client.get(rig.url(other)).send().await.unwrap().status(),
            401,
            "{path} session on {other}"
        );
        assert_eq!(
            client
                .get(rig.url("/reports"))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    drop(file);
}
