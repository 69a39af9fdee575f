//! The HTML pages people see from the sidecar itself (sign-in needed, errors, signed out).
//!
//! Pages are self-contained: inline CSS, no scripts, no external resources, so they render even
//! when the upstream, the IdP or the network is down. Every dynamic value is HTML-escaped, and
//! action links are limited to local paths and http(s) URLs.

use html_escape::{encode_double_quoted_attribute, encode_text};

/// Product name shown in every page header.
const PRODUCT: &str = "cognito-sidecar";
/// Longest code (reason, half a request id) echoed back.
const MAX_CODE_CHARS: usize = 64;

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f3f4f6;--card:#fff;--text:#1f2937;--muted:#6b7280;--line:#e5e7eb;
--accent:#2563eb;--accent-hover:#1d4ed8;--soft:#f9fafb}
@media (prefers-color-scheme:dark){:root{--bg:#111827;--card:#1f2937;--text:#f3f4f6;--muted:#9ca3af;
--line:#374151;--accent:#3b82f6;--accent-hover:#60a5fa;--soft:#111827}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px;
background:var(--bg);color:var(--text);
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.card{width:100%;max-width:440px;background:var(--card);border:1px solid var(--line);border-radius:14px;
box-shadow:0 1px 2px rgba(0,0,0,.04),0 12px 32px rgba(0,0,0,.08);overflow:hidden}
header{display:flex;align-items:center;gap:10px;padding:14px 28px;border-bottom:1px solid var(--line);
font-size:14px;font-weight:600;color:var(--muted);letter-spacing:.01em}
header svg{flex:none}
.content{padding:28px}
h1{margin:0 0 10px;font-size:22px;line-height:1.3;font-weight:650}
p{margin:0 0 18px}
.detail{font-size:13px;color:var(--muted);background:var(--soft);border:1px solid var(--line);
border-radius:8px;padding:10px 12px;overflow-wrap:anywhere}
form{margin:0}
.button{display:inline-block;padding:10px 20px;border:0;border-radius:8px;background:var(--accent);color:#fff;
font:inherit;font-weight:600;text-decoration:none;cursor:pointer}
.button:hover{background:var(--accent-hover)}
.button:focus-visible{outline:3px solid var(--accent);outline-offset:3px}
code{font:.95em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap;
background:var(--line);padding:1px 4px;border-radius:4px}
"#;

/// A small padlock drawn inline, so the header needs no image request.
const LOGO: &str = r##"<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true"><rect x="4" y="10" width="16" height="11" rx="2.5" fill="#2563eb"/><path d="M8 10V7a4 4 0 0 1 8 0v3" fill="none" stroke="#2563eb" stroke-width="2.2"/><circle cx="12" cy="15.5" r="1.6" fill="#fff"/></svg>"##;

/// How the page's button reaches its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionMethod {
    /// A plain link (`<a id="action">`), for navigation that changes nothing.
    Get,
    /// A form with a button (`<button id="action">`), for actions that change state (sign-out).
    Post,
}

/// The one thing the person can do next.
#[derive(Clone, Copy, Debug)]
pub struct Action<'a> {
    /// Button text, e.g. "Try again", "Sign in".
    pub label: &'a str,
    pub href: &'a str,
    pub method: ActionMethod,
}

/// A page: what happened, optional small print, and an optional next step.
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    pub title: &'a str,
    /// One sentence saying what happened.
    pub message: &'a str,
    /// Small secondary text (error codes, who is signed in).
    pub detail: Option<&'a str>,
    pub action: Option<Action<'a>>,
}

/// Renders a complete HTML document for `page`.
pub fn render(page: &Page) -> String {
    render_with(page, "")
}

/// A page whose actions are `extra` (already escaped HTML) after the message.
fn render_with(page: &Page, extra: &str) -> String {
    let title = encode_text(page.title);
    let detail = page
        .detail
        .map(|d| format!("<p class=\"detail\">{}</p>\n", with_code(&encode_text(d))))
        .unwrap_or_default();
    let mut action = page.action.as_ref().map(render_action).unwrap_or_default();
    action.push_str(extra);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title} · {PRODUCT}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main class=\"card\">\n\
         <header>{LOGO}<span>{PRODUCT}</span></header>\n<div class=\"content\">\n\
         <h1>{title}</h1>\n<p class=\"message\">{message}</p>\n{detail}{action}</div>\n</main>\n</body>\n</html>\n",
        message = with_code(&encode_text(page.message)),
    )
}

