//! Every page escapes what it shows, names the product, offers one safe
//! action and loads nothing external.

use super::frame::with_code;
use super::*;

/// The `id="action"` element's href (links) or form action (posts).
fn action_target(html: &str) -> Option<String> {
    let at = html.find("id=\"action\"")?;
    let before = &html[..at];
    let (attr, from) = if before.ends_with("<a ") {
        ("href=\"", at)
    } else {
        ("action=\"", before.rfind("<form")?)
    };
    let start = html[from..].find(attr)? + from + attr.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

#[test]
fn escapes_every_dynamic_value() {
    let html = render(&Page {
        title: "<b>t</b>",
        message: "a & <script>alert(1)</script>",
        detail: Some("\"><img src=x onerror=alert(1)>"),
        action: Some(Action {
            label: "<i>go</i>",
            href: "/x?a=1&b=\"><script>",
            method: ActionMethod::Get,
        }),
    });
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>t</b>") && !html.contains("<i>go</i>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        html.contains("href=\"/x?a=1&amp;b=&quot;&gt;&lt;script&gt;\""),
        "{html}"
    );
}

#[test]
fn idp_pages_show_fixed_text_only() {
    let html = idp_error("server_error", "/oauth2/start");
    assert!(html.contains("The identity provider ran into an internal error"));
    assert!(html.contains("Error code: server_error."));
    let chosen = idp_error("Call_+1-555-0100_to_restore_access", "/start");
    assert!(!chosen.contains("555"), "an unknown code is not echoed");
    assert!(chosen.contains("The identity provider could not sign you in."));
}

#[test]
fn idp_codes_map_to_sentences() {
    let html = idp_error("access_denied", "/start");
    assert!(html.contains("You cancelled sign-in or the identity provider refused it."));
    assert!(html.contains("Error code: access_denied."));
    for code in [
        "invalid_request",
        "unauthorized_client",
        "invalid_scope",
        "server_error",
        "login_required",
        "temporarily_unavailable",
    ] {
        assert_ne!(
            idp_error_text(code),
            idp_error_text("something_else"),
            "{code}"
        );
    }
    let unknown = idp_error("<weird>", "/start");
    assert!(unknown.contains("The identity provider could not sign you in."));
    assert!(!unknown.contains("weird"));
}

#[test]
fn every_builder_has_product_message_and_action() {
    let cases = [
        (
            sign_in_required("/oauth2/start?rd=%2F"),
            "You need to sign in",
            Some("/oauth2/start?rd=%2F"),
        ),
        (
            login_failed("The sign-in link expired.", "/oauth2/start"),
            "The sign-in link expired.",
            Some("/oauth2/start"),
        ),
        (
            idp_error("access_denied", "/retry"),
            "You cancelled sign-in",
            Some("/retry"),
        ),
        (
            forbidden("ann@example.com", "/oauth2/sign_out"),
            "does not have access",
            Some("/oauth2/sign_out"),
        ),
        (
            signed_out("/oauth2/start"),
            "You have been signed out.",
            Some("/oauth2/start"),
        ),
        (
            bad_request("The callback had no state."),
            "The callback had no state.",
            Some("/"),
        ),
        (upstream_unavailable(), "could not be reached", Some("")),
        (gateway_timeout(), "took too long to respond", Some("")),
        (
            idp_unavailable("/oauth2/start"),
            "sign-in service is not responding",
            Some("/oauth2/start"),
        ),
        (not_found(), "There is nothing at this address.", Some("/")),
    ];
    for (html, message, target) in cases {
        assert!(
            html.contains("<header>") && html.contains("<span>cognito-sidecar</span>"),
            "{html}"
        );
        assert!(html.contains(message), "{message}");
        assert_eq!(action_target(&html).as_deref(), target, "{message}");
        assert!(html.contains("<meta name=\"viewport\""));
    }
}

#[test]
fn forbidden_shows_who_and_posts_sign_out() {
    let html = forbidden("<ann>@example.com", "/oauth2/sign_out");
    assert!(html.contains("Signed in as &lt;ann&gt;@example.com."));
    assert!(html.contains("<form method=\"post\" action=\"/oauth2/sign_out\">"));
    assert!(html.contains("<button id=\"action\""));
}

#[test]
fn hostile_hrefs_become_home() {
    for href in [
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "data:text/html,x",
        "//evil.com",
        "/\\evil.com",
        "/\tx",
    ] {
        assert_eq!(
            action_target(&sign_in_required(href)).as_deref(),
            Some("/"),
            "{href:?}"
        );
    }
    assert_eq!(
        safe_href("https://idp.example.com/login?a=b"),
        "https://idp.example.com/login?a=b"
    );
}

#[test]
fn pages_load_nothing_external() {
    let html = signed_out("/oauth2/start");
    for needle in ["<script", "<link", "src=", "url(", "@import"] {
        assert!(!html.contains(needle), "{needle}");
    }
}

#[test]
fn setting_names_in_backticks_become_code_and_stay_escaped() {
    let html = diagnosis("t", "m", "set `cookie-domain` or `<b>`", "/");
    assert!(html.contains("set <code>cookie-domain</code> or <code>&lt;b&gt;</code>"));
    assert_eq!(with_code("one ` only"), "one ` only");
}
