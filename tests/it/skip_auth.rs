//! Skip-auth routes and CORS preflights: matched on the normalized path only,
//! so no query, fragment, dot segment, encoded slash, case change or
//! client-sent `X-Forwarded-Uri` widens a match (oauth2-proxy had advisories
//! for each). Requests are written byte for byte on a raw socket, since HTTP
//! clients normalize paths before sending them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use crate::support;

use std::io::Write;
use std::time::Duration;

use cognito_sidecar::mock::{TokenTweak, DEMO_CLIENT_ID};
use support::{bounded, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Skip routes from the flag and from a `[[route]]` table.
async fn start(preflight: bool) -> (Stack, tempfile::NamedTempFile) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let routes = "[[route]]\npath_prefix = \"/public\"\nskip_auth = true\n";
    file.write_all(routes.as_bytes()).unwrap();
    let stack = Stack::builder()
        .with(|s| support::config_file(s, file.path().to_str().unwrap()))
        .with(|s| s.skip_auth_routes = support::list("GET /healthz,/static/"))
        .with(|s| s.skip_auth_preflight = preflight.to_string())
        // Even a trusted proxy's X-Forwarded-Uri never picks a skip route.
        .with(|s| s.trusted_proxies = support::words("127.0.0.1/32"))
        .start()
        .await;
    (stack, file)
}

/// Sends `request_line` plus `headers` as written and returns the status
/// code (0 when the connection closed without an answer).
async fn raw(stack: &Stack, request_line: &str, headers: &[&str]) -> u16 {
    let addr = stack.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{request_line}\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the sidecar answers")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn get(stack: &Stack, target: &str) -> u16 {
    raw(stack, &format!("GET {target} HTTP/1.1"), &[]).await
}

#[tokio::test]
async fn skip_routes_are_forwarded_anonymously_without_client_identity_headers() {
    bounded(async {
        let (stack, _file) = start(false).await;
        let spoof = ["X-User-Email: ceo@example.com", "X-Auth-Request-User: ceo"];
        let status = raw(&stack, "GET /healthz HTTP/1.1", &spoof).await;
        assert_eq!(status, 200);
        let seen = stack.upstream.last();
        assert_eq!(seen.path, "/healthz");
        assert_eq!(seen.header("x-user-email"), None, "spoofed header stripped");
        assert_eq!(seen.header("x-auth-request-user"), None);
        assert_eq!(seen.header("x-user-sub"), None);
        assert_eq!(get(&stack, "/static/app.js").await, 200);
        assert_eq!(
            raw(&stack, "POST /static/form HTTP/1.1", &["Content-Length: 0"]).await,
            200
        );
        assert_eq!(
            get(&stack, "/public").await,
            200,
            "a [[route]] with skip_auth"
        );
        assert_eq!(get(&stack, "/public/x").await, 200);
        assert_eq!(
            get(&stack, "/st%61tic/x").await,
            200,
            "an escaped unreserved character"
        );
        assert_eq!(
            stack.upstream.last().path,
            "/st%61tic/x",
            "forwarded as sent"
        );
        assert_eq!(stack.upstream.count(), 6);
    })
    .await;
}

#[tokio::test]
async fn the_bypass_corpus_never_widens_a_skip_route() {
    bounded(async {
        let (stack, _file) = start(false).await;
        let corpus = [
            "/static/../admin",
            "/static/%2e%2e/admin",
            "/static/%2E%2E/admin",
            "/static%2F..%2Fadmin",
            "/static/..%2Fadmin",
            "/static/..%2fadmin",
            "/static/..%5Cadmin",
            "/static/..\\admin",
            "//static/../admin",
            "/static/./../admin",
            "/static/..;/admin",
            "/static/%252e%252e/admin",
            "/STATIC/app.js",
            "/Static/app.js",
            "/static",
            "/staticfoo",
            "/healthz/",
            "/healthz/../admin",
            "/admin?x=/healthz",
            "/admin?/static/",
            "/admin#/static/",
            "/admin%23/static/",
            "/admin%3F/static/",
            "/publicity",
            "/public/../admin",
            "/public%2F..%2Fadmin",
        ];
        for target in corpus {
            let status = get(&stack, target).await;
            assert!(
                status == 401 || status == 400,
                "{target} must need sign-in, got {status}"
            );
        }
        assert_eq!(stack.upstream.count(), 0, "nothing reached the app");
        let status = raw(&stack, "HEAD /healthz HTTP/1.1", &[]).await;
        assert_eq!(status, 401, "the route names GET only");
    })
    .await;
}