/// Setting names are quoted `like-this` in the texts (which also go to the
/// log): on the page they become `<code>`, unbroken. `escaped` is already
/// HTML-escaped, so only the tags added here are markup.
fn with_code(escaped: &str) -> String {
    let parts: Vec<&str> = escaped.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // An unpaired backtick: leave the text as it is.
        return escaped.to_string();
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match i % 2 {
            1 => format!("<code>{part}</code>"),
            _ => (*part).to_string(),
        })
        .collect()
}

fn render_action(action: &Action) -> String {
    let href = encode_double_quoted_attribute(safe_href(action.href));
    let label = encode_text(action.label);
    match action.method {
        ActionMethod::Get => format!("<a id=\"action\" class=\"button\" href=\"{href}\">{label}</a>\n"),
        ActionMethod::Post => format!(
            "<form method=\"post\" action=\"{href}\"><button id=\"action\" class=\"button\" type=\"submit\">{label}</button></form>\n"
        ),
    }
}

/// Keeps `javascript:` and other scheme tricks out of links; the empty href means "this page".
fn safe_href(href: &str) -> &str {
    let lower = href.to_ascii_lowercase();
    let local = href.is_empty() || (href.starts_with('/') && !href.starts_with("//"));
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = !href.chars().any(|c| c.is_control() || c == '\\');
    if (local || web) && clean {
        href
    } else {
        "/"
    }
}

