//! End to end in a real browser: Debian's headless Chromium, driven through
//! chromedriver (WebDriver), signs in at the mock Cognito's hosted form and
//! reaches the demo app behind the sidecar. Covers what a person sees: the
//! deep link they asked for, sign-out, two tabs, and error pages they can act on.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver: `scripts/install-test-deps.sh`.
//! Screenshots go to `target/screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cognito_sidecar::demo::app;
use cognito_sidecar::mock::MockConfig;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use support::Stack;
use tokio::net::TcpListener;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Longest wait for one page or element.
const STEP: Duration = Duration::from_secs(10);
/// Longest a whole test may take once its browser is up.
const TEST_LIMIT: Duration = Duration::from_secs(45);

const DEEP_LINK: &str = "/reports/q3?tab=summary";
const ALICE_EMAIL: &str = "alice@example.com";
const ALICE_NAME: &str = "Zoë Ångström-Łukasiewicz";

/// One browser at a time: the machine has two cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver and the Chromium it starts, in their own process group, so
/// that dropping this (also on a failed assertion) ends both.
struct Driver {
    child: Child,
    /// The fresh `--user-data-dir`, removed on drop.
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session in a fresh profile.
struct Browser {
    client: Client,
    _driver: Driver,
}

impl Browser {
    async fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run scripts/install-test-deps.sh (installs chromium and chromium-driver)"
            );
        }
        let profile = tempfile::tempdir().unwrap();
        let port = free_port().await;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let driver = Driver { child, profile };
        wait_for_port(port).await;
        let client = tokio::time::timeout(
            STEP * 2,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities(driver.profile.path()))
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("chromedriver did not start Chromium in time")
        .unwrap_or_else(|e| panic!("WebDriver session: {e}"));
        Self {
            client,
            _driver: driver,
        }
    }

    /// Ends the session (Chromium quits); the driver goes on drop.
    async fn close(self) {
        let _ = tokio::time::timeout(STEP, self.client.clone().close()).await;
    }
}

fn capabilities(profile: &Path) -> serde_json::Map<String, serde_json::Value> {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,850",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    caps.as_object().unwrap().clone()
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("chromedriver never listened on port {port}");
}

/// Runs one browser test: serialized, with a browser, bounded in time.
async fn with_browser<F, Fut>(body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let _serial = SERIAL.lock().await;
    let browser = Browser::start().await;
    tokio::time::timeout(TEST_LIMIT, body(browser.client.clone()))
        .await
        .expect("the browser test took too long");
    browser.close().await;
}

/// A stack whose upstream is the demo app, which shows the identity it got.
async fn demo_stack() -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let emails = app::Emails::of(&MockConfig::demo().users);
    tokio::spawn(app::serve(listener, emails));
    Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{addr}")))
        .with(|s| s.skip_auth_routes = support::list(app::SKIP_AUTH_ROUTES))
        .start()
        .await
}

async fn wait_css(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(STEP)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| {
            panic!("no `{css}` within {STEP:?}: {e}");
        })
}

async fn text_of(c: &Client, css: &str) -> String {
    wait_css(c, css).await.text().await.unwrap()
}

/// Waits until the page's `h1` reads `expected`. After a click or a submit
/// the old page's `h1` may still be found, or go stale while it is read, until
/// the navigation ends; both count as "not yet".
async fn wait_heading(c: &Client, expected: &str) {
    let deadline = tokio::time::Instant::now() + STEP;
    let mut seen = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(h1) = c.find(Locator::Css("h1")).await {
            if let Ok(text) = h1.text().await {
                if text == expected {
                    return;
                }
                seen = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("h1 is not {expected:?} within {STEP:?} (last seen {seen:?})");
}

async fn current(c: &Client) -> String {
    c.current_url().await.unwrap().to_string()
}

/// Waits for the mock's hosted sign-in form and checks it is the mock's.
async fn wait_sign_in_form(c: &Client, stack: &Stack) {
    wait_css(c, "input#signInFormPassword[type=password]").await;
    let url = current(c).await;
    assert!(
        url.starts_with(&format!("{}/login", stack.mock.base_url())),
        "the sign-in form is the IdP's hosted page: {url}"
    );
}

/// Types the credentials into the hosted form and submits it with its button.
async fn fill_in_and_submit(c: &Client, username: &str, password: &str) {
    wait_css(c, "#signInFormUsername")
        .await
        .send_keys(username)
        .await
        .unwrap();
    wait_css(c, "#signInFormPassword")
        .await
        .send_keys(password)
        .await
        .unwrap();
    wait_css(c, "#signin").await.click().await.unwrap();
}

/// Waits until the demo app shows alice on `path`, reached through the sidecar.
async fn assert_alice_on(c: &Client, stack: &Stack, path: &str) {
    let who = text_of(c, "#who").await;
    assert!(who.contains(ALICE_EMAIL), "demo app identity line: {who}");
    assert_eq!(current(c).await, stack.url(path), "landed on the deep link");
    assert_eq!(text_of(c, "#path").await, path, "the app saw the deep link");
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(&path, png).unwrap();
    path
}

/// The sidecar's own page: product name, a title, a sentence, and an action.
async fn assert_sidecar_page(c: &Client, title: &str, sentence: &str) {
    assert_eq!(text_of(c, "header").await, "cognito-sidecar");
    assert_eq!(text_of(c, "h1").await, title);
    assert_eq!(text_of(c, "p.message").await, sentence);
}

/// Clicks the page's "Try again" button and expects the IdP's form.
async fn try_again_leads_to_the_form(c: &Client, stack: &Stack) {
    let action = wait_css(c, "#action").await;
    assert_eq!(action.text().await.unwrap(), "Try again");
    action.click().await.unwrap();
    wait_sign_in_form(c, stack).await;
}

#[tokio::test]
async fn deep_link_sign_in_at_hosted_form_lands_on_deep_link_with_decoded_identity() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        screenshot(&c, "signin-form.png").await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, DEEP_LINK).await;
        let body = text_of(&c, "body").await;
        assert!(body.contains(ALICE_NAME), "decoded name shown: {body}");
        assert!(body.contains("Engineering, Platform"), "groups: {body}");
        screenshot(&c, "signed-in.png").await;
        assert_eq!(stack.mock.counters().logins, 1);
    })
    .await;
}

