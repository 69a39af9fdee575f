//! ID-token verification, one error per check (OIDC Core 3.1.3.7, Cognito's
//! "Verifying a JSON Web Token" guide). One list of checks for every ID token,
//! from a login, a refresh or an API client's `Authorization: Bearer`
//! (`bearer` adds the access-token kind on top of the same JWT and time checks).

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::ProviderKind;
use crate::secret::ct_eq;

/// Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not three base64url JSON segments.
    #[error("the token is malformed")]
    Malformed,
    /// 3.1.3.7 step 7: only RS256 (never `none`, never HMAC).
    #[error("the token is not signed with RS256")]
    Algorithm,
    #[error("the token names no key id")]
    MissingKeyId,
    /// The `kid` is not in the JWKS, even after one refetch.
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    /// Step 6: the signature does not verify with the named key.
    #[error("the token signature is invalid")]
    Signature,
    /// Step 2: `iss` must equal the configured issuer exactly.
    #[error("the token issuer is not the configured one")]
    Issuer,
    /// Step 3: `aud` must contain the client id.
    #[error("the token audience is not this client")]
    Audience,
    /// Steps 4-5: with several audiences `azp` must be present, and when
    /// present it must be an accepted client id.
    #[error("the token's authorized party is not this client")]
    AuthorizedParty,
    /// Step 9: `exp` is past (with leeway).
    #[error("the token has expired")]
    Expired,
    /// Step 10: `iat` in the future (with leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// RFC 7519 4.1.5: `nbf` in the future (with leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Step 11: the `nonce` is not the one this login sent.
    #[error("the token nonce does not match this login")]
    Nonce,
    /// Cognito: an ID token carries `token_use = id`.
    #[error("the token is not an ID token")]
    TokenUse,
    /// A bearer access token without a required scope.
    #[error("the token lacks a required scope")]
    Scope,
    #[error("the token lacks the {0} claim")]
    MissingClaim(&'static str),
}

/// What a token must say to be accepted.
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// Client ids the token may be for: this client at sign-in and refresh,
    /// `api-client-ids` for bearer tokens.
    pub audiences: &'a [String],
    pub kind: ProviderKind,
    /// `None` only for refreshed tokens, which carry no nonce.
    pub nonce: Option<&'a str>,
}

/// A boolean that Cognito's userInfo sends as a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    pub fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(s) => s.eq_ignore_ascii_case("true"),
        }
    }
}

/// The claims the sidecar reads; everything else is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Required in ID tokens (checked by the JWT validation); absent in userinfo.
    #[serde(default)]
    pub exp: u64,
    #[serde(default)]
    pub iat: Option<u64>,
    #[serde(default)]
    pub nbf: Option<u64>,
    /// A string or an array of strings; checked by [`check_claims`].
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub token_use: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    /// The IdP's session id, which back-channel logout names.
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<Flag>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    pub cognito_username: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    pub cognito_groups: Option<serde_json::Value>,
    #[serde(default)]
    pub groups: Option<serde_json::Value>,
    /// Every other claim, for a configured `groups-claim`.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Neither an email nor any name: the profile may live at userinfo.
    pub fn lacks_profile(&self) -> bool {
        self.email.is_none()
            && self.name.is_none()
            && self.given_name.is_none()
            && self.preferred_username.is_none()
    }

    /// Takes the profile claims the ID token lacks from `other` (userinfo).
    pub fn fill_from(&mut self, other: Claims) {
        fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
            if slot.is_none() {
                *slot = value;
            }
        }
        if self.email.is_none() {
            self.email = other.email;
            self.email_verified = other.email_verified;
        }
        fill(&mut self.name, other.name);
        fill(&mut self.given_name, other.given_name);
        fill(&mut self.family_name, other.family_name);
        fill(&mut self.preferred_username, other.preferred_username);
        fill(&mut self.groups, other.groups);
        fill(&mut self.cognito_groups, other.cognito_groups);
    }
}

/// The base64url-decoded `index`th dot-separated part of a JWT.
fn segment(token: &str, index: usize) -> Option<Vec<u8>> {
    let part = token.split('.').nth(index)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
}

/// A JWT's `iss`, read without verifying anything: it only picks which
/// provider verifies the token.
pub fn unverified_issuer(token: &str) -> Option<String> {
    let claims: serde_json::Value = serde_json::from_slice(&segment(token, 1)?).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}

/// The `kid` of a token whose header is RS256; checked before any key lookup.
pub fn header_kid(token: &str) -> Result<String, VerifyError> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        kid: Option<String>,
    }
    let raw = segment(token, 0).ok_or(VerifyError::Malformed)?;
    // Valid JSON throughout (a lone surrogate in an ignored field too), then
    // the fields that matter, duplicates refused.
    serde_json::from_slice::<serde_json::Value>(&raw).map_err(|_| VerifyError::Malformed)?;
    let header: Header = serde_json::from_slice(&raw).map_err(|_| VerifyError::Malformed)?;
    if header.alg != "RS256" {
        return Err(VerifyError::Algorithm);
    }
    header.kid.ok_or(VerifyError::MissingKeyId)
}

