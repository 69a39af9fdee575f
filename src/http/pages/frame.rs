//! The frame every page shares: one self-contained HTML document (inline CSS,
//! no scripts, nothing external), its escaping, and the one action button.

use html_escape::{encode_double_quoted_attribute, encode_text};

/// Product name shown in every page header.
pub(super) const PRODUCT: &str = "cognito-sidecar";

pub(super) const STYLE: &str = r#"
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
pub(super) const LOGO: &str = r##"<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true"><rect x="4" y="10" width="16" height="11" rx="2.5" fill="#2563eb"/><path d="M8 10V7a4 4 0 0 1 8 0v3" fill="none" stroke="#2563eb" stroke-width="2.2"/><circle cx="12" cy="15.5" r="1.6" fill="#fff"/></svg>"##;

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
pub(super) fn render_with(page: &Page, extra: &str) -> String {
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
pub(super) fn with_code(escaped: &str) -> String {
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

pub(super) fn render_action(action: &Action) -> String {
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
pub(super) fn safe_href(href: &str) -> &str {
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
pub(super) fn truncate(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
