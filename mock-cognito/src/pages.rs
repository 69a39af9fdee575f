//! The hosted pages: sign-in form and error page. Every dynamic value is
//! HTML-escaped; the styling is inline so screenshots look like a real page.

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

const STYLE: &str = "\
body{margin:0;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;background:#f2f3f3;color:#16191f}\
.banner{background:#232f3e;color:#fff;padding:14px 24px;font-size:15px;letter-spacing:.02em}\
.card{max-width:360px;margin:48px auto;background:#fff;border-radius:8px;padding:28px 32px;\
box-shadow:0 1px 4px rgba(0,0,0,.15)}\
h1{font-size:22px;margin:0 0 4px}p.sub{color:#5f6b7a;margin:0 0 20px;font-size:14px}\
label{display:block;font-size:14px;font-weight:600;margin:14px 0 6px}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:9px 10px;\
border:1px solid #8c8c94;border-radius:4px;font-size:15px}\
button{margin-top:22px;width:100%;padding:10px;border:0;border-radius:20px;background:#0972d3;\
color:#fff;font-size:15px;font-weight:700;cursor:pointer}button:hover{background:#033160}\
.error{background:#fff7f7;border:1px solid #d91515;color:#d91515;border-radius:4px;padding:10px;font-size:14px}\
.foot{text-align:center;color:#5f6b7a;font-size:12px;margin-top:18px}";

fn shell(title: &str, pool: &str, inner: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\
         <div class=\"banner\">{}</div><main class=\"card\">{inner}</main>\
         <div class=\"foot\">Mock Amazon Cognito hosted UI</div></body></html>\n",
        text(title),
        text(pool),
    )
}

/// The sign-in page; `hidden` carries the authorize parameters to the POST.
pub(crate) fn login(
    pool: &str,
    hidden: &[(String, String)],
    username: &str,
    error: Option<&str>,
    identity_provider: Option<&str>,
) -> String {
    // A federated sign-in: this page stands in for the external IdP's own.
    let (title, sub) = match identity_provider {
        Some(idp) => (
            format!("Sign in with {}", text(idp)),
            "Simulated external identity provider, federated through the user pool",
        ),
        None => (
            "Sign in".to_string(),
            "Sign in with your username and password",
        ),
    };
    let fields: String = hidden
        .iter()
        .filter(|(k, _)| k != "username" && k != "password")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                attr(k),
                attr(v)
            )
        })
        .collect();
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" id=\"loginErrorMessage\" role=\"alert\">{}</p>",
                text(e)
            )
        })
        .unwrap_or_default();
    let inner = format!(
        "<h1>{title}</h1><p class=\"sub\">{sub}</p>{error}\
         <form method=\"post\" action=\"/login\" name=\"cognitoSignInForm\">{fields}\
         <label for=\"signInFormUsername\">Username</label>\
         <input id=\"signInFormUsername\" name=\"username\" type=\"text\" autocomplete=\"username\" \
         autocapitalize=\"none\" required value=\"{}\">\
         <label for=\"signInFormPassword\">Password</label>\
         <input id=\"signInFormPassword\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\" id=\"signin\" name=\"signInSubmitButton\">Sign in</button></form>",
        attr(username),
    );
    shell("Sign in", pool, &inner)
}

/// Cognito's generic error page (served with status 400).
pub(crate) fn error(pool: &str, message: &str, detail: Option<&str>) -> String {
    let detail = detail
        .map(|d| format!("<p class=\"sub\" id=\"errorDetail\">{}</p>", text(d)))
        .unwrap_or_default();
    let inner = format!(
        "<h1>Error</h1><p class=\"error\" role=\"alert\">{}</p>{detail}",
        text(message)
    );
    shell("Error", pool, &inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_page_escapes_and_carries_the_query() {
        let hidden = vec![("state".to_string(), "\"><script>x</script>".to_string())];
        let page = login(
            "pool<1>",
            &hidden,
            "bob\"",
            Some("Incorrect username or password."),
            None,
        );
        assert!(!page.contains("<script>x"));
        assert!(page.contains("name=\"state\""));
        assert!(page.contains("pool&lt;1&gt;"));
        assert!(page.contains("id=\"signin\""));
        assert!(page.contains("value=\"bob&quot;\""));
        assert!(page.contains("Incorrect username or password."));
    }
}