/// The JWT checks every token gets: RS256 with the key its header named, the
/// exact issuer, an `exp` and a `sub`. The times are checked after, against
/// the sidecar's [`Clock`](crate::clock::Clock) ([`check_common`]), and so is
/// the audience, which depends on the token's kind ([`check_claims`], `bearer`).
pub(super) fn validation(issuer: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    // One clock decides every time claim: ours, not the library's system time.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation
}

/// Checks signature and claims of an ID token already matched to `key`, its
/// times against `now` (unix seconds).
pub fn verify(
    token: &str,
    key: &DecodingKey,
    expected: &Expected<'_>,
    now: u64,
) -> Result<Claims, VerifyError> {
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation(expected.issuer))
        .map_err(|e| map_error(e.kind()))?
        .claims;
    check_claims(&claims, expected, now)?;
    Ok(claims)
}

pub(super) fn map_error(kind: &ErrorKind) -> VerifyError {
    match kind {
        ErrorKind::InvalidSignature => VerifyError::Signature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => VerifyError::Algorithm,
        ErrorKind::ExpiredSignature => VerifyError::Expired,
        ErrorKind::InvalidIssuer => VerifyError::Issuer,
        ErrorKind::InvalidAudience => VerifyError::Audience,
        ErrorKind::MissingRequiredClaim(c) => VerifyError::MissingClaim(match c.as_str() {
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            _ => "exp",
        }),
        _ => VerifyError::Malformed,
    }
}

/// The ID-token claim checks after the signature and issuer.
pub(super) fn check_claims(
    claims: &Claims,
    expected: &Expected<'_>,
    now: u64,
) -> Result<(), VerifyError> {
    check_common(claims, now)?;
    check_audience(claims, expected.audiences)?;
    if let Some(nonce) = expected.nonce {
        let got = claims.nonce.as_deref().ok_or(VerifyError::Nonce)?;
        if !ct_eq(got.as_bytes(), nonce.as_bytes()) {
            return Err(VerifyError::Nonce);
        }
    }
    if expected.kind == ProviderKind::Cognito && claims.token_use.as_deref() != Some("id") {
        return Err(VerifyError::TokenUse);
    }
    Ok(())
}

/// For every token kind: a non-empty `sub` (an empty one names nobody, and
/// every such token would share it), `exp` not past, `iat` present and not in
/// the future, `nbf` (when present) not in the future, each with
/// [`LEEWAY_SECS`] (the bounds jsonwebtoken's own check used).
pub(super) fn check_common(claims: &Claims, now: u64) -> Result<(), VerifyError> {
    if claims.sub.trim().is_empty() {
        return Err(VerifyError::MissingClaim("sub"));
    }
    if claims.exp.saturating_add(LEEWAY_SECS) < now {
        return Err(VerifyError::Expired);
    }
    let iat = claims.iat.ok_or(VerifyError::MissingClaim("iat"))?;
    if iat > now + LEEWAY_SECS {
        return Err(VerifyError::IssuedInFuture);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(VerifyError::NotYetValid);
    }
    Ok(())
}

