//! Talking to the IdP: one pooled client with bounded time and bounded answers.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{ConfigProblem, ProviderError};

/// Builds the client used for discovery, JWKS and the token endpoint.
pub fn client(connect: Duration, total: Duration) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cognito-sidecar/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Unreachable(e.to_string()))
}

/// Reads at most `max` bytes of a response body; more is an error, not a truncation.
pub async fn read_bounded(resp: reqwest::Response, max: usize) -> Result<Vec<u8>, ProviderError> {
    if resp.content_length().is_some_and(|len| len > max as u64) {
        return Err(ProviderError::TooLarge);
    }
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > max {
            return Err(ProviderError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a JSON answer, saying what was wrong without echoing the body (it may hold tokens).
pub fn parse_json<T: DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::BadAnswer(format!(
            "{what}: not the expected JSON ({})",
            e.classify_name()
        ))
    })
}

/// What a fetched document is, for messages, metric labels and the setting
/// that decides its URL.
pub struct Document {
    pub what: &'static str,
    /// Reason when the URL answers 3xx/4xx (wrong URL).
    pub not_found: &'static str,
    /// Reason when it answers 200 with something else than the document.
    pub not_json: &'static str,
    pub setting: &'static str,
}

/// A fetch of a JSON document (discovery, JWKS): 200 and JSON, or an error
/// naming the URL. A 3xx/4xx or a body that is not the document is a
/// configuration problem (the URL is wrong); timeouts, refusals and 5xx are transient.
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &url::Url,
    doc: &Document,
    max: usize,
) -> Result<T, ProviderError> {
    let at = |e: ProviderError| match e {
        ProviderError::Timeout => {
            ProviderError::Unreachable(format!("{} at {url}: no answer in time", doc.what))
        }
        ProviderError::Unreachable(m) => {
            ProviderError::Unreachable(format!("{} at {url}: {m}", doc.what))
        }
        ProviderError::BadAnswer(m) => {
            ProviderError::BadAnswer(format!("{} at {url}: {m}", doc.what))
        }
        other => other,
    };
    let resp = http
        .get(url.as_str())
        .send()
        .await
        .map_err(|e| at(classify(e)))?;
    let status = resp.status();
    let body = read_bounded(resp, max).await.map_err(at)?;
    let wrong = |reason, problem: String| {
        ProviderError::Misconfigured(Box::new(ConfigProblem {
            reason,
            problem,
            url: url.to_string(),
            setting: doc.setting,
        }))
    };
    if status.is_client_error() || status.is_redirection() {
        let problem = format!("the {} URL answered HTTP {status}", doc.what);
        return Err(wrong(doc.not_found, problem));
    }
    if !status.is_success() {
        return Err(ProviderError::BadAnswer(format!(
            "{} at {url}: HTTP {status}",
            doc.what
        )));
    }
    serde_json::from_slice(&body).map_err(|e| {
        let problem = format!(
            "the {} URL did not answer with the expected JSON ({})",
            doc.what,
            e.classify_name()
        );
        wrong(doc.not_json, problem)
    })
}

/// Sorts a transport error into timeout or unreachable; the URL is dropped (it may carry a code).
pub fn classify(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout
    } else if error.is_decode() || error.is_body() {
        ProviderError::BadAnswer("the answer was cut short".into())
    } else {
        ProviderError::Unreachable(error.without_url().to_string())
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
