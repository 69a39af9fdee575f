//! Header hygiene: identity spoofs stripped in every spelling, forwarding and
//! routing headers by trust, hop-by-hop headers and the sidecar's cookies
//! kept from the upstream both ways.

use super::*;

/// Every identity family and spelling a client might try, as sent on the wire.
const SPOOFED: &[&str] = &[
    "X-User-Email",
    "x-user-name",
    "X_User_Email",
    "x_user_email",
    "X-USER-GROUPS",
    "X-User-Sub",
    "X-User-Username",
    "X-Auth-Request-Email",
    "X-Auth-Request-User",
    "X-Auth-Request-Groups",
    "X-Amzn-Oidc-Data",
    "X-Amzn-Oidc-Identity",
    "X-Amzn-Oidc-Accesstoken",
    "x-forwarded-user",
    "x-forwarded-email",
    "remote-user",
    "X-Remote-User",
    "X-Sidecar-Identity",
    // Look-alikes mixing `_` and `-`.
    "X-User_Groups",
    "x_user-sub",
    "X_USER_USERNAME",
    "X_Auth_Request_Email",
    "x-amzn_oidc-data",
    "X_Amzn_Oidc_Identity",
    "Remote_User",
    "X_Remote-User",
    "X_FORWARDED_USER",
    "x_forwarded-email",
    "x-sidecar_identity",
    "X-User-Is-Admin",
];

/// The identity families, re-stated here independently of the sidecar's code.
fn in_identity_family(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('_', "-");
    ["x-user-", "x-auth-request-", "x-amzn-oidc-"]
        .iter()
        .any(|p| n.starts_with(p))
        || [
            "x-forwarded-user",
            "x-forwarded-email",
            "remote-user",
            "x-remote-user",
            "x-sidecar-identity",
            "x-remote-email",
        ]
        .contains(&n.as_str())
}

fn spoofs(extra: &[&str]) -> Vec<(String, String)> {
    SPOOFED
        .iter()
        .chain(extra)
        .map(|n| (n.to_string(), SPOOF_VALUE.to_string()))
        .collect()
}

#[tokio::test]
async fn spoofed_identity_headers_without_a_session_are_rejected_before_the_upstream() {
    let stack = Stack::start().await;
    let addr = stack.sidecar.addr();
    let mut navigation = spoofs(&[]);
    navigation.push(("Accept".into(), "text/html".into()));
    let raw = raw_request(addr, "/private", &navigation).await;
    assert_eq!(status_of(&raw), 302, "a navigation goes to the IdP: {raw}");
    let raw = raw_request(addr, "/api/private", &spoofs(&[])).await;
    assert_eq!(status_of(&raw), 401, "an API call is refused: {raw}");
    assert_eq!(stack.upstream.count(), 0, "nothing reached the upstream");
}

/// Checks that the upstream saw exactly the sidecar's identity headers.
fn assert_only_sidecar_identity(seen: &Seen, own: &[(&str, &str)]) {
    for (name, value) in &seen.headers {
        assert!(
            !value.contains("spoofed"),
            "a spoofed value reached the upstream in {name}: {value}"
        );
        if in_identity_family(name) {
            assert!(
                own.iter().any(|(n, _)| n == name),
                "identity look-alike {name} reached the upstream"
            );
        }
    }
    for (name, value) in own {
        let values: Vec<&str> = seen
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values, [*value], "{name}");
    }
}

