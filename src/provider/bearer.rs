//! API clients: `Authorization: Bearer` with a Cognito access token
//! (`token_use=access`, `client_id` allowed, scopes as configured) or an ID
//! token (`aud` allowed). Checked offline against the JWKS, like a login's
//! ID token; never a call to the IdP on the hot path (except the rate-limited
//! JWKS refetch on an unknown `kid`).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::verify::{map_error, Claims, VerifyError, LEEWAY_SECS};
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
    aud: Option<serde_json::Value>,
    #[serde(default)]
    username: Option<String>,
}

/// Verifies signature, issuer and expiry, then who the token was issued to.
/// Returns the claims (access tokens' `username` folded into `preferred_username`).
pub fn verify(
    token: &str,
    key: &DecodingKey,
    issuer: &str,
    kind: ProviderKind,
    rules: &BearerConfig,
) -> Result<Claims, VerifyError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false; // checked below, per token kind
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)
        .map_err(|e| map_error(e.kind()))?;
    let extra: AccessClaims =
        serde_json::from_value(data.claims.clone()).map_err(|_| VerifyError::Malformed)?;
    let mut claims: Claims =
        serde_json::from_value(data.claims).map_err(|_| VerifyError::Malformed)?;
    let allowed = |id: &str| rules.client_ids.iter().any(|c| c == id);
    let audience_ok = match &extra.aud {
        Some(serde_json::Value::String(a)) => allowed(a),
        Some(serde_json::Value::Array(all)) => all.iter().filter_map(|v| v.as_str()).any(allowed),
        _ => false,
    };
    match extra.token_use.as_deref() {
        Some("access") => {
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
        Some("id") if audience_ok => {}
        Some("id") => return Err(VerifyError::Audience),
        None if kind == ProviderKind::Oidc && audience_ok => {}
        _ => return Err(VerifyError::TokenUse),
    }
    Ok(claims)
}
