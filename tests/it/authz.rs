//! Authorization rules end to end: allowed email domains, emails and groups,
//! globally and per `[[route]]`, the 403 page, and forward-auth's query rules
//! ANDed with the configured ones. Most requests carry an ID token minted by
//! the mock as a bearer token (the same identity a session would have).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::io::Write;

use cognito_sidecar::config::{Config, MapSource, RunArgs};
use cognito_sidecar::mock::{MockConfig, MockUser, TokenTweak, DEMO_CLIENT_ID};
use support::{bounded, navigate, sign_in_as, Stack, StackBuilder};

/// The demo pool plus users whose emails test the domain rules.
fn pool() -> MockConfig {
    let mut pool = MockConfig::demo();
    let user = |name: &str, email: &str| MockUser {
        username: name.into(),
        password: format!("{name}-password"),
        sub: format!("sub-{name}"),
        email: Some(email.into()),
        email_verified: true,
        ..MockUser::default()
    };
    pool.users.push(user("dave", "dave@eu.example.com"));
    pool.users
        .push(user("mallory", "mallory@evil.test@example.com"));
    pool.users.push(user("erin", "Erin@EXAMPLE.com"));
    let mut kelvin = user("kelvin", "\u{212A}ate@example.com");
    kelvin.name = Some("admin\u{7f}".into());
    kelvin.groups = vec!["admins\u{0}".into()];
    pool.users.push(kelvin);
    pool
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

async fn start(builder: StackBuilder) -> Stack {
    builder.mock(pool()).start().await
}

fn token(stack: &Stack, user: &str) -> String {
    stack
        .mock
        .mint_id_token_for(user, DEMO_CLIENT_ID, None, TokenTweak::NoTweak)
        .unwrap()
}

/// `method path` as `user` (bearer); returns the status.
async fn status_as(stack: &Stack, user: &str, method: &str, path: &str) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    support::plain_client()
        .request(method, stack.url(path))
        .bearer_auth(token(stack, user))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn get_as(stack: &Stack, user: &str, path: &str) -> u16 {
    status_as(stack, user, "GET", path).await
}

#[tokio::test]
async fn global_groups_let_members_in_and_refuse_others_with_403_json() {
    bounded(async {
        let stack =
            start(Stack::builder().with(|s| s.allowed_groups = support::list("admins,ops"))).await;
        assert_eq!(get_as(&stack, "alice", "/app").await, 200);
        assert_eq!(stack.upstream.count(), 1);
        let r = support::plain_client()
            .get(stack.url("/app"))
            .bearer_auth(token(&stack, "bob"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "forbidden");
        assert_eq!(
            stack.upstream.count(),
            1,
            "a refused request never reaches the app"
        );
    })
    .await;
}

#[tokio::test]
async fn email_domains_match_exactly_or_as_dot_subdomains_and_never_with_two_ats() {
    bounded(async {
        let stack = start(
            Stack::builder().with(|s| s.allowed_email_domains = support::words("example.com")),
        )
        .await;
        assert_eq!(get_as(&stack, "alice", "/").await, 200);
        assert_eq!(
            get_as(&stack, "erin", "/").await,
            200,
            "compared lower-cased"
        );
        assert_eq!(
            get_as(&stack, "dave", "/").await,
            403,
            "a subdomain is not the domain"
        );
        assert_eq!(
            get_as(&stack, "mallory", "/").await,
            403,
            "two @: never a domain match"
        );
        assert_eq!(get_as(&stack, "bob", "/").await, 403, "unverified email");

        let stack = start(
            Stack::builder().with(|s| s.allowed_email_domains = support::words(".example.com")),
        )
        .await;
        assert_eq!(get_as(&stack, "dave", "/").await, 200);
        assert_eq!(
            get_as(&stack, "alice", "/").await,
            403,
            ".example.com is subdomains only"
        );
        assert_eq!(get_as(&stack, "mallory", "/").await, 403);
    })
    .await;
}

#[tokio::test]
async fn allowed_emails_compare_lower_cased_verified_addresses() {
    bounded(async {
        let stack = start(Stack::builder().with(|s| {
            s.allowed_emails = support::words("ALICE@example.com,erin@example.com,bob@example.com")
        }))
        .await;
        assert_eq!(get_as(&stack, "alice", "/").await, 200);
        assert_eq!(get_as(&stack, "erin", "/").await, 200);
        assert_eq!(
            get_as(&stack, "bob", "/").await,
            403,
            "bob's email is not verified"
        );
        assert_eq!(get_as(&stack, "dave", "/").await, 403);
    })
    .await;
}

#[tokio::test]
async fn unverified_email_in_the_headers_is_still_refused_by_email_rules() {
    bounded(async {
        let file = toml_file(
            r#"
            [[route]]
            path_prefix = "/open"
            "#,
        );
        let stack = start(
            Stack::builder()
                .with(|s| support::config_file(s, file.path()))
                .with(|s| s.allowed_email_domains = vec!["example.com".into()])
                .with(|s| s.provider.allow_unverified_email = "true".into()),
        )
        .await;
        assert_eq!(
            get_as(&stack, "bob", "/open/x").await,
            200,
            "a route with no rules"
        );
        assert_eq!(
            stack.upstream.last().header("x-user-email"),
            Some("bob@example.com"),
            "allow-unverified-email puts the address in the headers"
        );
        assert_eq!(
            get_as(&stack, "bob", "/").await,
            403,
            "but never satisfies an email rule"
        );
        assert_eq!(get_as(&stack, "alice", "/").await, 200);
    })
    .await;
}

#[tokio::test]
async fn routes_are_tried_in_order_and_the_first_match_decides() {
    bounded(async {
        let file = toml_file(
            r#"
            [[route]]
            path_prefix = "/admin"
            methods = ["POST"]
            allowed_emails = ["erin@example.com"]

            [[route]]
            path_prefix = "/admin"
            allowed_groups = ["admins"]

            [[route]]
            path_prefix = "/team/"
            allowed_groups = ["Engineering, Platform"]

            [[route]]
            host = ".other.test"
            allowed_email_domains = ["eu.example.com"]
            "#,
        );
        let stack = start(Stack::builder().with(|s| {
            s.allowed_groups = vec!["nobody".into()];
            support::config_file(s, file.path());
        }))
        .await;
        assert_eq!(get_as(&stack, "alice", "/admin/users").await, 200);
        assert_eq!(get_as(&stack, "alice", "/admin").await, 200);
        assert_eq!(
            status_as(&stack, "alice", "POST", "/admin/users").await,
            403
        );
        assert_eq!(status_as(&stack, "erin", "POST", "/admin/users").await, 200);
        assert_eq!(get_as(&stack, "erin", "/admin/users").await, 403);
        assert_eq!(
            get_as(&stack, "alice", "/administrator").await,
            403,
            "global rules"
        );
        assert_eq!(
            get_as(&stack, "alice", "/team/a").await,
            200,
            "a group with a comma"
        );
        assert_eq!(get_as(&stack, "alice", "/").await, 403, "global rules");
        let on_host = |user: &'static str| {
            support::plain_client()
                .get(stack.url("/x"))
                .header("host", "app.other.test")
                .bearer_auth(token(&stack, user))
                .send()
        };
        assert_eq!(on_host("dave").await.unwrap().status(), 200);
        assert_eq!(on_host("alice").await.unwrap().status(), 403);
    })
    .await;
}

#[tokio::test]
async fn a_configured_groups_claim_feeds_rules_and_headers() {
    bounded(async {
        let stack = start(
            Stack::builder()
                .with(|s| s.provider.groups_claim = Some("custom:department".into()))
                .with(|s| s.allowed_groups = support::list("R&D")),
        )
        .await;
        assert_eq!(get_as(&stack, "alice", "/").await, 200);
        assert_eq!(stack.upstream.last().header("x-user-groups"), Some("R&D"));
        assert_eq!(get_as(&stack, "dave", "/").await, 403);
    })
    .await;
}

#[tokio::test]
async fn a_refused_browser_sees_who_it_is_and_a_sign_out_form() {
    bounded(async {
        let stack =
            start(Stack::builder().with(|s| s.allowed_emails = support::words("erin@example.com")))
                .await;
        let client = support::browser();
        let r = sign_in_as(&stack, &client, "/private", "alice", "alice-password").await;
        assert_eq!(r.status(), 302, "sign-in itself succeeds");
        let r = navigate(&client, &stack.url("/private")).await;
        assert_eq!(r.status(), 403);
        let html = r.text().await.unwrap();
        assert!(html.contains("Signed in as alice@example.com."), "{html}");
        assert!(
            html.contains(r#"<form method="post" action="/oauth2/sign_out">"#),
            "{html}"
        );
        assert_eq!(stack.upstream.count(), 0);
        // The form's sign-out works: the session ends.
        let r = client
            .post(stack.url("/oauth2/sign_out"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let r = navigate(&client, &stack.url("/private")).await;
        assert_eq!(r.status(), 302, "signed out: back to the IdP");
    })
    .await;
}

#[tokio::test]
async fn the_403_page_posts_to_the_configured_prefix() {
    bounded(async {
        let stack = start(
            Stack::builder()
                .with(|s| s.proxy_prefix = "/_auth".into())
                .with(|s| s.allowed_groups = support::list("nobody")),
        )
        .await;
        let r = support::plain_client()
            .get(stack.url("/"))
            .header("accept", "text/html")
            .bearer_auth(token(&stack, "bob"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let html = r.text().await.unwrap();
        assert!(html.contains(r#"action="/_auth/sign_out""#), "{html}");
        assert!(
            html.contains("Signed in as bob"),
            "no verified email: the user name"
        );
    })
    .await;
}

async fn auth_check(stack: &Stack, user: &str, query: &str, uri: Option<&str>) -> u16 {
    let mut req = support::plain_client()
        .get(stack.url(&format!("/oauth2/auth{query}")))
        .bearer_auth(token(stack, user));
    if let Some(uri) = uri {
        req = req
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-host", "app.example.com")
            .header("x-forwarded-proto", "https");
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forward_auth_query_rules_are_anded_with_the_configured_rules() {
    bounded(async {
        let file = toml_file(
            r#"
            [[route]]
            path_prefix = "/admin"
            allowed_groups = ["admins"]
            "#,
        );
        let stack = start(
            Stack::builder()
                .with(|s| support::config_file(s, file.path()))
                .with(|s| s.allowed_email_domains = vec!["example.com".into()])
                .with(|s| s.forward_auth_ingress = "traefik".into())
                .with(|s| s.trusted_proxies = support::words("127.0.0.1/32")),
        )
        .await;
        let page = Some("/page");
        assert_eq!(auth_check(&stack, "alice", "", page).await, 202);
        assert_eq!(
            auth_check(&stack, "alice", "?allowed_groups=admins", page).await,
            202
        );
        assert_eq!(
            auth_check(&stack, "alice", "?allowed_groups=ops", page).await,
            403
        );
        assert_eq!(
            auth_check(&stack, "alice", "?allowed_email_domains=other.com", page).await,
            403
        );
        assert_eq!(
            auth_check(&stack, "dave", "", page).await,
            403,
            "global rules still hold"
        );
        assert_eq!(
            auth_check(&stack, "dave", "?allowed_email_domains=.example.com", page).await,
            403,
            "a query rule cannot widen the configured ones"
        );
        assert_eq!(auth_check(&stack, "erin", "", page).await, 202);
        assert_eq!(
            auth_check(&stack, "erin", "", Some("/admin/x")).await,
            403,
            "the route"
        );
        assert_eq!(auth_check(&stack, "alice", "", Some("/admin/x")).await, 202);
        assert_eq!(
            auth_check(&stack, "erin", "", Some("/page/..%2Fadmin")).await,
            403,
            "an ambiguous path needs every reading's rules"
        );
        assert_eq!(
            auth_check(&stack, "erin", "", None).await,
            403,
            "no original URL: every route's rules apply"
        );
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_peer_cannot_pick_the_route_with_x_forwarded_uri() {
    bounded(async {
        let file = toml_file(
            r#"
            [[route]]
            path_prefix = "/admin"
            allowed_groups = ["admins"]
            "#,
        );
        let stack = start(Stack::builder().with(|s| support::config_file(s, file.path()))).await;
        assert_eq!(auth_check(&stack, "alice", "", Some("/page")).await, 202);
        assert_eq!(
            auth_check(&stack, "erin", "", Some("/page")).await,
            403,
            "the header is ignored, so every route's rules apply"
        );
    })
    .await;
}

#[test]
fn bad_route_tables_are_reported_one_line_each() {
    let file = toml_file(
        r#"
        allowed_emails = ["a@b@c.com"]
        [[route]]
        path_prefix = "static"
        methods = "get"
        [[route]]
        skip_auth = true
        allowed_groups = ["x"]
        [[route]]
        colour = "blue"
        "#,
    );
    let env = MapSource::new([
        ("SIDECAR_CONFIG", file.path().to_str().unwrap()),
        ("SIDECAR_UPSTREAM", "http://127.0.0.1:1"),
        ("SIDECAR_ISSUER_URL", "http://127.0.0.1:2/pool"),
        ("SIDECAR_CLIENT_ID", "c"),
        ("SIDECAR_REDIRECT_URL", "http://127.0.0.1:3/oauth2/callback"),
        ("SIDECAR_COOKIE_SECRET", support::COOKIE_SECRET),
        ("SIDECAR_SKIP_AUTH_ROUTES", "GET /ok,get /x,/a/../b"),
    ]);
    let err: Result<Config, _> = Config::load(&RunArgs::default(), &env);
    let text = err.unwrap_err().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let expected = [
        r#"allowed-emails: must be an email address with exactly one @ (got "a@b@c.com")"#,
        r#"route[1]: methods: must be an HTTP method in upper case, like GET (got "get")"#,
        "route[2]: skip_auth = true cannot have allowed_* rules (nobody is signed in to check)",
        r#"route[3]: unknown key (got "colour")"#,
        r#"skip-auth-routes: must be an HTTP method in upper case, like GET (got "get /x")"#,
    ];
    for line in expected {
        assert!(lines.contains(&line), "missing {line:?} in:\n{text}");
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with("route[1]: path_prefix: must be a path")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("skip-auth-routes: must be a path")
            && l.ends_with(r#"(got "/a/../b")"#)));
    assert_eq!(lines.len(), expected.len() + 2, "{text}");
}

#[tokio::test]
async fn a_route_restricts_every_case_suffix_and_method_spelling() {
    bounded(async {
        let file = toml_file(
            r#"
            [[route]]
            path_prefix = "/admin"
            allowed_groups = ["admins"]

            [[route]]
            path_prefix = "/items"
            methods = ["DELETE"]
            allowed_groups = ["admins"]

            [[route]]
            path_prefix = "/reports"
            methods = ["GET"]
            allowed_groups = ["admins"]
            "#,
        );
        let stack = start(Stack::builder().with(|s| support::config_file(s, file.path()))).await;
        for path in [
            "/ADMIN/x",
            "/Admin",
            "/admin.json",
            "/admin.",
            "/admin%20",
            "/admin~",
            "/admin%2E",
        ] {
            assert_eq!(get_as(&stack, "bob", path).await, 403, "{path}");
            assert_eq!(get_as(&stack, "alice", path).await, 200, "{path}");
        }
        assert_eq!(get_as(&stack, "bob", "/administrator").await, 200);
        for method in ["DELETE", "delete", "Delete"] {
            assert_eq!(
                status_as(&stack, "bob", method, "/items/1").await,
                403,
                "{method}"
            );
        }
        assert_eq!(status_as(&stack, "alice", "delete", "/items/1").await, 200);
        assert_eq!(status_as(&stack, "bob", "GET", "/items/1").await, 200);
        assert_eq!(
            status_as(&stack, "bob", "HEAD", "/reports").await,
            403,
            "HEAD is answered by GET handlers, so a GET rule restricts it"
        );
        assert_eq!(status_as(&stack, "bob", "POST", "/reports").await, 200);
    })
    .await;
}

/// Values that would collapse into another user's: the Kelvin sign lower-cases
/// to `k` in Unicode, and dropped control characters turn `admins\0` into
/// `admins`. Neither passes a rule meant for the other, and both reach the
/// upstream percent-encoded, never shortened.
#[tokio::test]
async fn identity_values_never_collapse_into_another_users() {
    bounded(async {
        let stack =
            start(Stack::builder().with(|s| s.allowed_emails = support::words("kate@example.com")))
                .await;
        assert_eq!(get_as(&stack, "kelvin", "/x").await, 403);
        let stack =
            start(Stack::builder().with(|s| s.allowed_groups = support::list("admins"))).await;
        assert_eq!(get_as(&stack, "kelvin", "/x").await, 403);
        assert_eq!(get_as(&stack, "alice", "/x").await, 200);
        let stack = start(Stack::builder()).await;
        assert_eq!(get_as(&stack, "kelvin", "/x").await, 200);
        let seen = stack.upstream.last();
        assert_eq!(seen.header("x-user-groups"), Some("admins%00"));
        assert_eq!(seen.header("x-user-name"), Some("admin%7F"));
        assert_eq!(
            seen.header("x-user-email"),
            Some("%E2%84%AAate@example.com")
        );
    })
    .await;
}
