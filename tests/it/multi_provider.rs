//! Several user pools at once: `[[provider]]` tables chosen by path prefix,
//! sessions that count only on their provider's routes, and the sign-in
//! chooser when a route is served by more than one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use cognito_sidecar::mock::{MockConfig, MockHandle, MockUser, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use support::*;
use tokio::net::TcpListener;

struct Pools {
    stack: Stack,
    staff: MockHandle,
    _config: tempfile::NamedTempFile,
}

/// A second, differently configured pool: its own id, issuer, keys and users.
fn staff_pool() -> MockConfig {
    let mut pool = MockConfig::demo();
    pool.pool_id = "eu-west-1_StaffPool".into();
    pool.region = "eu-west-1".into();
    pool.clients[0].client_id = "staffclient0123456789abcde".into();
    pool.clients[0].client_secret = Some("staff-secret-0123456789".into());
    pool.users = vec![MockUser {
        username: "sam".into(),
        password: "sam-password".into(),
        email: Some("sam@corp.example".into()),
        email_verified: true,
        name: Some("Sam Staff".into()),
        groups: vec!["staff".into()],
        ..MockUser::default()
    }];
    pool
}

async fn pools() -> Pools {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mock = start_mock_for(MockConfig::demo(), &base).await;
    let staff = start_mock_for(staff_pool(), &base).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let toml = format!(
        r#"
[[provider]]
name = "staff"
display_name = "Sign in with your company account"
path_prefixes = ["/staff"]
issuer_url = "{}"
discovery_url = "{}"
provider = "cognito"
client_id = "staffclient0123456789abcde"
client_secret = "staff-secret-0123456789"

[[provider]]
name = "google"
display_name = "Sign in with Google"
issuer_url = "{}"
discovery_url = "{}"
client_id = "{DEMO_CLIENT_ID}"
client_secret = "{DEMO_CLIENT_SECRET}"
identity_provider = "Google"
"#,
        staff.issuer(),
        staff.discovery_url(),
        mock.issuer(),
        mock.discovery_url(),
    );
    std::fs::write(file.path(), toml).unwrap();
    let mut settings = support::test_settings();
    support::config_file(&mut settings, file.path());
    let stack = start_sidecar_with(&mock, listener, &base, &settings).await;
    Pools {
        stack,
        staff,
        _config: file,
    }
}

#[tokio::test]
async fn a_staff_path_signs_in_at_the_staff_pool_and_its_session_stays_there() {
    let Pools { stack, staff, .. } = pools().await;
    let client = browser();
    let r = navigate(&client, &stack.url("/staff/payroll?m=11")).await;
    let to_idp = location(&r);
    assert!(
        to_idp.starts_with(&staff.base_url()),
        "the staff pool serves /staff: {to_idp}"
    );
    let r = submit_login(&client, &to_idp, "sam", "sam-password").await;
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(location(&r), "/staff/payroll?m=11");
    assert_eq!(
        client
            .get(stack.url("/staff/payroll?m=11"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        stack.upstream.last().header("x-user-email"),
        Some("sam@corp.example")
    );
    assert_eq!(
        stack.upstream.last().header("x-user-provider"),
        Some("staff"),
        "two pools' sub values may collide: the provider tells them apart"
    );

    // The staff session is not a customer session: `/` needs its own sign-in.
    let r = client.get(stack.url("/orders")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = navigate(&client, &stack.url("/orders")).await;
    assert_eq!(
        location(&r),
        "/oauth2/sign_in?rd=%2Forders",
        "two providers serve /: the chooser"
    );
}

#[tokio::test]
async fn a_customer_session_is_never_accepted_on_a_staff_route() {
    let Pools { stack, staff, .. } = pools().await;
    let client = browser();
    let r = client
        .get(stack.url("/oauth2/start?provider=default&rd=/orders"))
        .send()
        .await
        .unwrap();
    let r = submit_login(&client, &location(&r), "alice", "alice-password").await;
    client.get(location(&r)).send().await.unwrap();
    assert_eq!(
        client
            .get(stack.url("/orders"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for path in [
        "/staff/payroll",
        "/staff",
        "/public/../staff/payroll",
        "/staff%2Fpayroll",
        "//staff/payroll",
        "/STAFF/x",
        "/Staff",
        "/staff.json",
        "/staff.",
        "/staff~",
        "/staff%20/payroll",
    ] {
        let before = stack.upstream.count();
        let r = client.get(stack.url(path)).send().await.unwrap();
        assert_ne!(r.status(), 200, "{path}");
        assert_eq!(
            stack.upstream.count(),
            before,
            "{path} never reached the upstream"
        );
    }
    let r = navigate(&client, &stack.url("/staff/payroll")).await;
    assert!(location(&r).starts_with(&staff.base_url()));
}

#[tokio::test]
async fn the_chooser_lists_the_providers_of_the_route_and_start_accepts_only_those() {
    let Pools { stack, staff, .. } = pools().await;
    let client = browser();
    let page = client
        .get(stack.url("/oauth2/sign_in?rd=/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in with Google") && html.contains("id=\"provider-google\""));
    assert!(html.contains("id=\"provider-default\""));
    assert!(
        !html.contains("company account"),
        "the staff pool does not serve /orders"
    );

    let r = client
        .get(stack.url("/oauth2/start?provider=google&rd=/orders"))
        .send()
        .await
        .unwrap();
    assert!(location(&r).contains("identity_provider=Google"));
    let r = client
        .get(stack.url("/oauth2/start?provider=staff&rd=/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "only names configured for that route");
    let r = client
        .get(stack.url("/oauth2/start?provider=staff&rd=/staff/x"))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with(&staff.base_url()));
    let r = client
        .get(stack.url("/oauth2/start?provider=nobody&rd=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn bearer_tokens_are_checked_by_the_provider_that_issued_them() {
    let Pools { stack, staff, .. } = pools().await;
    let customer = stack
        .mock
        .mint_id_token(cognito_sidecar::mock::TokenTweak::NoTweak);
    let staff_token = staff
        .mint_id_token_for(
            "sam",
            "staffclient0123456789abcde",
            None,
            cognito_sidecar::mock::TokenTweak::NoTweak,
        )
        .unwrap();
    let call = |path: &'static str, token: String| {
        let url = stack.url(path);
        async move {
            plain_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call("/orders", customer.clone()).await, 200);
    assert_eq!(call("/staff/x", staff_token.clone()).await, 200);
    assert_eq!(
        call("/staff/x", customer).await,
        401,
        "a customer token on a staff route"
    );
    assert_eq!(
        call("/orders", staff_token).await,
        401,
        "a staff token on a customer route"
    );
}