#[tokio::test]
async fn sign_out_button_ends_the_session_and_the_deep_link_asks_for_a_password_again() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, DEEP_LINK).await;

        wait_css(&c, "#sign-out").await.click().await.unwrap();
        // Through the IdP's logout to the app's signed-out page, not the form.
        // Its sign-in button exists on no earlier page: once it is there, the
        // navigation is over and `h1` is not the signed-in page's (stale) one.
        let sign_in = wait_css(&c, "#sign-in").await;
        wait_heading(&c, "You are signed out").await;
        assert_eq!(current(&c).await, stack.url(app::SIGNED_OUT_PATH));
        assert_eq!(stack.mock.counters().logouts, 1, "IdP logout visited");
        screenshot(&c, "signed-out.png").await;
        // Its button signs in again: the hosted form asks for the password.
        sign_in.click().await.unwrap();
        wait_sign_in_form(&c, &stack).await;

        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        assert!(
            c.find(Locator::Id("who")).await.is_err(),
            "the app is not shown"
        );
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, DEEP_LINK).await;
        assert_eq!(stack.mock.counters().logins, 2, "a second password entry");
    })
    .await;
}

#[tokio::test]
async fn two_tabs_signing_in_at_once_each_land_on_their_own_deep_link() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        let (first, second) = ("/reports/q3?tab=summary", "/settings/team?id=7");
        let tab1 = c.window().await.unwrap();
        c.goto(&stack.url(first)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;

        let tab2 = c.new_window(true).await.unwrap().handle;
        c.switch_to_window(tab2).await.unwrap();
        c.goto(&stack.url(second)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;

        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, second).await;

        c.switch_to_window(tab1).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, first).await;
        assert_eq!(stack.mock.counters().logins, 2);
    })
    .await;
}

#[tokio::test]
async fn wrong_password_shows_the_hosted_form_again_with_an_error_sentence() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "not-her-password").await;
        let error = text_of(&c, "#loginErrorMessage").await;
        assert_eq!(error, "Incorrect username or password.");
        screenshot(&c, "wrong-password.png").await;
        wait_sign_in_form(&c, &stack).await;
        assert_eq!(stack.mock.counters().logins, 0);
        // The form still carries the login: the right password finishes it.
        let user = wait_css(&c, "#signInFormUsername").await;
        assert_eq!(user.prop("value").await.unwrap().as_deref(), Some("alice"));
        user.clear().await.unwrap();
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, DEEP_LINK).await;
    })
    .await;
}

#[tokio::test]
async fn idp_refusal_page_names_the_product_explains_and_try_again_returns_to_the_form() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        // The IdP sends this browser back with its own state and an error.
        let form_url = c.current_url().await.unwrap();
        let state = form_url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("the authorize request carries a state");
        let refused = format!(
            "/oauth2/callback?error=access_denied&error_description=User+cancelled&state={}",
            url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
        );
        c.goto(&stack.url(&refused)).await.unwrap();
        assert_sidecar_page(
            &c,
            "Sign-in cancelled",
            "You cancelled sign-in or the identity provider refused it.",
        )
        .await;
        let detail = text_of(&c, "p.detail").await;
        assert_eq!(detail, "Error code: access_denied.");
        screenshot(&c, "idp-refused.png").await;
        try_again_leads_to_the_form(&c, &stack).await;
        // The retry remembers where the person was going.
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, DEEP_LINK).await;
    })
    .await;
}