#[tokio::test]
async fn a_query_or_fragment_does_not_change_which_path_matched() {
    bounded(async {
        let (stack, _file) = start(false).await;
        assert_eq!(get(&stack, "/healthz?x=/admin").await, 200);
        assert_eq!(stack.upstream.last().path, "/healthz?x=/admin");
        let status = get(&stack, "/static/x#/../../admin").await;
        if status == 200 {
            let path = stack.upstream.last().path;
            assert!(path.starts_with("/static/x"), "{path}");
            assert!(
                !path.contains("admin"),
                "the fragment is not forwarded: {path}"
            );
        } else {
            assert_eq!(status, 400, "a fragment may also be refused");
        }
    })
    .await;
}

#[tokio::test]
async fn a_client_sent_x_forwarded_uri_never_picks_a_skip_route() {
    bounded(async {
        let (stack, _file) = start(false).await;
        for header in [
            "X-Forwarded-Uri: /static/x",
            "X-Original-URL: http://localhost/static/x",
            "X-Original-URI: /healthz",
            "X-Rewrite-URL: /static/x",
        ] {
            let status = raw(&stack, "GET /admin HTTP/1.1", &[header]).await;
            assert_eq!(status, 401, "{header}");
        }
        assert_eq!(stack.upstream.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_signed_in_user_keeps_their_identity_headers_on_skip_routes() {
    bounded(async {
        let (stack, _file) = start(false).await;
        let client = support::signed_in(&stack).await;
        let before = stack.upstream.count();
        let r = client
            .get(stack.url("/static/app.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(stack.upstream.count(), before + 1);
        let seen = stack.upstream.last();
        assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));
        assert!(seen.header("x-user-sub").is_some());

        let token = stack
            .mock
            .mint_id_token_for("bob", DEMO_CLIENT_ID, None, TokenTweak::NoTweak)
            .unwrap();
        let r = support::plain_client()
            .get(stack.url("/healthz"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(stack.upstream.last().header("x-user-username"), Some("bob"));

        let r = support::plain_client()
            .get(stack.url("/healthz"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a bad token does not block a skip route");
        assert_eq!(stack.upstream.last().header("x-user-sub"), None);
    })
    .await;
}

const PREFLIGHT: [&str; 2] = [
    "Origin: https://spa.example.com",
    "Access-Control-Request-Method: PUT",
];

#[tokio::test]
async fn preflights_need_sign_in_unless_the_option_is_on() {
    bounded(async {
        let (stack, _file) = start(false).await;
        assert_eq!(
            raw(&stack, "OPTIONS /api/items HTTP/1.1", &PREFLIGHT).await,
            401
        );
        assert_eq!(stack.upstream.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn with_the_option_only_real_preflights_skip_sign_in() {
    bounded(async {
        let (stack, _file) = start(true).await;
        assert_eq!(
            raw(&stack, "OPTIONS /api/items HTTP/1.1", &PREFLIGHT).await,
            200
        );
        let seen = stack.upstream.last();
        assert_eq!(
            (seen.method.as_str(), seen.path.as_str()),
            ("OPTIONS", "/api/items")
        );
        assert_eq!(seen.header("x-user-sub"), None);
        let origin_only = &PREFLIGHT[..1];
        assert_eq!(
            raw(&stack, "OPTIONS /api/items HTTP/1.1", origin_only).await,
            401
        );
        assert_eq!(raw(&stack, "OPTIONS /api/items HTTP/1.1", &[]).await, 401);
        assert_eq!(
            raw(&stack, "PUT /api/items HTTP/1.1", &PREFLIGHT).await,
            401
        );
        assert_eq!(stack.upstream.count(), 1);
    })
    .await;
}