#[tokio::test]
async fn spoofed_identity_headers_with_a_session_are_replaced_by_the_sidecars_values() {
    let stack = Stack::start().await;
    let mut headers = spoofs(&[]);
    headers.push(("Cookie".into(), session_cookie(&stack).await));
    let raw = raw_request(stack.sidecar.addr(), "/private", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    assert!(raw.ends_with("upstream:/private"), "{raw}");
    assert_eq!(stack.upstream.count(), 1);
    let own = [
        ("x-user-email", "alice@example.com"),
        ("x-user-username", "alice"),
        ("x-user-sub", "7d8ca528-4931-4254-9273-ea5ee853f271"),
        (
            "x-user-name",
            "Zo%C3%AB %C3%85ngstr%C3%B6m-%C5%81ukasiewicz",
        ),
        ("x-user-groups", "admins,Engineering%2C Platform"),
        ("x-user-provider", "default"),
    ];
    assert_only_sidecar_identity(&stack.upstream.last(), &own);
}

#[tokio::test]
async fn a_configured_email_header_is_set_and_its_spoofs_are_stripped() {
    let stack = Stack::builder()
        .with(|s| s.header_email = "X-Remote-Email".into())
        .start()
        .await;
    let mut headers = spoofs(&["X-Remote-Email", "X_Remote_Email", "x-remote_email"]);
    headers.push(("Cookie".into(), session_cookie(&stack).await));
    let raw = raw_request(stack.sidecar.addr(), "/private", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let seen = stack.upstream.last();
    let own = [
        ("x-remote-email", "alice@example.com"),
        ("x-user-username", "alice"),
        ("x-user-sub", "7d8ca528-4931-4254-9273-ea5ee853f271"),
        (
            "x-user-name",
            "Zo%C3%AB %C3%85ngstr%C3%B6m-%C5%81ukasiewicz",
        ),
        ("x-user-groups", "admins,Engineering%2C Platform"),
        ("x-user-provider", "default"),
    ];
    assert_only_sidecar_identity(&seen, &own);
    assert_eq!(seen.header("x-user-email"), None);
}

/// A signed-in GET of `/fwd` with client-made forwarding headers.
async fn forwarded_request(stack: &Stack) -> Seen {
    let cookie = session_cookie(stack).await;
    let r = plain_client()
        .get(stack.url("/fwd"))
        .header("cookie", cookie)
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "for=6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stack.upstream.last()
}

#[tokio::test]
async fn client_forwarding_headers_are_replaced_by_default() {
    let stack = Stack::start().await;
    let seen = forwarded_request(&stack).await;
    let host = stack.sidecar.addr().to_string();
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.header("x-forwarded-host"), Some(host.as_str()));
    assert_eq!(seen.header("forwarded"), None);
    assert_eq!(seen.header("x-real-ip"), None);
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_are_kept_and_appended_to() {
    let stack = Stack::builder()
        .with(|s| s.trusted_proxies = support::words("127.0.0.1/32"))
        .start()
        .await;
    let seen = forwarded_request(&stack).await;
    assert_eq!(seen.header("x-forwarded-for"), Some("6.6.6.6, 127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-host"), Some("evil.example"));
}

/// Headers apps read as the URL, method, scheme, port, prefix or client
/// address (README "Security"), sent by the client.
const ROUTING: [&str; 14] = [
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-HTTP-Method-Override",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "True-Client-IP",
    "X-Forwarded-Server",
    "X-Real-IP",
    "X-Client-IP",
    "Forwarded",
    "X-Forwarded-Uri",
    "X-Method-Override",
    "X_Original_URL",
    "CF-Connecting-IP",
];

async fn with_routing_headers(stack: &Stack) -> Seen {
    let cookie = session_cookie(stack).await;
    let mut request = plain_client()
        .get(stack.url("/fwd"))
        .header("cookie", cookie);
    for name in ROUTING {
        request = request.header(name, "/admin");
    }
    let request = request
        .header("Remote-Groups", "admins")
        .header("Remote-Email", "admin@example.com");
    assert_eq!(request.send().await.unwrap().status(), 200);
    stack.upstream.last()
}

#[tokio::test]
async fn routing_and_identity_look_alikes_from_untrusted_clients_are_stripped() {
    let stack = Stack::start().await;
    let seen = with_routing_headers(&stack).await;
    for name in ROUTING.iter().chain(&["Remote-Groups", "Remote-Email"]) {
        assert_eq!(seen.header(name), None, "{name}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_keeps_routing_headers_but_never_identity_ones() {
    let stack = Stack::builder()
        .with(|s| s.trusted_proxies = support::words("127.0.0.1/32"))
        .start()
        .await;
    let seen = with_routing_headers(&stack).await;
    for name in ROUTING {
        assert_eq!(seen.header(name), Some("/admin"), "{name}");
    }
    assert_eq!(seen.header("Remote-Groups"), None);
    assert_eq!(seen.header("Remote-Email"), None);
}

#[tokio::test]
async fn the_sidecars_cookies_stay_with_the_sidecar_and_others_pass() {
    let stack = Stack::start().await;
    let session = session_cookie(&stack).await;
    let client = plain_client();
    let cookies = format!("theme=dark; {session}; lang=en; _cognito_sidecar_login=abc");
    let r = client
        .get(stack.url("/c"))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        stack.upstream.last().header("cookie"),
        Some("theme=dark; lang=en")
    );
    let r = client
        .get(stack.url("/c"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(stack.upstream.count(), 2);
    assert_eq!(stack.upstream.last().header("cookie"), None);
    // Two Cookie headers, the `__Host-` spelling and a quoted value, kept byte for byte.
    let headers = [
        (
            "Cookie".to_string(),
            format!("{session}; app=1; __Host-_cognito_sidecar=S2;theme=\"dark blue\""),
        ),
        (
            "Cookie".to_string(),
            "_cognito_sidecar_login_abc=L; _cognito_sidecar_rd=/x".to_string(),
        ),
    ];
    let raw = raw_request(stack.sidecar.addr(), "/c", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let seen = stack.upstream.last();
    let cookies: Vec<&str> = seen
        .headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["app=1; theme=\"dark blue\""]);
}

/// An upstream answering with hop-by-hop headers and cookies named like the
/// sidecar's; records the request headers it got.
async fn hop_upstream() -> (
    SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<http::HeaderMap>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    record.lock().unwrap().push(req.headers().clone());
                    let response = http::Response::builder()
                        .header("connection", "x-hop")
                        .header("x-hop", "1")
                        .header("keep-alive", "timeout=5")
                        .header("proxy-authenticate", "Basic")
                        .header("set-cookie", "_cognito_sidecar=evil; Path=/")
                        .header("set-cookie", "__Host-_cognito_sidecar=evil; Secure")
                        .header("set-cookie", "_cognito_sidecar_rd=/x")
                        .header("set-cookie", "app=1; HttpOnly")
                        .header("x-app", "kept")
                        .body(http_body_util::Full::new(bytes::Bytes::from("hello")));
                    async move { response }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn hop_by_hop_headers_go_both_ways_and_sidecar_cookies_cannot_be_set() {
    let (upstream, seen) = hop_upstream().await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let mut headers: Vec<(String, String)> = [
        ("Connection", "x-drop"),
        ("x-drop", "1"),
        ("keep-alive", "300"),
        ("proxy-connection", "keep-alive"),
        ("proxy-authorization", "Basic cHJveHk6cHc="),
        ("authorization", "Bearer app-token"),
        ("te", "trailers"),
        ("trailer", "x-t"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    headers.push(("Cookie".into(), session_cookie(&stack).await));
    let raw = raw_request(stack.sidecar.addr(), "/", &headers).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    let h = seen.lock().unwrap().last().cloned().unwrap();
    for gone in [
        "x-drop",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "trailer",
    ] {
        assert!(h.get(gone).is_none(), "{gone} reached the upstream");
    }
    assert_eq!(h["authorization"], "Bearer app-token");
    assert_eq!(h["te"], "trailers");

    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let answer: Vec<(String, &str)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim()))
        .collect();
    let values = |name: &str| -> Vec<&str> {
        let named = answer.iter().filter(|(n, _)| n == name);
        named.map(|(_, v)| *v).collect()
    };
    for gone in ["x-hop", "keep-alive", "proxy-authenticate"] {
        assert!(values(gone).is_empty(), "{gone} reached the client: {head}");
    }
    assert_eq!(values("x-app"), ["kept"]);
    assert_eq!(values("set-cookie"), ["app=1; HttpOnly"]);
    assert!(body.ends_with("hello"), "{body}");
}
