//! Discovery, JWKS, the code flow with PKCE, refresh, revoke and userInfo.

use cognito_sidecar::mock::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use reqwest::StatusCode;
use serde_json::Value;

use super::support::*;

#[tokio::test]
async fn discovery_and_jwks_have_cognitos_shape() {
    let mock = start(pool()).await;
    let resp = plain_client()
        .get(mock.discovery_url())
        .send()
        .await
        .unwrap();
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

    let jwks: Value = plain_client()
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
    let doc: Value = plain_client()
        .get(&under_issuer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], local.issuer());
    assert!(doc.get("end_session_endpoint").is_none());
    let other = plain_client()
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
    let browser = browser();
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
    let p = query_map(&location(&resp));
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
    let resp = sign_in(&browser(), &mock, &params, "alice", "wrong").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Incorrect username or password.") && html.contains("<title>Sign in</title>")
    );
    assert!(form_fields(&html).contains(&("state".into(), "s".into())));
    let resp = sign_in(&browser(), &mock, &params, "nobody", "x").await;
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
    let code = demo_code(&browser(), &mock, "n-1").await;
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

    let info = plain_client()
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
        let req = plain_client()
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
    let info = plain_client()
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