/// Steps 3-5: `aud` names an accepted client; with several audiences `azp`
/// must be present; `azp`, when present, is an accepted client.
fn check_audience(claims: &Claims, accepted: &[String]) -> Result<(), VerifyError> {
    let audiences: Vec<Option<&str>> = match &claims.aud {
        Some(serde_json::Value::String(one)) => vec![Some(one.as_str())],
        Some(serde_json::Value::Array(all)) => all.iter().map(|v| v.as_str()).collect(),
        _ => return Err(VerifyError::MissingClaim("aud")),
    };
    let is_accepted = |id: &str| accepted.iter().any(|a| a == id);
    if !audiences.iter().flatten().any(|a| is_accepted(a)) {
        return Err(VerifyError::Audience);
    }
    match claims.azp.as_deref() {
        Some(azp) if !is_accepted(azp) => Err(VerifyError::AuthorizedParty),
        None if audiences.len() > 1 => Err(VerifyError::AuthorizedParty),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        serde_json::from_str(json).unwrap()
    }

    fn expected(nonce: Option<&'static str>) -> Expected<'static> {
        static CLIENT: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["c".to_string()]);
        Expected {
            issuer: "https://i",
            audiences: &CLIENT,
            kind: ProviderKind::Cognito,
            nonce,
        }
    }

    #[test]
    fn header_must_be_rs256_with_kid() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let tok = |h: &str| format!("{}.e30.sig", b64(h));
        assert_eq!(
            header_kid(&tok(r#"{"alg":"RS256","kid":"k1="}"#)),
            Ok("k1=".into())
        );
        assert_eq!(
            header_kid(&tok(r#"{"alg":"none","kid":"k"}"#)),
            Err(VerifyError::Algorithm)
        );
        assert_eq!(
            header_kid(&tok(r#"{"alg":"HS256","kid":"k"}"#)),
            Err(VerifyError::Algorithm)
        );
        assert_eq!(
            header_kid(&tok(r#"{"alg":"RS256"}"#)),
            Err(VerifyError::MissingKeyId)
        );
        assert_eq!(header_kid("%%%.x.y"), Err(VerifyError::Malformed));
        assert_eq!(header_kid(""), Err(VerifyError::Malformed));
        let lone_surrogate = tok(r#"{"alg":"RS256","kid":"k","x":"\ud800"}"#);
        assert_eq!(header_kid(&lone_surrogate), Err(VerifyError::Malformed));
    }

    #[test]
    fn claim_checks_each_have_their_error() {
        let now = 1_000_000;
        let ok = claims(
            r#"{"sub":"s","aud":"c","exp":2000000,"iat":1000000,"nonce":"n","token_use":"id"}"#,
        );
        assert_eq!(check_claims(&ok, &expected(Some("n")), now), Ok(()));
        assert_eq!(
            check_claims(&ok, &expected(Some("m")), now),
            Err(VerifyError::Nonce)
        );
        let access = claims(
            r#"{"sub":"s","aud":"c","exp":2000000,"iat":1000000,"nonce":"n","token_use":"access"}"#,
        );
        assert_eq!(
            check_claims(&access, &expected(Some("n")), now),
            Err(VerifyError::TokenUse)
        );
        let future =
            claims(r#"{"sub":"s","aud":"c","exp":2000000,"iat":1000100,"token_use":"id"}"#);
        assert_eq!(
            check_claims(&future, &expected(None), now),
            Err(VerifyError::IssuedInFuture)
        );
        let azp = claims(
            r#"{"sub":"s","aud":"c","exp":2000000,"iat":1000000,"azp":"other","token_use":"id"}"#,
        );
        assert_eq!(
            check_claims(&azp, &expected(None), now),
            Err(VerifyError::AuthorizedParty)
        );
        let no_nonce =
            claims(r#"{"sub":"s","aud":"c","exp":2000000,"iat":1000000,"token_use":"id"}"#);
        assert_eq!(
            check_claims(&no_nonce, &expected(Some("n")), now),
            Err(VerifyError::Nonce)
        );
    }

    #[test]
    fn audiences_azp_expiry_and_not_before_are_checked() {
        let now = 1_000_000;
        let check = |json: &str| check_claims(&claims(json), &expected(None), now);
        let base = r#""sub":"s","exp":2000000,"iat":1000000,"token_use":"id""#;
        assert_eq!(check(&format!(r#"{{{base},"aud":["c"]}}"#)), Ok(()));
        assert_eq!(
            check(&format!(r#"{{{base},"aud":["c","other"]}}"#)),
            Err(VerifyError::AuthorizedParty),
            "several audiences need azp"
        );
        assert_eq!(
            check(&format!(r#"{{{base},"aud":["c","other"],"azp":"c"}}"#)),
            Ok(())
        );
        assert_eq!(
            check(&format!(r#"{{{base},"aud":["c","other"],"azp":"other"}}"#)),
            Err(VerifyError::AuthorizedParty)
        );
        assert_eq!(
            check(&format!(r#"{{{base},"aud":"other"}}"#)),
            Err(VerifyError::Audience)
        );
        assert_eq!(
            check(&format!(r#"{{{base}}}"#)),
            Err(VerifyError::MissingClaim("aud"))
        );
        assert_eq!(
            check(&format!(r#"{{{base},"aud":"c","nbf":1000100}}"#)),
            Err(VerifyError::NotYetValid)
        );
        assert_eq!(
            check(&format!(r#"{{{base},"aud":"c","nbf":1000050}}"#)),
            Ok(())
        );
        let expiring = r#""sub":"s","aud":"c","iat":900000,"token_use":"id""#;
        assert_eq!(
            check(&format!(r#"{{{expiring},"exp":{}}}"#, now - LEEWAY_SECS)),
            Ok(()),
            "past exp, within the leeway"
        );
        assert_eq!(
            check(&format!(
                r#"{{{expiring},"exp":{}}}"#,
                now - LEEWAY_SECS - 1
            )),
            Err(VerifyError::Expired)
        );
        let empty_sub = r#"{"sub":"","aud":"c","exp":2000000,"iat":1000000,"token_use":"id"}"#;
        assert_eq!(check(empty_sub), Err(VerifyError::MissingClaim("sub")));
        let blank_sub = r#"{"sub":" ","aud":"c","exp":2000000,"iat":1000000,"token_use":"id"}"#;
        assert_eq!(check(blank_sub), Err(VerifyError::MissingClaim("sub")));
    }

    #[test]
    fn userinfo_style_string_flags_read_as_booleans() {
        let c = claims(r#"{"sub":"s","exp":1,"email_verified":"true"}"#);
        assert!(c.email_verified.unwrap().is_true());
        let c = claims(r#"{"sub":"s","exp":1,"email_verified":false}"#);
        assert!(!c.email_verified.unwrap().is_true());
    }
}
