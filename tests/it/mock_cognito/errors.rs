//! Every wrong request of COGNITO.md section 13 and Cognito's documented answer.

use cognito_sidecar::mock::{TokenTweak, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use reqwest::StatusCode;
use serde_json::Value;

use super::support::*;

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
    let http = plain_client();
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
                let p = query_map(&loc);
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
    let resp = plain_client()
        .get(authorize_url(&mock, &params))
        .send()
        .await
        .unwrap();
    let p = query_map(&location(&resp));
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
    let resp = plain_client()
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
    let json = plain_client()
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
        plain_client().get(&url).send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn code_checks_single_use_redirect_pkce_client_expiry() {
    let mock = start(pool()).await;
    let browser = &plain_client();
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
async fn userinfo_errors() {
    let mock = start(pool()).await;
    let url = format!("{}/oauth2/userInfo", mock.base_url());
    let none = plain_client().get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("error=\"invalid_request\""));
    let code = demo_code(&browser(), &mock, "n").await;
    let (_, _, tokens) = exchange_demo(&mock, &code).await;
    let bad = [
        "garbage",
        tokens["id_token"].as_str().unwrap(),
        &mock.mint_id_token(TokenTweak::NoTweak),
    ];
    for token in bad {
        let resp = plain_client()
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
        plain_client()
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
        plain_client()
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