#[tokio::test]
async fn forged_state_callback_page_explains_and_try_again_returns_to_the_form() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        c.goto(&stack.url("/oauth2/callback?code=x&state=y"))
            .await
            .unwrap();
        assert_sidecar_page(
            &c,
            "Sign-in failed",
            "This sign-in link is not for this browser, or it has expired.",
        )
        .await;
        screenshot(&c, "state-mismatch.png").await;
        assert_eq!(stack.mock.counters().token_requests, 0, "no code exchange");
        try_again_leads_to_the_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_alice_on(&c, &stack, "/").await;
    })
    .await;
}

#[tokio::test]
async fn upstream_down_page_names_the_product_and_says_the_app_is_unreachable() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{closed}")))
        .start()
        .await;
    let client = support::signed_in(&stack).await;
    let r = support::navigate(&client, &stack.url(DEEP_LINK)).await;
    assert_eq!(r.status(), 502, "the page a browser gets is a 502");
    with_browser(|c| async move {
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        assert_sidecar_page(
            &c,
            "Application unavailable",
            "The application behind this sign-in could not be reached.",
        )
        .await;
        assert_eq!(current(&c).await, stack.url(DEEP_LINK));
        let detail = text_of(&c, "p.detail").await;
        assert!(detail.contains("try again"), "{detail}");
        assert_eq!(text_of(&c, "#action").await, "Try again");
        screenshot(&c, "upstream-down.png").await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_client_secret_shows_the_misconfigured_page_with_a_request_id() {
    let stack = Stack::builder()
        .with(|s| s.provider.client_secret = Some(support::secret("not-the-client-secret")))
        .start()
        .await;
    with_browser(|c| async move {
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_sign_in_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        wait_heading(&c, "Sign-in is misconfigured").await;
        let body = text_of(&c, "body").await;
        assert!(body.contains("request id"), "{body}");
        assert!(!body.contains("temporary"), "{body}");
        screenshot(&c, "misconfigured.png").await;
    })
    .await;
}

#[tokio::test]
async fn a_sign_in_started_on_another_host_gets_the_cookie_diagnosis_page() {
    let stack = demo_stack().await;
    let port = url::Url::parse(&stack.base).unwrap().port().unwrap();
    with_browser(|c| async move {
        // The redirect URL is on 127.0.0.1: the login cookie set on localhost never reaches it.
        c.goto(&format!("http://localhost:{port}{DEEP_LINK}"))
            .await
            .unwrap();
        wait_sign_in_form(&c, &stack).await;
        fill_in_and_submit(&c, "alice", "alice-password").await;
        wait_heading(&c, "Sign-in could not finish").await;
        let body = text_of(&c, "body").await;
        assert!(body.contains("Sign-in started on localhost"), "{body}");
        // localhost and 127.0.0.1 share no cookie: only one host in redirect-url fixes it.
        assert!(body.contains("open the site at 127.0.0.1"), "{body}");
        assert!(!body.contains("set cookie-domain"), "{body}");
        screenshot(&c, "cookie-other-host.png").await;
    })
    .await;
}

#[tokio::test]
async fn a_browser_losing_its_session_after_each_sign_in_gets_the_loop_page() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        for round in 0..3 {
            c.goto(&stack.url(DEEP_LINK)).await.unwrap();
            if round == 0 {
                wait_sign_in_form(&c, &stack).await;
                fill_in_and_submit(&c, "alice", "alice-password").await;
            }
            // Later rounds pass the hosted form on the IdP's own session.
            assert_alice_on(&c, &stack, DEEP_LINK).await;
            c.delete_cookie("_cognito_sidecar").await.unwrap();
        }
        c.goto(&stack.url(DEEP_LINK)).await.unwrap();
        wait_heading(&c, "Sign-in keeps starting over").await;
        let body = text_of(&c, "body").await;
        assert!(body.contains("3 times within a minute"), "{body}");
        screenshot(&c, "sign-in-loop.png").await;
    })
    .await;
}

#[tokio::test]
async fn the_mock_refusing_a_sign_out_url_shows_cognitos_error_page() {
    let stack = demo_stack().await;
    with_browser(|c| async move {
        let refused = format!(
            "{}/logout?client_id={}&logout_uri=http%3A%2F%2Flocalhost%3A1%2Fnot-registered",
            stack.mock.base_url(),
            cognito_sidecar::mock::DEMO_CLIENT_ID
        );
        c.goto(&refused).await.unwrap();
        assert!(current(&c).await.contains("/error?error=redirect_mismatch"));
        let detail = text_of(&c, "#errorDetail").await;
        assert_eq!(detail, "error: redirect_mismatch");
        screenshot(&c, "mock-sign-out-refused.png").await;
    })
    .await;
}
