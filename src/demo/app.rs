//! The demo upstream: a tiny web app that shows the identity headers it
//! received, as a legacy app trusting the sidecar would see them.

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{header, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;

use crate::body::{self, Body};

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

fn page(req: &Request<Incoming>) -> String {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let value = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let rows: String = SHOWN
        .iter()
        .map(|name| {
            let raw = value(name).unwrap_or_else(|| "(not set)".into());
            let decoded = percent_decode_str(&raw).decode_utf8_lossy().into_owned();
            format!(
                "<tr><th>{}</th><td><code>{}</code></td><td>{}</td></tr>",
                esc(name),
                esc(&raw),
                esc(&decoded)
            )
        })
        .collect();
    let who = value("x-user-email")
        .or_else(|| value("x-user-name"))
        .unwrap_or_default();
    let who = percent_decode_str(&who).decode_utf8_lossy().into_owned();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Demo app</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:760px;margin:40px auto;padding:0 16px}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;border-bottom:1px solid #ddd;padding:6px}}
code{{background:#f3f4f6;padding:1px 4px;border-radius:4px}}button{{padding:8px 16px}}</style></head><body>
<h1>Demo app</h1><p id="who">Signed in as <strong>{who}</strong></p>
<p>This app knows nothing about sign-in: the sidecar in front of it signed you in and set these headers.
You asked for <code id="path">{path}</code>.</p>
<table><tr><th>header</th><th>raw value</th><th>decoded</th></tr>{rows}</table>
<form method="post" action="/oauth2/sign_out"><p><button id="sign-out" type="submit">Sign out</button></p></form>
</body></html>"#,
        who = esc(&who),
        path = esc(path),
    )
}

/// Serves the demo app on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let service = service_fn(|req: Request<Incoming>| async move {
                let mut res = Response::new(body::full(page(&req)));
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/html; charset=utf-8"),
                );
                Ok::<Response<Body>, Infallible>(res)
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds the demo app on loopback and serves it in the background.
pub async fn spawn() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener));
    Ok(addr)
}
