//! The HTML pages people see from the sidecar itself (sign-in needed, errors, signed out).
//!
//! Pages are self-contained: inline CSS, no scripts, no external resources, so they render even
//! when the upstream, the IdP or the network is down. Every dynamic value is HTML-escaped, and
//! action links are limited to local paths and http(s) URLs.

mod frame;
#[cfg(test)]
mod tests;

use html_escape::{encode_double_quoted_attribute, encode_text};

pub use frame::{render, Action, ActionMethod, Page};
use frame::{render_with, safe_href, truncate};

/// Longest code (reason, half a request id) echoed back.
const MAX_CODE_CHARS: usize = 64;

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
