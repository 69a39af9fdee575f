//! The token endpoint: form-encoded, client authentication per RFC 6749 2.3.1,
//! bounded answer.

use base64::Engine;
use serde::Deserialize;
use url::form_urlencoded;

use super::{http, ConfigProblem, ProviderError};
use crate::secret::Secret;
use crate::tokens::TokenSet;

#[derive(Deserialize)]
struct RawTokens {
    #[serde(default)]
    id_token: Option<String>,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

pub enum ClientAuthMethod<'a> {
    Public,
    Basic(&'a Secret<String>),
    Post(&'a Secret<String>),
}

pub struct TokenRequest<'a> {
    pub client_id: &'a str,
    pub auth: ClientAuthMethod<'a>,
    pub form: &'a [(&'a str, &'a str)],
}

/// `client_id` always goes in the body too, as Cognito's docs show for Basic.
fn body(req: &TokenRequest<'_>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(req.form.iter().copied());
    form.append_pair("client_id", req.client_id);
    if let ClientAuthMethod::Post(secret) = &req.auth {
        form.append_pair("client_secret", secret.expose());
    }
    form.finish()
}

fn basic(client_id: &str, secret: &Secret<String>) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

pub(crate) fn build<'a>(
    client: &reqwest::Client,
    endpoint: &url::Url,
    req: &TokenRequest<'a>,
) -> reqwest::RequestBuilder {
    let mut builder = client
        .post(endpoint.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body(req));
    if let ClientAuthMethod::Basic(secret) = &req.auth {
        builder = builder.header("authorization", basic(req.client_id, secret));
    }
    builder
}

/// RFC 7009: 200 whether or not the token was still valid.
pub async fn revoke(
    client: &reqwest::Client,
    endpoint: &url::Url,
    req: &TokenRequest<'_>,
) -> Result<(), ProviderError> {
    let resp = build(client, endpoint, req)
        .send()
        .await
        .map_err(http::classify)?;
    match resp.status() {
        s if s.is_success() => Ok(()),
        s => Err(ProviderError::BadAnswer(format!(
            "revocation endpoint: HTTP {s}"
        ))),
    }
}

pub async fn request(
    client: &reqwest::Client,
    endpoint: &url::Url,
    req: &TokenRequest<'_>,
    max: usize,
) -> Result<TokenSet, ProviderError> {
    let resp = build(client, endpoint, req)
        .send()
        .await
        .map_err(http::classify)?;
    let status = resp.status();
    let raw = http::read_bounded(resp, max).await?;
    if status.is_client_error() {
        let code = serde_json::from_slice::<OAuthError>(&raw)
            .map(|e| printable(&e.error))
            .unwrap_or_else(|_| format!("HTTP {status}"));
        let has_secret = !matches!(req.auth, ClientAuthMethod::Public);
        if let Some(problem) = ConfigProblem::from_token_error(&code, endpoint, has_secret) {
            return Err(ProviderError::Misconfigured(Box::new(problem)));
        }
        return Err(ProviderError::Refused(code));
    }
    if !status.is_success() {
        return Err(ProviderError::BadAnswer(format!(
            "token endpoint {endpoint}: HTTP {status}"
        )));
    }
    let tokens: RawTokens = http::parse_json("token response", &raw)?;
    let id_token = tokens.id_token.ok_or_else(|| {
        ProviderError::BadAnswer("token response: no id_token (is `openid` in the scope?)".into())
    })?;
    Ok(TokenSet {
        id_token: Secret::new(id_token),
        access_token: Secret::new(tokens.access_token),
        refresh_token: tokens.refresh_token.map(Secret::new),
        expires_in: tokens.expires_in,
    })
}

/// An OAuth error code is echoed into logs and pages: keep it to a short word.
pub fn printable(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.' || *c == '-')
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_client_id_and_only_post_carries_the_secret() {
        let secret = Secret::new("s3cr:t".to_string());
        let form = [("grant_type", "authorization_code"), ("code", "a b")];
        let basic_req = TokenRequest {
            client_id: "cid",
            auth: ClientAuthMethod::Basic(&secret),
            form: &form,
        };
        assert_eq!(
            body(&basic_req),
            "grant_type=authorization_code&code=a+b&client_id=cid"
        );
        let post_req = TokenRequest {
            client_id: "cid",
            auth: ClientAuthMethod::Post(&secret),
            form: &form,
        };
        assert!(body(&post_req).ends_with("&client_id=cid&client_secret=s3cr%3At"));
    }

    #[test]
    fn basic_header_form_encodes_both_parts() {
        let h = basic("cid", &Secret::new("a:b".into()));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&h[6..])
            .unwrap();
        assert_eq!(raw, b"cid:a%3Ab");
    }

    #[test]
    fn error_codes_are_made_printable() {
        assert_eq!(printable("invalid_grant"), "invalid_grant");
        assert_eq!(printable("<script>\nx"), "scriptx");
    }
}
