//! Test controls (tweaks, rotation, faults) and logout, implicit, rotation, M2M.

use std::time::{Duration, Instant};

use cognito_sidecar::mock::{Fault, MockEndpoint, TokenTweak, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use reqwest::StatusCode;
use serde_json::Value;

use super::support::*;

#[tokio::test]
async fn every_tweak_is_rejected_by_a_relying_party() {
    let mock = start(pool()).await;
    let tweaks = [
        TokenTweak::Expired,
        TokenTweak::WrongIssuer,
        TokenTweak::WrongAudience,
        TokenTweak::TokenUseAccess,
        TokenTweak::WrongKey,
        TokenTweak::BadSignature,
        TokenTweak::AlgNone,
        TokenTweak::Hs256,
        TokenTweak::WrongNonce,
    ];
    // Through a real code exchange: the next grant carries the tweaked ID token.
    for tweak in [TokenTweak::NoTweak].into_iter().chain(tweaks) {
        mock.next_id_token_tweak(tweak);
        let code = demo_code(&plain_client(), &mock, "n-42").await;
        let (status, _, body) = exchange_demo(&mock, &code).await;
        assert_eq!(status, StatusCode::OK, "{tweak:?}");
        let id = body["id_token"].as_str().unwrap();
        let result = verify_id(&mock, id, DEMO_CLIENT_ID, Some("n-42")).await;
        assert_eq!(
            result.is_ok(),
            tweak == TokenTweak::NoTweak,
            "{tweak:?}: {result:?}"
        );
        assert!(
            verify(&mock, body["access_token"].as_str().unwrap(), None, None)
                .await
                .is_ok(),
            "{tweak:?}: access token intact"
        );
    }
    // Minted directly: same verdicts (no nonce required here).
    assert!(verify_id(
        &mock,
        &mock.mint_id_token(TokenTweak::NoTweak),
        DEMO_CLIENT_ID,
        None
    )
    .await
    .is_ok());
    for tweak in tweaks.into_iter().filter(|t| *t != TokenTweak::WrongNonce) {
        assert!(
            verify_id(&mock, &mock.mint_id_token(tweak), DEMO_CLIENT_ID, None)
                .await
                .is_err(),
            "{tweak:?}"
        );
    }
    let wrong_nonce = mock
        .mint_id_token_for("bob", DEMO_CLIENT_ID, Some("n"), TokenTweak::WrongNonce)
        .unwrap();
    assert!(verify_id(&mock, &wrong_nonce, DEMO_CLIENT_ID, Some("n"))
        .await
        .is_err());
    let header = jwt_header(&mock.mint_id_token(TokenTweak::AlgNone));
    assert_eq!(header["alg"], "none");
}

#[tokio::test]
async fn key_rotation_drops_old_keys() {
    let mock = start(pool()).await;
    let old = mock.mint_id_token(TokenTweak::NoTweak);
    let before: Value = plain_client()
        .get(mock.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mock.rotate_keys();
    let after: Value = plain_client()
        .get(mock.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(kids(&after).iter().all(|k| !kids(&before).contains(k)));
    assert_eq!(
        verify_id(&mock, &old, DEMO_CLIENT_ID, None).await,
        Err("unknown kid".to_string())
    );
    assert!(verify_id(
        &mock,
        &mock.mint_id_token(TokenTweak::NoTweak),
        DEMO_CLIENT_ID,
        None
    )
    .await
    .is_ok());
}

#[tokio::test]
async fn faults_misbehave_until_cleared() {
    let mock = start(pool()).await;
    let get = |url: String| async move { plain_client().get(url).send().await.unwrap() };
    mock.set_fault(MockEndpoint::Jwks, Some(Fault::Status500));
    assert_eq!(
        get(mock.jwks_url()).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    mock.set_fault(MockEndpoint::Jwks, Some(Fault::Html));
    let html = get(mock.jwks_url()).await;
    assert!(html.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    mock.set_fault(MockEndpoint::Discovery, Some(Fault::TruncatedJson));
    let text = get(mock.discovery_url()).await.text().await.unwrap();
    assert!(text.starts_with('{') && serde_json::from_str::<Value>(&text).is_err());
    mock.set_fault(MockEndpoint::Discovery, Some(Fault::TooLarge));
    assert!(get(mock.discovery_url()).await.bytes().await.unwrap().len() > 4 << 20);
    mock.set_fault(
        MockEndpoint::Jwks,
        Some(Fault::Hang(Duration::from_millis(300))),
    );
    let started = Instant::now();
    assert_eq!(get(mock.jwks_url()).await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    mock.set_fault(MockEndpoint::Jwks, None);
    mock.set_fault(MockEndpoint::Discovery, None);
    assert!(get(mock.discovery_url())
        .await
        .json::<Value>()
        .await
        .is_ok());

    mock.set_fault(MockEndpoint::Token, Some(Fault::MissingIdToken));
    let code = demo_code(&plain_client(), &mock, "n").await;
    let (status, _, body) = exchange_demo(&mock, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("id_token").is_none() && body.get("access_token").is_some());
    mock.set_fault(MockEndpoint::Token, Some(Fault::Status500));
    assert_eq!(
        exchange_demo(&mock, "x").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let c = mock.counters();
    assert_eq!(
        (c.jwks_fetches, c.discovery_fetches, c.token_requests),
        (3, 3, 2)
    );
}

#[tokio::test]
async fn logout_follows_cognitos_parameters() {
    let mock = start(pool()).await;
    let browser = browser();
    let _ = code_for(&browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    let logout = |q: &[(&str, &str)]| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        browser
            .get(format!("{}/logout?{query}", mock.base_url()))
            .send()
    };
    // A URL the client does not allow: Cognito's /error page, never the URL.
    let unregistered = [
        ("client_id", PUBLIC_ID),
        ("logout_uri", "https://app.example.com/signed-out/"),
    ];
    let resp = logout(&unregistered).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let to = location(&resp);
    assert_eq!(
        to,
        format!(
            "{}/error?error=redirect_mismatch&client_id={PUBLIC_ID}",
            mock.base_url()
        )
    );
    let page = browser.get(&to).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("redirect_mismatch"));
    let bad: [&[(&str, &str)]; 4] = [
        &[("logout_uri", APP_OUT)],
        &[("client_id", PUBLIC_ID)],
        &[("client_id", PUBLIC_ID), ("redirect_uri", APP_CB)],
        &[
            ("client_id", PUBLIC_ID),
            ("post_logout_redirect_uri", APP_OUT),
        ],
    ];
    for q in bad {
        let resp = logout(q).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{q:?}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let resp = logout(&[("client_id", PUBLIC_ID), ("logout_uri", APP_OUT)])
        .await
        .unwrap();
    assert_eq!(
        (resp.status(), location(&resp)),
        (StatusCode::FOUND, APP_OUT.to_string())
    );
    let params = [
        ("response_type", "code"),
        ("client_id", PUBLIC_ID),
        ("redirect_uri", APP_CB),
    ];
    let resp = browser
        .get(authorize_url(&mock, &params))
        .send()
        .await
        .unwrap();
    assert!(
        location(&resp).contains("/login?"),
        "hosted session is gone"
    );
    let q = [
        ("client_id", PUBLIC_ID),
        ("redirect_uri", APP_CB),
        ("response_type", "code"),
        ("state", "s"),
    ];
    let resp = logout(&q).await.unwrap();
    let loc = location(&resp);
    assert!(
        loc.starts_with(&format!("{}/login?", mock.base_url())) && query_map(&loc)["state"] == "s"
    );
}

#[tokio::test]
async fn implicit_rotation_and_client_credentials() {
    let mock = start(pool()).await;
    let params = [
        ("response_type", "token"),
        ("client_id", IMPLICIT_ID),
        ("redirect_uri", APP_CB),
        ("state", "s"),
        ("nonce", "nn"),
    ];
    let resp = sign_in(&plain_client(), &mock, &params, "bob", "bob-password").await;
    let loc = location(&resp);
    assert!(loc.starts_with(&format!("{APP_CB}#")), "{loc}");
    let frag = fragment_map(&loc);
    assert_eq!(
        (
            frag["token_type"].as_str(),
            frag["expires_in"].as_str(),
            frag["state"].as_str()
        ),
        ("bearer", "3600", "s")
    );
    assert!(!frag.contains_key("refresh_token"));
    let id = verify_id(&mock, &frag["id_token"], IMPLICIT_ID, Some("nn"))
        .await
        .unwrap();
    assert_eq!(id["email_verified"], Value::Bool(false));
    assert!(!id.contains_key("cognito:groups"));

    let params = [
        ("response_type", "code"),
        ("client_id", ROTATING_ID),
        ("redirect_uri", APP_CB),
    ];
    let resp = sign_in(&plain_client(), &mock, &params, "alice", "alice-password").await;
    let code = query_map(&location(&resp))["code"].clone();
    let basic = Some((ROTATING_ID, ROTATING_SECRET));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_CB),
    ];
    let first = token_call(&mock, &form, basic).await.2;
    let r1 = first["refresh_token"].as_str().unwrap();
    let refreshed = token_call(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        basic,
    )
    .await
    .2;
    let r2 = refreshed["refresh_token"]
        .as_str()
        .expect("rotation returns a new refresh token");
    assert_ne!(r1, r2);
    assert_eq!(
        token_call(
            &mock,
            &[("grant_type", "refresh_token"), ("refresh_token", r1)],
            basic
        )
        .await
        .2["error"],
        "invalid_grant"
    );
    assert!(token_call(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
        basic
    )
    .await
    .2
    .get("access_token")
    .is_some());
    let other = token_call(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
        Some((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)),
    )
    .await;
    assert_eq!(
        other.2["error"], "invalid_grant",
        "refresh token of another client"
    );

    let (status, _, m2m) = token_call(
        &mock,
        &[("grant_type", "client_credentials"), ("scope", "api/read")],
        Some((M2M_ID, M2M_SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m2m}");
    assert!(m2m.get("id_token").is_none() && m2m.get("refresh_token").is_none());
    let at = verify(&mock, m2m["access_token"].as_str().unwrap(), None, None)
        .await
        .unwrap();
    assert_eq!(
        (&at["sub"], &at["scope"], at.get("username")),
        (&M2M_ID.into(), &"api/read".into(), None)
    );
    let all = token_call(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", M2M_ID),
            ("client_secret", M2M_SECRET),
        ],
        None,
    )
    .await
    .2;
    assert_eq!(
        verify(&mock, all["access_token"].as_str().unwrap(), None, None)
            .await
            .unwrap()["scope"],
        "api/read api/write"
    );
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let mock = start(pool()).await;
    let url = mock.discovery_url();
    let clone = mock.clone();
    assert!(plain_client().get(&url).send().await.is_ok());
    mock.shutdown().await;
    assert!(plain_client().get(&url).send().await.is_err());
    drop(clone);
}
