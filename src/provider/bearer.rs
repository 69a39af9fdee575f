//! API clients: `Authorization: Bearer` with a Cognito access token
//! (`token_use=access`, `client_id` allowed, scopes as configured) or an ID
//! token (`aud` allowed). Checked offline against the JWKS, like a login's
//! ID token; never a call to the IdP on the hot path (except the rate-limited
//! JWKS refetch on an unknown `kid`).

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::verify::{
    check_claims, check_common, map_error, validation, Claims, Expected, VerifyError,
};
use crate::config::{BearerConfig, ProviderKind};

#[derive(Deserialize)]
struct AccessClaims {
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// Verifies signature, issuer, expiry and issue times like every token, then
/// by kind: an ID token gets exactly the checks of a login's (audience, `azp`,
/// `token_use`; see [`check_claims`]) with `api-client-ids` as the accepted
/// audiences, an access token its `client_id` and scopes. Times are checked
/// against `now` (unix seconds). Returns the claims (access tokens' `username`
/// folded into `preferred_username`).
pub fn verify(
    token: &str,
    key: &DecodingKey,
    issuer: &str,
    kind: ProviderKind,
    rules: &BearerConfig,
    now: u64,
) -> Result<Claims, VerifyError> {
    let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation(issuer))
        .map_err(|e| map_error(e.kind()))?;
    let extra: AccessClaims =
        serde_json::from_value(data.claims.clone()).map_err(|_| VerifyError::Malformed)?;
    let mut claims: Claims =
        serde_json::from_value(data.claims).map_err(|_| VerifyError::Malformed)?;
    let as_id_token = Expected {
        issuer,
        audiences: &rules.client_ids,
        kind,
        nonce: None,
    };
    match extra.token_use.as_deref() {
        Some("access") => {
            check_common(&claims, now)?;
            let allowed = |id: &str| rules.client_ids.iter().any(|c| c == id);
            if !extra.client_id.as_deref().is_some_and(allowed) {
                return Err(VerifyError::Audience);
            }
            let granted: Vec<&str> = extra.scope.as_deref().unwrap_or("").split(' ').collect();
            if !rules.scopes.iter().all(|s| granted.contains(&s.as_str())) {
                return Err(VerifyError::Scope);
            }
            if claims.preferred_username.is_none() {
                claims.preferred_username = extra.username;
            }
        }
        Some("id") => check_claims(&claims, &as_id_token, now)?,
        None if kind == ProviderKind::Oidc => check_claims(&claims, &as_id_token, now)?,
        _ => return Err(VerifyError::TokenUse),
    }
    Ok(claims)
}
