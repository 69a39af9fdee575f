//! The userinfo endpoint: for providers that keep profile claims out of the ID
//! token, and for the claims `x-amzn-oidc-data` carries (`alb-headers`).
//! Cognito answers `email_verified` as a string there; [`Flag`] reads both.
//!
//! [`Flag`]: super::verify::Flag

use serde::de::DeserializeOwned;

use super::{http, ProviderError};
use crate::secret::Secret;

/// The answer for this access token, read as `T` (any JSON object shape).
pub async fn fetch<T: DeserializeOwned>(
    client: &reqwest::Client,
    endpoint: &url::Url,
    access_token: &Secret<String>,
    max: usize,
) -> Result<T, ProviderError> {
    let resp = client
        .get(endpoint.as_str())
        .bearer_auth(access_token.expose())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(http::classify)?;
    let status = resp.status();
    let body = http::read_bounded(resp, max).await?;
    if !status.is_success() {
        return Err(ProviderError::BadAnswer(format!("userinfo: HTTP {status}")));
    }
    http::parse_json("userinfo", &body)
}