/// Cuts text we echo (request ids, reason codes) to `max` characters, marking the cut.
fn truncate(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

fn get<'a>(label: &'a str, href: &'a str) -> Option<Action<'a>> {
    Some(Action {
        label,
        href,
        method: ActionMethod::Get,
    })
}

/// The person must sign in before going on.
pub fn sign_in_required(start_href: &str) -> String {
    render(&Page {
        title: "Sign in required",
        message: "You need to sign in to see this page.",
        detail: None,
        action: get("Sign in", start_href),
    })
}

/// Sign-in failed for a reason the flow describes in `message`.
pub fn login_failed(message: &str, retry_href: &str) -> String {
    render(&Page {
        title: "Sign-in failed",
        message,
        detail: None,
        action: get("Try again", retry_href),
    })
}

/// A sign-in that cannot finish in this browser: why, and what fixes it.
pub fn diagnosis(title: &str, message: &str, fix: &str, retry_href: &str) -> String {
    render(&Page {
        title,
        message,
        detail: Some(fix),
        action: get("Try again", retry_href),
    })
}

/// The IdP sent the browser back with `error=...` (RFC 6749 §4.1.2.1).
/// Anyone can send a browser to the callback with any query, so the page
/// shows only fixed text: the sentence and name of a known code, a generic
/// sentence for any other. `error_description` is never shown.
pub fn idp_error(error_code: &str, retry_href: &str) -> String {
    let (title, message) = idp_error_text(error_code);
    let detail = KNOWN_IDP_ERRORS
        .contains(&error_code)
        .then(|| format!("Error code: {error_code}."));
    render(&Page {
        title,
        message,
        detail: detail.as_deref(),
        action: get("Try again", retry_href),
    })
}

/// The codes [`idp_error_text`] has a sentence for.
const KNOWN_IDP_ERRORS: [&str; 8] = [
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "login_required",
];

/// A human title and sentence for an OAuth2 / Cognito authorization error code.
fn idp_error_text(code: &str) -> (&'static str, &'static str) {
    match code {
        "access_denied" => ("Sign-in cancelled", "You cancelled sign-in or the identity provider refused it."),
        "invalid_request" => ("Sign-in failed", "The identity provider rejected the sign-in request as malformed."),
        "unauthorized_client" => {
            ("Sign-in failed", "This application is not allowed to sign you in this way; please tell its administrator.")
        }
        "unsupported_response_type" => {
            ("Sign-in failed", "The identity provider does not support the kind of sign-in this application asked for.")
        }
        "invalid_scope" => ("Sign-in failed", "The application asked the identity provider for permissions it does not allow."),
        "server_error" => ("Sign-in failed", "The identity provider ran into an internal error while signing you in."),
        "temporarily_unavailable" => ("Sign-in unavailable", "The identity provider is temporarily unavailable."),
        "login_required" => ("Sign in required", "The identity provider needs you to sign in again."),
        _ => ("Sign-in failed", "The identity provider could not sign you in."),
    }
}

/// Signed in, but not allowed here; offer a sign-out so another account can be used.
pub fn forbidden(signed_in_as: &str, sign_out_href: &str) -> String {
    let detail = format!("Signed in as {signed_in_as}.");
    render(&Page {
        title: "Access denied",
        message: "Your account does not have access to this page.",
        detail: Some(&detail),
        action: Some(Action {
            label: "Sign out",
            href: sign_out_href,
            method: ActionMethod::Post,
        }),
    })
}

/// Several providers serve this page: one button each (`id="provider-NAME"`).
pub fn choose_provider(choices: &[(&str, &str, &str)]) -> String {
    let buttons: String = choices
        .iter()
        .map(|(name, label, href)| {
            format!(
                "<p><a id=\"provider-{}\" class=\"button\" href=\"{}\">{}</a></p>\n",
                encode_double_quoted_attribute(name),
                encode_double_quoted_attribute(safe_href(href)),
                encode_text(label)
            )
        })
        .collect();
    let page = Page {
        title: "Sign in",
        message: "Choose how you want to sign in.",
        detail: None,
        action: None,
    };
    render_with(&page, &buttons)
}

/// Shown after the session has been ended.
pub fn signed_out(sign_in_href: &str) -> String {
    render(&Page {
        title: "Signed out",
        message: "You have been signed out.",
        detail: None,
        action: get("Sign in again", sign_in_href),
    })
}

/// The request itself was wrong (bad callback parameters, expired login state).
pub fn bad_request(message: &str) -> String {
    render(&Page {
        title: "Bad request",
        message,
        detail: None,
        action: get("Go to the home page", "/"),
    })
}

/// The upstream application could not be reached (502).
pub fn upstream_unavailable() -> String {
    render(&Page {
        title: "Application unavailable",
        message: "The application behind this sign-in could not be reached.",
        detail: Some("This is usually temporary. Please try again in a moment."),
        action: get("Try again", ""),
    })
}

/// The upstream application did not answer in time (504).
pub fn gateway_timeout() -> String {
    render(&Page {
        title: "Application timed out",
        message: "The application took too long to respond.",
        detail: Some("This is usually temporary. Please try again in a moment."),
        action: get("Try again", ""),
    })
}

/// The identity provider could not be reached (discovery, token or key fetch failed).
pub fn idp_unavailable(retry_href: &str) -> String {
    render(&Page {
        title: "Sign-in unavailable",
        message: "The sign-in service is not responding right now.",
        detail: Some("This is usually temporary. Please try again in a moment."),
        action: get("Try again", retry_href),
    })
}

/// The IdP refused this site's settings (`reason`): no one can sign in until
/// the operator fixes them, so the page says so and gives the request id to
/// quote instead of suggesting a retry will help.
pub fn misconfigured(reason: &str, request_id: &str, retry_href: &str) -> String {
    let detail = format!(
        "Please tell the site's administrator, quoting request id {}. (Reason: {}.)",
        truncate(request_id, MAX_CODE_CHARS * 2),
        truncate(reason, MAX_CODE_CHARS)
    );
    render(&Page {
        title: "Sign-in is misconfigured",
        message: "This site's sign-in is not set up correctly, so it cannot sign anyone in until \
                  its administrator fixes the configuration.",
        detail: Some(&detail),
        action: get("Try again", retry_href),
    })
}

/// Sessions cannot be read or stored (the shared session store is down, 503).
pub fn session_store_unavailable(retry_href: &str) -> String {
    render(&Page {
        title: "Temporarily unavailable",
        message: "Your session cannot be checked right now.",
        detail: Some("This is usually temporary. Please try again in a moment."),
        action: get("Try again", retry_href),
    })
}

/// The session store refuses this sidecar's settings (503): only the operator
/// can fix it, so the page says so instead of "try again in a moment".
pub fn session_store_misconfigured(request_id: &str, retry_href: &str) -> String {
    let detail = format!(
        "Please tell the site's administrator, quoting request id {}. \
         (Reason: the session store's settings are wrong; the sidecar's log names the setting.)",
        truncate(request_id, MAX_CODE_CHARS * 2)
    );
    render(&Page {
        title: "Sign-in is misconfigured",
        message: "This site cannot check sessions until its administrator fixes the session \
                  store's configuration.",
        detail: Some(&detail),
        action: get("Try again", retry_href),
    })
}

/// A fault inside the sidecar (500): nothing the person did; the request id
/// lets the operator find the log line.
pub fn internal_error(request_id: &str) -> String {
    let detail = format!(
        "If this keeps happening, tell the site's administrator, quoting request id {}.",
        truncate(request_id, MAX_CODE_CHARS * 2)
    );
    render(&Page {
        title: "Something went wrong",
        message: "The sign-in service met an internal error.",
        detail: Some(&detail),
        action: get("Try again", ""),
    })
}

/// No such page on the sidecar's own endpoints.
pub fn not_found() -> String {
    render(&Page {
        title: "Page not found",
        message: "There is nothing at this address.",
        detail: None,
        action: get("Go to the home page", "/"),
    })
}

#[cfg(test)]
mod tests {
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
}
