//! The sign-in flow end to end: what an unauthenticated request gets and the
//! identity it yields ([`requests`]), the [`callback`]'s failure modes,
//! [`cookies`] hygiene, and the sidecar's own [`endpoints`]. Here: what
//! several of them use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers
use crate::support;

use support::*;

mod callback;
mod cookies;
mod endpoints;
mod requests;

const SESSION: &str = "_cognito_sidecar";
const LOGIN_PREFIX: &str = "_cognito_sidecar_login_";

/// The value of the session cookie a signed-in browser holds.
fn session_value(stack: &Stack, jar: &reqwest::cookie::Jar) -> String {
    jar_cookies(jar, &stack.base)
        .into_iter()
        .find(|(n, _)| n == SESSION)
        .map(|(_, v)| v)
        .expect("a session cookie in the jar")
}

/// An API request (no `Accept: text/html`) carrying exactly this Cookie header.
async fn api_with_cookie(stack: &Stack, path: &str, cookie: &str) -> reqwest::Response {
    plain_client()
        .get(stack.url(path))
        .header("accept", "application/json")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Status and JSON body of an answer (`null` when the body is not JSON).
async fn status_json(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// The `name=value` of a `Set-Cookie` value.
fn cookie_pair(set_cookie: &str) -> (String, String) {
    let first = set_cookie.split(';').next().unwrap();
    let (n, v) = first.split_once('=').unwrap();
    (n.trim().to_string(), v.trim().to_string())
}

/// Signs `username` in with a jar browser; returns it, its jar and the session cookie value.
async fn jar_sign_in(
    stack: &Stack,
    path: &str,
    username: &str,
    password: &str,
) -> (
    reqwest::Client,
    std::sync::Arc<reqwest::cookie::Jar>,
    String,
) {
    let (client, jar) = browser_with_jar();
    let r = sign_in_as(stack, &client, path, username, password).await;
    assert_eq!(r.status(), 302);
    let value = session_value(stack, &jar);
    (client, jar, value)
}

/// An HTML callback request from `client`.
async fn callback_html(stack: &Stack, client: &reqwest::Client, query: &str) -> reqwest::Response {
    navigate(client, &stack.url(&format!("/oauth2/callback?{query}"))).await
}

/// The `href` of the page's action link.
fn action_href(html: &str) -> String {
    let at = html.find("id=\"action\"").expect("an action link");
    let rest = &html[at..];
    let start = rest.find("href=\"").expect("an href") + 6;
    let end = rest[start..].find('"').unwrap();
    html_escape::decode_html_entities(&rest[start..start + end]).into_owned()
}

/// A navigation that starts a login; returns the IdP URL and the login cookie pair.
async fn start_login(stack: &Stack, client: &reqwest::Client, path: &str) -> (String, String) {
    let r = navigate(client, &stack.url(path)).await;
    assert_eq!(r.status(), 302);
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with(LOGIN_PREFIX))
        .expect("a login cookie");
    let (n, v) = cookie_pair(&cookie);
    (location(&r), format!("{n}={v}"))
}

const SESSION_EQ: &str = "_cognito_sidecar=";
