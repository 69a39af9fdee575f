//! The demo upstream: a tiny web app that shows the identity headers it
//! received, as a legacy app trusting the sidecar would see them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;

use crate::body::{self, Body};

/// Where the demo's sign-out ends: a page of the app itself, forwarded
/// without sign-in (`skip-auth-routes`), so the browser does not land
/// straight back on the sign-in form.
pub const SIGNED_OUT_PATH: &str = "/signed-out";
/// The `skip-auth-routes` value that lets [`SIGNED_OUT_PATH`] through.
pub const SKIP_AUTH_ROUTES: &str = "GET /signed-out";

/// The headers worth showing, in order.
const SHOWN: [&str; 8] = [
    "x-user-email",
    "x-user-name",
    "x-user-username",
    "x-user-sub",
    "x-user-groups",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:760px;margin:40px auto;padding:0 16px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;border-bottom:1px solid #ddd;padding:6px}\
code{background:#f3f4f6;padding:1px 4px;border-radius:4px}button{padding:8px 16px}\
.note{background:#fff8e1;border:1px solid #f0c36d;border-radius:4px;padding:8px 12px}";

/// What the identity provider knows about each user's email, by `sub`: the
/// demo can say why the sidecar sent no email, which the headers cannot.
#[derive(Clone, Debug, Default)]
pub struct Emails(HashMap<String, (Option<String>, bool)>);

impl Emails {
    /// From the mock pool's users.
    pub fn of(users: &[crate::mock::MockUser]) -> Self {
        let map = users
            .iter()
            .map(|u| (u.sub.clone(), (u.email.clone(), u.email_verified)))
            .collect();
        Self(map)
    }

    /// Why a signed-in user has no `X-User-Email`.
    fn why_none(&self, sub: Option<&str>) -> String {
        let rule = "the sidecar sends X-User-Email only for an email the identity provider \
                    verified (allow-unverified-email changes that)";
        match sub.and_then(|s| self.0.get(s)) {
            Some((Some(email), false)) => {
                format!("No email: {email} is not verified at the identity provider, and {rule}.")
            }
            Some((None, _)) => "No email: this user has none at the identity provider.".into(),
            _ => format!("No email: the identity provider sent no verified email, and {rule}."),
        }
    }
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

fn header_value(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The header table: raw and decoded values.
fn rows(req: &Request<Incoming>) -> String {
    SHOWN
        .iter()
        .map(|name| {
            let raw = header_value(req, name).unwrap_or_else(|| "(not set)".into());
            format!(
                "<tr><th>{}</th><td><code>{}</code></td><td>{}</td></tr>",
                esc(name),
                esc(&raw),
                esc(&decode(&raw))
            )
        })
        .collect()
}

/// `X-User-Groups` is the encoded names joined by commas (a comma inside a
/// name is `%2C`): split first, then decode each.
fn groups_list(req: &Request<Incoming>) -> String {
    let groups: Vec<String> = header_value(req, "x-user-groups")
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(decode).collect())
        .unwrap_or_default();
    if groups.is_empty() {
        return "<p id=\"groups\">Groups: none.</p>".into();
    }
    let items: String = groups
        .iter()
        .map(|g| format!("<li>{}</li>", esc(g)))
        .collect();
    format!("<p>Groups:</p><ul id=\"groups\">{items}</ul>")
}

fn page(req: &Request<Incoming>, emails: &Emails) -> String {
    let email = header_value(req, "x-user-email").map(|e| decode(&e));
    let name = header_value(req, "x-user-name").map(|n| decode(&n));
    let who = email.clone().or(name).unwrap_or_default();
    let email_note = match email {
        Some(_) => String::new(),
        None => {
            let sub = header_value(req, "x-user-sub").map(|s| decode(&s));
            let why = emails.why_none(sub.as_deref());
            format!("<p class=\"note\" id=\"email-note\">{}</p>", esc(&why))
        }
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Demo app</title><style>{STYLE}</style></head><body>
<h1>Demo app</h1><p id="who">Signed in as <strong>{who}</strong></p>{email_note}{groups}
<p>This app knows nothing about sign-in: the sidecar in front of it signed you in and set these headers.
You asked for <code id="path">{path}</code>.</p>
<table><tr><th>header</th><th>raw value</th><th>decoded</th></tr>{rows}</table>
<form method="post" action="/oauth2/sign_out?rd={SIGNED_OUT_PATH}"><p><button id="sign-out" type="submit">Sign out</button></p></form>
</body></html>"#,
        who = esc(&who),
        groups = groups_list(req),
        path = esc(path),
        rows = rows(req),
    )
}

/// Where sign-out lands: the app's own page, reached without a session.
fn signed_out_page() -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Signed out</title><style>{STYLE}</style></head><body>
<h1 id="signed-out">You are signed out</h1>
<p>The sidecar ended your session and the identity provider signed you out.</p>
<form method="get" action="/oauth2/start"><input type="hidden" name="rd" value="/">
<p><button id="sign-in" type="submit">Sign in</button></p></form>
</body></html>"#
    )
}

/// Serves the demo app on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, emails: Emails) {
    let emails = Arc::new(emails);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let emails = Arc::clone(&emails);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let html = match req.uri().path() {
                    SIGNED_OUT_PATH => signed_out_page(),
                    _ => page(&req, &emails),
                };
                async move {
                    let mut res = Response::new(body::full(html));
                    res.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    Ok::<Response<Body>, Infallible>(res)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds the demo app on loopback and serves it in the background.
pub async fn spawn(emails: Emails) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, emails));
    Ok(addr)
}
