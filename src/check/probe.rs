//! One bounded HTTP exchange, kept as what the checks judge: status, content
//! type, `Location`, `Date` and the start of the body. Redirects are never
//! followed: where an IdP redirects to is the answer.

use std::time::SystemTime;

use http::StatusCode;

use super::Finding;
use crate::config::Config;

/// Enough of a body to read an OAuth2 error or an error page's words.
const MAX_BODY: usize = 64 * 1024;

/// What a server answered.
pub(super) struct Answer {
    pub status: StatusCode,
    /// Without parameters; empty when absent.
    pub content_type: String,
    pub location: Option<String>,
    /// The server's clock, from its `Date` header.
    pub date: Option<SystemTime>,
    /// When the answer's headers arrived, by this machine's clock.
    pub received: SystemTime,
    /// At most [`MAX_BODY`] bytes.
    pub body: Vec<u8>,
}

impl Answer {
    /// `HTTP 404 text/plain`, for messages.
    pub fn summary(&self) -> String {
        match self.content_type.as_str() {
            "" => format!("HTTP {}", self.status.as_u16()),
            ct => format!("HTTP {} {ct}", self.status.as_u16()),
        }
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The client for IdP probes: the sidecar's IdP timeouts, no redirects.
pub(super) fn idp_client(config: &Config) -> Result<reqwest::Client, String> {
    let t = &config.timeouts;
    builder()
        .connect_timeout(t.idp_connect)
        .timeout(t.idp_total)
        .build()
        .map_err(|e| chain(&e))
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cognito-sidecar-check/", env!("CARGO_PKG_VERSION")))
}

pub(super) async fn get(http: &reqwest::Client, url: &str) -> Result<Answer, String> {
    send(http.get(url)).await
}

/// Sends `request`; `Err` says why nothing usable came back (never the URL,
/// which callers name themselves).
pub(super) async fn send(request: reqwest::RequestBuilder) -> Result<Answer, String> {
    let mut resp = request.send().await.map_err(|e| chain(&e))?;
    let received = SystemTime::now();
    let header = |name: http::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(http::header::CONTENT_TYPE)
        .map(|ct| ct.split(';').next().unwrap_or_default().trim().to_string())
        .unwrap_or_default();
    let location = header(http::header::LOCATION);
    let date = header(http::header::DATE).and_then(|d| httpdate::parse_http_date(&d).ok());
    let status = resp.status();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY {
            break;
        }
    }
    Ok(Answer {
        status,
        content_type,
        location,
        date,
        received,
        body,
    })
}

/// A transport error with its causes ("connection refused", "timed out"),
/// without the URL (it may carry a code).
fn chain(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time (timed out)".into();
    }
    let mut text = error.without_url_ref();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        source = cause.source();
    }
    text
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(url) => text.replace(&format!(" ({url})"), ""),
            None => text,
        }
        .replace("request for url", "request")
    }
}

/// Whether the upstream answers at all: any HTTP status will do.
pub(super) async fn upstream(config: &Config) -> Finding {
    let url = config.upstream.as_str();
    let http = match upstream_client(config) {
        Ok(http) => http,
        Err(error) => {
            return Finding::problem(
                "upstream",
                "upstream-ca-file",
                format!("cannot use upstream-ca-file for {url}: {error}"),
            )
            .at(url)
        }
    };
    match get(&http, url).await {
        Ok(answer) => {
            Finding::ok("upstream", format!("{url} answered ({})", answer.summary())).at(url)
        }
        Err(error) => Finding::problem(
            "upstream",
            "upstream",
            format!("{url} did not answer: {error}; start the app there or change upstream"),
        )
        .at(url),
    }
}

fn upstream_client(config: &Config) -> Result<reqwest::Client, String> {
    let t = &config.timeouts;
    let mut b = builder()
        .connect_timeout(t.upstream_connect)
        .timeout(t.upstream_connect + t.upstream_headers);
    if let Some(path) = &config.upstream_ca {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| chain(&e))? {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| chain(&e))
}
