//! The mock Cognito pool answers like real Cognito (shared/COGNITO.md): every
//! documented error case, the full code flow with PKCE, refresh, revocation,
//! logout, userInfo; its tokens verified by an independent JWT library.

#[path = "mock_cognito/support.rs"]
mod support;

use std::time::{Duration, Instant};

use cognito_sidecar::mock::{Fault, MockEndpoint, TokenTweak, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use reqwest::StatusCode;
use serde_json::Value;
use support::*;

/// One wrong authorize request and Cognito's documented answer.
struct AuthzCase {
    name: &'static str,
    params: Vec<(&'static str, &'static str)>,
    /// `None`: redirect_mismatch to `/error`; `Some(e)`: `302 <redirect>?error=e`.
    error: Option<&'static str>,
}

fn authz(
    name: &'static str,
    extra: &[(&'static str, &'static str)],
    error: Option<&'static str>,
) -> AuthzCase {
    let mut params = vec![
        ("client_id", PUBLIC_ID),
        ("redirect_uri", APP_CB),
        ("response_type", "code"),
        ("state", "xyz"),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    AuthzCase {
        name,
        params,
        error,
    }
}

#[tokio::test]
async fn authorize_errors_table() {
    let mock = start(pool()).await;
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cases = [
        authz("unknown client", &[("client_id", "nosuchclient")], None),
        authz("no client_id", &[("client_id", "")], None),
        authz(
            "redirect with trailing slash",
            &[("redirect_uri", "https://app.example.com/oauth2/callback/")],
            None,
        ),
        authz(
            "redirect with other case",
            &[("redirect_uri", "https://APP.example.com/oauth2/callback")],
            None,
        ),
        authz(
            "redirect over http",
            &[("redirect_uri", "http://app.example.com/oauth2/callback")],
            None,
        ),
        authz(
            "redirect of another client",
            &[("redirect_uri", DEMO_CB)],
            None,
        ),
        authz("no redirect_uri", &[("redirect_uri", "")], None),
        authz(
            "no response_type",
            &[("response_type", "")],
            Some("invalid_request"),
        ),
        authz(
            "response_type id_token",
            &[("response_type", "id_token")],
            Some("invalid_request"),
        ),
        authz(
            "challenge without method",
            &[("code_challenge", ch)],
            Some("invalid_request"),
        ),
        authz(
            "plain method",
            &[("code_challenge", ch), ("code_challenge_method", "plain")],
            Some("invalid_request"),
        ),
        authz(
            "method without challenge",
            &[("code_challenge_method", "S256")],
            Some("invalid_request"),
        ),
        authz(
            "implicit not enabled",
            &[("response_type", "token")],
            Some("unauthorized_client"),
        ),
        authz(
            "code not enabled",
            &[("client_id", IMPLICIT_ID)],
            Some("unauthorized_client"),
        ),
        authz(
            "unknown scope",
            &[("scope", "openid bogus")],
            Some("invalid_scope"),
        ),
        authz(
            "malformed custom scope",
            &[("scope", "openid other/x")],
            Some("invalid_scope"),
        ),
        authz(
            "only scopes needing openid",
            &[("scope", "email profile")],
            Some("invalid_scope"),
        ),
        authz(
            "prompt=none without session",
            &[("prompt", "none")],
            Some("login_required"),
        ),
    ];
    let http = http(false);
    for case in cases {
        let resp = http
            .get(authorize_url(&mock, &case.params))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{}", case.name);
        let loc = location(&resp);
        match case.error {
            None => {
                let client_id = case
                    .params
                    .iter()
                    .find(|(k, _)| *k == "client_id")
                    .map(|p| p.1)
                    .unwrap_or("");
                let expected = format!(
                    "{}/error?error=redirect_mismatch&client_id={client_id}",
                    mock.base_url()
                );
                assert_eq!(loc, expected, "{}", case.name);
            }
            Some(error) => {
                assert!(
                    loc.starts_with(&format!("{APP_CB}?")),
                    "{}: {loc}",
                    case.name
                );
                let p = params_of(&loc, false);
                assert_eq!(p["error"], error, "{}", case.name);
                assert_eq!(p["state"], "xyz", "{}", case.name);
                assert!(!p.contains_key("code"), "{}", case.name);
            }
        }
    }
    let err = http
        .get(format!(
            "{}/error?error=redirect_mismatch&client_id=x",
            mock.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert!(err
        .text()
        .await
        .unwrap()
        .contains("An error was encountered with the requested page."));
    let post = http
        .post(authorize_url(&mock, &authz("post", &[], None).params))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn error_redirects_can_omit_state_and_loopback_ip_is_a_choice() {
    let mut config = pool();
    config.omit_state_on_error = true;
    let mock = start(config).await;
    let params = authz("x", &[("response_type", "")], None).params;
    let resp = http(false)
        .get(authorize_url(&mock, &params))
        .send()
        .await
        .unwrap();
    let p = params_of(&location(&resp), false);
    assert_eq!(p["error"], "invalid_request");
    assert!(!p.contains_key("state"));

    let mut loopback = pool();
    loopback.clients[0]
        .callback_urls
        .push("http://127.0.0.1:4180/cb".into());
    assert!(cognito_sidecar::mock::MockCognito::start(
        loopback.clone(),
        "127.0.0.1:0".parse().unwrap()
    )
    .await
    .is_err());
    loopback.allow_http_loopback_ip = true;
    let mock = start(loopback).await;
    let params = [
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", "http://127.0.0.1:4180/cb"),
        ("response_type", "code"),
    ];
    let resp = http(false)
        .get(authorize_url(&mock, &params))
        .send()
        .await
        .unwrap();
    assert!(location(&resp).starts_with(&format!("{}/login?", mock.base_url())));
}

#[tokio::test]
async fn token_errors_table() {
    let mock = start(pool()).await;
    let (id, secret) = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Option<(&'static str, &'static str)>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "no grant_type",
            vec![("client_id", id)],
            Some((id, secret)),
            "invalid_request",
        ),
        (
            "wrong secret (basic)",
            vec![
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("redirect_uri", DEMO_CB),
            ],
            Some((id, "nope")),
            "invalid_client",
        ),
        (
            "wrong secret (post)",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", "nope"),
            ],
            None,
            "invalid_client",
        ),
        (
            "confidential without secret",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", "c"),
            ],
            None,
            "invalid_client",
        ),
        (
            "unknown client",
            vec![("grant_type", "authorization_code"), ("client_id", "ghost")],
            None,
            "invalid_client",
        ),
        (
            "no client at all",
            vec![("grant_type", "authorization_code"), ("code", "c")],
            None,
            "invalid_client",
        ),
        (
            "basic and body ids differ",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC_ID),
            ],
            Some((id, secret)),
            "invalid_client",
        ),
        (
            "secret sent by public client",
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC_ID),
                ("client_secret", "x"),
            ],
            None,
            "invalid_client",
        ),
        (
            "password grant",
            vec![("grant_type", "password"), ("username", "alice")],
            Some((id, secret)),
            "unsupported_grant_type",
        ),
        (
            "code missing",
            vec![
                ("grant_type", "authorization_code"),
                ("redirect_uri", DEMO_CB),
            ],
            Some((id, secret)),
            "invalid_request",
        ),
        (
            "redirect_uri missing",
            vec![("grant_type", "authorization_code"), ("code", "c")],
            Some((id, secret)),
            "invalid_request",
        ),
        (
            "unknown code",
            vec![
                ("grant_type", "authorization_code"),
                ("code", "9b2c6f0e-0000-4000-8000-000000000000"),
                ("redirect_uri", DEMO_CB),
            ],
            Some((id, secret)),
            "invalid_grant",
        ),
        (
            "refresh without token",
            vec![("grant_type", "refresh_token")],
            Some((id, secret)),
            "invalid_request",
        ),
        (
            "unknown refresh token",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "a.b.c.d.e"),
            ],
            Some((id, secret)),
            "invalid_grant",
        ),
        (
            "client_credentials for public client",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", PUBLIC_ID),
            ],
            None,
            "unauthorized_client",
        ),
        (
            "client_credentials without custom scopes",
            vec![("grant_type", "client_credentials")],
            Some((id, secret)),
            "invalid_scope",
        ),
        (
            "client_credentials unknown scope",
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "api/delete"),
            ],
            Some((M2M_ID, M2M_SECRET)),
            "invalid_scope",
        ),
    ];
    for (name, form, basic, error) in cases {
        let (status, headers, body) = token_call(&mock, &form, basic).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(body["error"], error, "{name}: {body}");
        assert_eq!(
            headers["content-type"], "application/json;charset=UTF-8",
            "{name}"
        );
        assert_eq!(headers["access-control-allow-origin"], "*", "{name}");
    }
    let url = format!("{}/oauth2/token", mock.base_url());
    let json = http(false)
        .post(&url)
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    assert_eq!(
        http(false).get(&url).send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn code_checks_single_use_redirect_pkce_client_expiry() {
    let mock = start(pool()).await;
    let browser = &http(false);
    let code = code_for(browser, &mock, PUBLIC_ID, APP_CB, "n1").await;
    assert!(uuid::Uuid::parse_str(&code).is_ok(), "codes are UUIDs");
    let (status, _, _) = exchange_public(&mock, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = exchange_public(&mock, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "reuse"
    );

    let code = code_for(browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_ID),
        ("code", &code),
        ("redirect_uri", "https://app.example.com/oauth2/callback/"),
        ("code_verifier", VERIFIER),
    ];
    let (_, _, body) = token_call(&mock, &form, None).await;
    assert_eq!(
        body,
        serde_json::json!({"error": "unauthorized_client", "error_description": "invalid_redirect"})
    );

    let code = code_for(browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_ID),
        ("code", &code),
        ("redirect_uri", APP_CB),
        (
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier-00",
        ),
    ];
    assert_eq!(
        token_call(&mock, &form, None).await.2["error"],
        "invalid_grant",
        "PKCE mismatch"
    );

    let code = code_for(browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_ID),
        ("code", &code),
        ("redirect_uri", APP_CB),
    ];
    assert_eq!(
        token_call(&mock, &form, None).await.2["error"],
        "invalid_grant",
        "missing verifier"
    );

    let code = code_for(browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", APP_CB),
        ("code_verifier", VERIFIER),
    ];
    let basic = Some((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET));
    assert_eq!(
        token_call(&mock, &form, basic).await.2["error"],
        "invalid_grant",
        "code of another client"
    );

    let code = code_for(browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    mock.set_clock_offset(301);
    assert_eq!(
        exchange_public(&mock, &code).await.2["error"],
        "invalid_grant",
        "expired code"
    );
}

