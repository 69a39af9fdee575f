//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0) against the
//! independent provider of tests/it/oidc_provider.rs (panva's oidc-provider,
//! its `backchannelLogout` feature on): a sign-out at the provider ends the
//! session here, by `sub` or by `sid`, on both replicas sharing a Redis; and
//! each kind of bad logout token is refused with 400 and ends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cognito_sidecar::server::{self, Running};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::oidc_harness::{client, OidcProvider};
use crate::oidc_provider::{
    accounts, confirm_logout, sidecar_config_with, through_provider, ADA, CLIENT_ID, CLIENT_SECRET,
};
use crate::redis_sessions::RedisServer;
use crate::support::{location, navigate, RecordingUpstream};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// One sidecar on its own loopback port.
struct Replica {
    base: String,
    /// The sidecar's clock, which decides the logout tokens' `exp`.
    clock: cognito_sidecar::clock::Clock,
    _sidecar: Running,
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// oidc-provider whose test client signs in at `sign_in_base` and receives
/// logout tokens at `logout_base`; `sid` in ID and logout tokens when
/// `session_required`; signing with `key` (PKCS#8 DER) when given.
async fn provider(
    sign_in_base: &str,
    logout_base: &str,
    session_required: bool,
    key: Option<&[u8]>,
) -> OidcProvider {
    let mut settings = json!({
        "accounts": accounts(),
        "client": {
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [format!("{sign_in_base}/oauth2/callback")],
            "post_logout_redirect_uris": [format!("{sign_in_base}/oauth2/signed_out")],
            "backchannel_logout_uri": format!("{logout_base}/oauth2/backchannel_logout"),
            "backchannel_logout_session_required": session_required,
        },
    });
    if let Some(der) = key {
        settings["signing_key_pkcs8"] = STANDARD.encode(der).into();
    }
    OidcProvider::start(settings).await
}

/// A sidecar on `listener` whose callback is on `sign_in_base`, with `extra` settings.
async fn replica(
    listener: TcpListener,
    base: &str,
    sign_in_base: &str,
    provider: &OidcProvider,
    upstream: &RecordingUpstream,
    extra: &[(&str, String)],
) -> Replica {
    let config = sidecar_config_with(sign_in_base, &provider.issuer, upstream, extra);
    let clock = config.clock.clone();
    let sidecar = server::start_on(config, vec![listener]).unwrap();
    let http = client(false);
    for _ in 0..150 {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await {
            if r.status() == 200 {
                return Replica {
                    base: base.to_string(),
                    clock,
                    _sidecar: sidecar,
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the sidecar never became ready: {}",
        provider.log.lock().unwrap()
    );
}

/// Signs ADA in at the provider through `base` in `browser` (its own cookies:
/// its own provider session).
async fn sign_in(browser: &reqwest::Client, base: &str) {
    let r = navigate(browser, &format!("{base}/")).await;
    assert_eq!(r.status(), 302, "no session: off to the provider");
    let (callback, _) = through_provider(browser, &location(&r), ADA, base).await;
    let r = browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 302, "the callback signs in");
}

/// The status of an API request to `base` with `browser`'s cookies: 200 signed in, 401 not.
async fn page_status(browser: &reqwest::Client, base: &str) -> u16 {
    let r = browser
        .get(format!("{base}/page"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Signs `browser` out at the provider (its end-session page, "yes").
async fn sign_out_at_provider(browser: &reqwest::Client, provider: &OidcProvider) {
    let discovery = provider.discovery().await;
    let end_session = discovery["end_session_endpoint"].as_str().unwrap();
    confirm_logout(browser, end_session).await;
}

/// How long until every base answers 401 to `browser`, polled for at most 1 s.
async fn ended_within(browser: &reqwest::Client, bases: &[&str], started: Instant) -> Duration {
    let deadline = started + Duration::from_secs(1);
    loop {
        let mut all = true;
        for base in bases {
            all &= page_status(browser, base).await == 401;
        }
        if all {
            return started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "a session outlived the provider's sign-out by a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Without `backchannel_logout_session_required` the provider's logout token
/// names only the user (`sub`): all of that user's sessions here end.
#[tokio::test]
async fn a_sign_out_at_the_provider_ends_the_users_sessions_by_sub() {
    let (listener, base) = listener().await;
    let provider = provider(&base, &base, false, None).await;
    let upstream = RecordingUpstream::start().await;
    let one = replica(listener, &base, &base, &provider, &upstream, &[]).await;
    let (laptop, phone) = (client(true), client(true));
    sign_in(&laptop, &one.base).await;
    sign_in(&phone, &one.base).await;
    assert_eq!(page_status(&laptop, &one.base).await, 200);
    assert_eq!(page_status(&phone, &one.base).await, 200);

    let started = Instant::now();
    sign_out_at_provider(&laptop, &provider).await;
    ended_within(&laptop, &[&one.base], started).await;
    assert_eq!(
        page_status(&phone, &one.base).await,
        401,
        "a logout by sub ends every session of the user"
    );
    let log = provider.log.lock().unwrap().clone();
    assert!(!log.contains("back-channel logout to"), "{log}");
}

/// With `sid`, only the sessions of that provider session end, on every
/// replica: the token goes to replica B, the session was made on replica A.
/// Another browser of the same user (another provider session) stays.
#[tokio::test]
async fn a_sign_out_at_the_provider_ends_that_session_on_both_replicas() {
    let redis = RedisServer::start().await;
    let (listener_a, base_a) = listener().await;
    let (listener_b, base_b) = listener().await;
    let provider = provider(&base_a, &base_b, true, None).await;
    let upstream = RecordingUpstream::start().await;
    let shared = [
        ("SIDECAR_SESSION_STORE", "redis".to_string()),
        ("SIDECAR_REDIS_URL", redis.url()),
    ];
    let a = replica(listener_a, &base_a, &base_a, &provider, &upstream, &shared).await;
    let b = replica(listener_b, &base_b, &base_a, &provider, &upstream, &shared).await;
    let (laptop, phone) = (client(true), client(true));
    sign_in(&laptop, &a.base).await;
    sign_in(&phone, &a.base).await;
    for browser in [&laptop, &phone] {
        assert_eq!(page_status(browser, &a.base).await, 200);
        assert_eq!(
            page_status(browser, &b.base).await,
            200,
            "replica B shares it"
        );
    }

    let started = Instant::now();
    sign_out_at_provider(&laptop, &provider).await;
    let took = ended_within(&laptop, &[&a.base, &b.base], started).await;
    eprintln!("back-channel logout: ended on both replicas {took:?} after the sign-out began");
    for base in [&a.base, &b.base] {
        assert_eq!(
            page_status(&phone, base).await,
            200,
            "another provider session (another sid) stays signed in"
        );
    }
    let log = provider.log.lock().unwrap().clone();
    assert!(!log.contains("back-channel logout to"), "{log}");
}

/// Signs compact JWTs with an RSA key.
struct Signer(KeyPair);

impl Signer {
    fn new() -> Self {
        Self(KeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    fn pkcs8(&self) -> Vec<u8> {
        self.0.as_der().unwrap().as_ref().to_vec()
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", b64(header), b64(claims));
        let mut sig = vec![0u8; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// POSTs `form` to the endpoint: status, Cache-Control and the JSON body (or Null).
async fn post(base: &str, form: &[(&str, &str)]) -> (u16, String, Value) {
    let r = client(false)
        .post(format!("{base}/oauth2/backchannel_logout"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let cache = r.headers()["cache-control"].to_str().unwrap().to_string();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, cache, body)
}

/// Every rule of the specification refuses its token with 400, an OAuth error
/// body and `no-store`, and ends nothing; then the valid token ends the
/// session, and the same token again is a replay.
#[tokio::test]
async fn each_bad_logout_token_is_a_400_and_ends_nothing() {
    let (listener, base) = listener().await;
    let signer = Signer::new();
    let provider = provider(&base, &base, false, Some(&signer.pkcs8())).await;
    let upstream = RecordingUpstream::start().await;
    let one = replica(listener, &base, &base, &provider, &upstream, &[]).await;
    let browser = client(true);
    sign_in(&browser, &one.base).await;

    let header = json!({"alg": "RS256", "kid": "test-rs256", "typ": "logout+jwt"});
    let iat = now();
    let valid = json!({
        "iss": provider.issuer, "aud": CLIENT_ID, "sub": ADA, "iat": iat, "exp": iat + 120,
        "jti": "jti-1", "events": { EVENT: {} },
    });
    let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = valid.as_object().unwrap().clone();
        f(&mut c);
        signer.sign(&header, &Value::Object(c))
    };
    let forged = Signer::new().sign(&header, &valid);
    let cases: Vec<(&str, String)> = vec![
        ("a signature by another key", forged),
        ("no events claim", edit(&|c| drop(c.remove("events")))),
        (
            "a nonce",
            edit(&|c| drop(c.insert("nonce".into(), "n".into()))),
        ),
        ("neither sid nor sub", edit(&|c| drop(c.remove("sub")))),
        (
            "another audience",
            edit(&|c| drop(c.insert("aud".into(), "other-client".into()))),
        ),
        ("no jti", edit(&|c| drop(c.remove("jti")))),
        (
            "expired",
            edit(&|c| drop(c.insert("exp".into(), (iat - 120).into()))),
        ),
        (
            "issued long ago",
            edit(&|c| drop(c.insert("iat".into(), (iat - 900).into()))),
        ),
        (
            "an unknown issuer",
            edit(&|c| drop(c.insert("iss".into(), "http://127.0.0.1:1".into()))),
        ),
        (
            "an access token's type",
            signer.sign(
                &json!({"alg": "RS256", "kid": "test-rs256", "typ": "at+jwt"}),
                &valid,
            ),
        ),
        ("not a JWT", "not.a.jwt".to_string()),
    ];
    for (what, token) in &cases {
        let (status, cache, body) = post(&one.base, &[("logout_token", token)]).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(cache, "no-store", "{what}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert!(body["error_description"].is_string(), "{what}: {body}");
        assert!(
            !body.to_string().contains(token.as_str()),
            "{what}: the token echoed"
        );
    }
    let (status, _, body) = post(&one.base, &[("token", "x")]).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
    let r = client(false)
        .get(format!("{}/oauth2/backchannel_logout", one.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "POST only");
    assert_eq!(
        page_status(&browser, &one.base).await,
        200,
        "no refusal ended the session"
    );

    let token = signer.sign(&header, &valid);
    let (status, cache, _) = post(&one.base, &[("logout_token", &token)]).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"));
    assert_eq!(
        page_status(&browser, &one.base).await,
        401,
        "the valid token ended it"
    );
    let (status, _, body) = post(&one.base, &[("logout_token", &token)]).await;
    assert_eq!(status, 400, "a replayed jti: {body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("jti"),
        "{body}"
    );

    // The sidecar's clock decides `exp` (120 s, plus 60 s leeway): a token
    // valid when signed is refused once that clock has moved past it.
    let unused = edit(&|c| drop(c.insert("jti".into(), "jti-2".into())));
    one.clock.advance(Duration::from_secs(120 + 60 + 5));
    let (status, _, body) = post(&one.base, &[("logout_token", &unused)]).await;
    assert_eq!(status, 400, "expired by the moved clock: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}
