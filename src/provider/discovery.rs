//! OIDC discovery: the endpoints come from the IdP's document, never from `iss`.
//!
//! Cognito's token issuer host (`cognito-idp.REGION.amazonaws.com`) is not its
//! hosted-login host, so deriving `/oauth2/token` from the issuer would be wrong.

use serde::Deserialize;
use url::Url;

use super::{http, ConfigProblem, ProviderError};

/// The parts of the discovery document the sidecar uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl Metadata {
    /// `client_secret_post` only when discovery offers it and not Basic.
    pub fn prefers_post_auth(&self) -> bool {
        let offers = |m: &str| {
            self.token_endpoint_auth_methods_supported
                .iter()
                .any(|x| x == m)
        };
        offers("client_secret_post") && !offers("client_secret_basic")
    }
}

/// Fetches the document and checks its issuer is the configured one (see
/// [`issuer_matches`]); tokens are then held to the document's exact `issuer`.
/// `setting` is the one that decides `url`: `discovery-url` when it is set,
/// else `issuer-url` (the document's default place is under the issuer).
pub async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    issuer: &str,
    setting: &'static str,
    max: usize,
) -> Result<Metadata, ProviderError> {
    let doc = http::Document {
        what: "discovery document",
        not_found: "discovery_not_found",
        not_json: "discovery_not_json",
        setting,
    };
    let metadata: Metadata = http::get_json(client, url, &doc, max).await?;
    if !issuer_matches(&metadata.issuer, issuer) {
        return Err(ProviderError::Misconfigured(Box::new(ConfigProblem {
            reason: "issuer_mismatch",
            problem: issuer_mismatch(&metadata.issuer, issuer),
            url: url.to_string(),
            setting: "issuer-url",
        })));
    }
    Ok(metadata)
}

/// Says how the two issuers differ when the difference is a common slip.
fn issuer_mismatch(discovered: &str, configured: &str) -> String {
    let mut text = format!(
        "the discovery document's issuer {discovered:?} differs from the configured issuer {configured:?}"
    );
    if discovered.trim_end_matches('/') == configured.trim_end_matches('/') {
        text.push_str(" (a trailing slash: use the document's form exactly)");
    } else {
        text.push_str(&format!(
            " (if this is the right provider, set the issuer to {discovered:?})"
        ));
    }
    text
}

/// Equal byte for byte, except that an origin-only issuer may come with or
/// without a final `/`: URL parsing erases that difference from the configured
/// value (`https://idp` and `https://idp/` are one URL), and providers use both
/// forms (Auth0's issuer ends in `/`). An issuer with a path must match exactly.
pub fn issuer_matches(discovered: &str, configured: &str) -> bool {
    if discovered == configured {
        return true;
    }
    let origin_only = Url::parse(configured).is_ok_and(|u| u.path() == "/");
    origin_only && discovered.strip_suffix('/') == Some(configured)
}

/// The issuer as tokens carry it: the configured URL without a trailing slash
/// added by URL parsing (`https://idp/` vs `https://idp`).
pub fn issuer_string(issuer: &Url) -> String {
    let s = issuer.as_str();
    if issuer.path() == "/" && issuer.query().is_none() {
        s.trim_end_matches('/').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_string_drops_only_the_root_slash() {
        let u = Url::parse("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab").unwrap();
        assert_eq!(
            issuer_string(&u),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab"
        );
        let u = Url::parse("https://accounts.example.com").unwrap();
        assert_eq!(issuer_string(&u), "https://accounts.example.com");
        let u = Url::parse("https://idp.example.com/realms/x/").unwrap();
        assert_eq!(issuer_string(&u), "https://idp.example.com/realms/x/");
    }

    #[test]
    fn origin_only_issuer_matches_with_or_without_its_final_slash() {
        let origin = "https://idp.example";
        assert!(issuer_matches(origin, origin));
        assert!(issuer_matches("https://idp.example/", origin));
        for bad in [
            "https://idp.example//",
            "https://idp.example.evil/",
            "https://idp.example/x",
        ] {
            assert!(!issuer_matches(bad, origin), "{bad}");
        }
        let realm = "https://idp.example/realms/x";
        assert!(issuer_matches(realm, realm));
        assert!(!issuer_matches("https://idp.example/realms/x/", realm));
        assert!(!issuer_matches(realm, "https://idp.example/realms/x/"));
    }

    #[test]
    fn cognito_document_parses_without_optional_fields() {
        let doc = r#"{"issuer":"https://cognito-idp.us-east-1.amazonaws.com/p","authorization_endpoint":"https://d/oauth2/authorize",
            "token_endpoint":"https://d/oauth2/token","jwks_uri":"https://cognito-idp.us-east-1.amazonaws.com/p/.well-known/jwks.json",
            "userinfo_endpoint":"https://d/oauth2/userInfo","response_types_supported":["code","token"],
            "token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"]}"#;
        let m: Metadata = serde_json::from_str(doc).unwrap();
        assert!(m.end_session_endpoint.is_none());
        assert!(!m.prefers_post_auth());
    }
}