#[tokio::test]
async fn discovery_and_jwks_have_cognitos_shape() {
    let mock = start(pool()).await;
    let resp = http(false).get(mock.discovery_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "authorization_endpoint",
            "end_session_endpoint",
            "id_token_signing_alg_values_supported",
            "issuer",
            "jwks_uri",
            "response_types_supported",
            "revocation_endpoint",
            "scopes_supported",
            "subject_types_supported",
            "token_endpoint",
            "token_endpoint_auth_methods_supported",
            "userinfo_endpoint",
        ]
    );
    let base = mock.base_url();
    assert_eq!(
        doc["issuer"],
        format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{}",
            mock.pool_id()
        )
    );
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/oauth2/userInfo"));
    assert_eq!(doc["end_session_endpoint"], format!("{base}/logout"));
    assert_eq!(doc["jwks_uri"], mock.jwks_url());
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );

    let jwks: Value = http(false)
        .get(mock.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        assert!(k["kid"].as_str().unwrap().ends_with('='));
        assert_eq!(
            (&k["alg"], &k["kty"], &k["use"], &k["e"]),
            (
                &"RS256".into(),
                &"RSA".into(),
                &"sig".into(),
                &"AQAB".into()
            )
        );
    }
    assert_eq!(mock.counters().jwks_fetches, 1);
    assert_eq!(mock.counters().discovery_fetches, 1);

    let mut config = pool().with_local_issuer();
    config.omit_end_session_endpoint = true;
    let local = start(config).await;
    let under_issuer = format!("{}/.well-known/openid-configuration", local.issuer());
    assert_eq!(under_issuer, local.discovery_url());
    let doc: Value = http(false)
        .get(&under_issuer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], local.issuer());
    assert!(doc.get("end_session_endpoint").is_none());
    let other = http(false)
        .get(format!(
            "{}/us-east-1_Other/.well-known/jwks.json",
            local.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn full_code_flow_with_pkce_and_independent_verification() {
    let mock = start(pool()).await;
    let browser = http(true);
    let code = code_for(&browser, &mock, PUBLIC_ID, APP_CB, "nonce-1").await;
    let (status, headers, body) = exchange_public(&mock, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        (&body["token_type"], &body["expires_in"]),
        (&"Bearer".into(), &3600.into())
    );
    let (id_token, access) = (
        body["id_token"].as_str().unwrap(),
        body["access_token"].as_str().unwrap(),
    );
    assert_eq!(
        body["refresh_token"].as_str().unwrap().split('.').count(),
        5
    );

    let id = verify_id(&mock, id_token, PUBLIC_ID, Some("nonce-1"))
        .await
        .unwrap();
    assert_eq!(id["cognito:username"], "alice");
    assert_eq!(id["email_verified"], Value::Bool(true));
    assert_eq!(id["name"], "Zoë Ångström-Łukasiewicz");
    assert_eq!(
        id["cognito:groups"],
        serde_json::json!(["admins", "Engineering, Platform"])
    );
    assert_eq!(id["custom:department"], "R&D");
    assert_eq!(id["at_hash"], support_at_hash(access));
    for claim in ["auth_time", "origin_jti", "event_id", "jti", "iat", "exp"] {
        assert!(id.contains_key(claim), "{claim}");
    }
    let at = verify(&mock, access, None, None).await.unwrap();
    assert_eq!(
        (
            &at["token_use"],
            &at["client_id"],
            &at["username"],
            &at["version"]
        ),
        (
            &"access".into(),
            &PUBLIC_ID.into(),
            &"alice".into(),
            &2.into()
        )
    );
    assert_eq!(at["scope"], "openid email profile");
    assert!(!at.contains_key("aud") && !at.contains_key("cognito:username"));
    assert_eq!(at["origin_jti"], id["origin_jti"]);
    let (hid, hat) = (jwt_header(id_token), jwt_header(access));
    assert_eq!(
        hid.keys().collect::<Vec<_>>(),
        ["alg", "kid"],
        "header has kid and alg only"
    );
    assert_ne!(
        hid["kid"], hat["kid"],
        "ID and access tokens use different keys"
    );
    assert!(
        verify_id(&mock, id_token, PUBLIC_ID, Some("other"))
            .await
            .is_err(),
        "nonce checked"
    );
    assert!(
        verify_id(&mock, access, PUBLIC_ID, None).await.is_err(),
        "access token is not an ID token"
    );

    // SSO: the hosted session skips the password; prompt=login forces it.
    let params = [
        ("response_type", "code"),
        ("client_id", PUBLIC_ID),
        ("redirect_uri", APP_CB),
        ("state", "a b&c=d"),
    ];
    let resp = browser
        .get(authorize_url(&mock, &params))
        .send()
        .await
        .unwrap();
    let p = params_of(&location(&resp), false);
    assert!(location(&resp).starts_with(APP_CB) && p.contains_key("code"));
    assert_eq!(p["state"], "a b&c=d", "state comes back verbatim");
    let forced = [params.as_slice(), &[("prompt", "login")]].concat();
    let resp = browser
        .get(authorize_url(&mock, &forced))
        .send()
        .await
        .unwrap();
    assert!(location(&resp).starts_with(&format!("{}/login?", mock.base_url())));
    mock.set_clock_offset(3601);
    let resp = browser
        .get(authorize_url(&mock, &params))
        .send()
        .await
        .unwrap();
    assert!(
        location(&resp).contains("/login?"),
        "session cookie lasts one hour"
    );
}

fn support_at_hash(access: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[tokio::test]
async fn wrong_password_shows_the_form_again() {
    let mock = start(pool()).await;
    let params = [
        ("response_type", "code"),
        ("client_id", PUBLIC_ID),
        ("redirect_uri", APP_CB),
        ("state", "s"),
    ];
    let resp = sign_in(&http(true), &mock, &params, "alice", "wrong").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Incorrect username or password.") && html.contains("<title>Sign in</title>")
    );
    assert!(hidden_fields(&html).contains(&("state".into(), "s".into())));
    let resp = sign_in(&http(true), &mock, &params, "nobody", "x").await;
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Incorrect username or password."));
    assert_eq!(mock.counters().logins, 0);
}

#[tokio::test]
async fn refresh_revoke_and_userinfo() {
    let mock = start(pool()).await;
    let code = demo_code(&http(true), &mock, "n-1").await;
    let (_, _, first) = exchange_demo(&mock, &code).await;
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    let access = first["access_token"].as_str().unwrap().to_string();
    let first_id = verify_id(
        &mock,
        first["id_token"].as_str().unwrap(),
        DEMO_CLIENT_ID,
        Some("n-1"),
    )
    .await
    .unwrap();

    let info = http(false)
        .get(format!("{}/oauth2/userInfo", mock.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    let info: Value = info.json().await.unwrap();
    assert_eq!(
        (&info["email_verified"], &info["username"], &info["sub"]),
        (&"true".into(), &"alice".into(), &first_id["sub"])
    );

    mock.set_user_groups("alice", vec![]);
    mock.set_clock_offset(-120);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", DEMO_CLIENT_ID),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, _, refreshed) =
        token_call(&mock, &form, Some((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(
        refreshed.get("refresh_token").is_none(),
        "no rotation by default"
    );
    let id = refreshed["id_token"].as_str().unwrap();
    let claims = verify(&mock, id, Some(DEMO_CLIENT_ID), None).await.unwrap();
    assert!(
        !claims.contains_key("nonce"),
        "refreshed ID tokens carry no nonce"
    );
    assert!(
        !claims.contains_key("cognito:groups"),
        "absent when the user has no groups"
    );
    assert_eq!(
        (&claims["auth_time"], &claims["origin_jti"]),
        (&first_id["auth_time"], &first_id["origin_jti"])
    );
    assert_ne!(claims["iat"], first_id["iat"]);

    let revoke = |token: String, basic: bool| {
        let req = http(false)
            .post(format!("{}/oauth2/revoke", mock.base_url()))
            .form(&[("token", token)]);
        let req = if basic {
            req.basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        } else {
            req.basic_auth(DEMO_CLIENT_ID, Some("nope"))
        };
        req.send()
    };
    assert_eq!(
        revoke(refresh.clone(), false).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        revoke(access.clone(), true).await.unwrap().status(),
        StatusCode::BAD_REQUEST,
        "not a refresh token"
    );
    let ok = revoke(refresh.clone(), true).await.unwrap();
    assert_eq!(
        (ok.status(), ok.text().await.unwrap()),
        (StatusCode::OK, String::new())
    );
    assert_eq!(
        revoke(refresh.clone(), true).await.unwrap().status(),
        StatusCode::OK,
        "already revoked is still 200"
    );
    assert_eq!(
        token_call(&mock, &form, Some((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)))
            .await
            .2["error"],
        "invalid_grant"
    );
    let info = http(false)
        .get(format!("{}/oauth2/userInfo", mock.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::UNAUTHORIZED);
    assert!(
        verify(&mock, &access, None, None).await.is_ok(),
        "revoked JWTs still verify offline"
    );
    let c = mock.counters();
    assert_eq!(
        (
            c.refresh_grants,
            c.revocations,
            c.userinfo,
            c.authorization_code_grants
        ),
        (2, 4, 2, 1)
    );
}

#[tokio::test]
async fn userinfo_errors() {
    let mock = start(pool()).await;
    let url = format!("{}/oauth2/userInfo", mock.base_url());
    let none = http(false).get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("error=\"invalid_request\""));
    let code = demo_code(&http(true), &mock, "n").await;
    let (_, _, tokens) = exchange_demo(&mock, &code).await;
    let bad = [
        "garbage",
        tokens["id_token"].as_str().unwrap(),
        &mock.mint_id_token(TokenTweak::NoTweak),
    ];
    for token in bad {
        let resp = http(false)
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("error=\"invalid_token\""));
    }
    let access = tokens["access_token"].as_str().unwrap();
    mock.set_clock_offset(3600);
    assert_eq!(
        http(false)
            .get(&url)
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "expired"
    );
    mock.set_clock_offset(0);
    mock.rotate_keys();
    assert_eq!(
        http(false)
            .get(&url)
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "old key"
    );
}

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
        let code = demo_code(&http(false), &mock, "n-42").await;
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
    let before: Value = http(false)
        .get(mock.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mock.rotate_keys();
    let after: Value = http(false)
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
    let get = |url: String| async move { http(false).get(url).send().await.unwrap() };
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
    let code = demo_code(&http(false), &mock, "n").await;
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
    let browser = http(true);
    let _ = code_for(&browser, &mock, PUBLIC_ID, APP_CB, "n").await;
    let logout = |q: &[(&str, &str)]| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        browser
            .get(format!("{}/logout?{query}", mock.base_url()))
            .send()
    };
    let bad: [&[(&str, &str)]; 5] = [
        &[("logout_uri", APP_OUT)],
        &[("client_id", PUBLIC_ID)],
        &[
            ("client_id", PUBLIC_ID),
            ("logout_uri", "https://app.example.com/signed-out/"),
        ],
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
        loc.starts_with(&format!("{}/login?", mock.base_url()))
            && params_of(&loc, false)["state"] == "s"
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
    let resp = sign_in(&http(false), &mock, &params, "bob", "bob-password").await;
    let loc = location(&resp);
    assert!(loc.starts_with(&format!("{APP_CB}#")), "{loc}");
    let frag = params_of(&loc, true);
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
    let resp = sign_in(&http(false), &mock, &params, "alice", "alice-password").await;
    let code = params_of(&location(&resp), false)["code"].clone();
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
    assert!(http(false).get(&url).send().await.is_ok());
    mock.shutdown().await;
    assert!(http(false).get(&url).send().await.is_err());
    drop(clone);
}
