//! Logout tokens of OpenID Connect Back-Channel Logout 1.0: checked like an ID
//! token (section 2.6 steps 2 to 4: RS256 signature by the provider's JWKS,
//! `iss`, `aud`, `exp`, `iat`), then by the specification's own rules (steps 5
//! to 7, and the explicit typing of 2.4 against cross-JWT confusion). The replay
//! check (step 8) needs the session store: the flow does it with [`LogoutToken::jti`].

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::verify::{map_error, VerifyError, LEEWAY_SECS};

/// The `events` member that makes a JWT a logout token (2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token issued longer ago than this is refused (step 4, `iat`):
/// providers send them at once (oidc-provider's live 120 s).
pub const MAX_AGE_SECS: u64 = 300;

/// Why a logout token is refused: each answered 400 (section 2.8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// Steps 2 to 4, as for an ID token: malformed, algorithm, key,
    /// signature, `iss`, `aud`, `azp`, `exp`, `iat` in the future.
    #[error("{0}")]
    Token(#[from] VerifyError),
    /// 2.4: a `typ` header other than `logout+jwt` (or the generic `JWT`).
    #[error("the token's typ header is not logout+jwt")]
    Type,
    /// Step 4: `iat` older than [`MAX_AGE_SECS`] (with leeway).
    #[error("the logout token was issued too long ago")]
    TooOld,
    /// Step 5: neither `sub` nor `sid`.
    #[error("the logout token has neither a sub nor a sid claim")]
    NoSubject,
    /// Step 6: no `events` object with the back-channel logout member.
    #[error("the logout token has no events claim with the back-channel logout event")]
    Events,
    /// Step 7: a `nonce` (an ID token cannot pass for a logout token).
    #[error("the logout token must not contain a nonce claim")]
    Nonce,
    /// 2.4: `jti` is required (the replay check keys on it).
    #[error("the logout token has no jti claim")]
    NoJti,
}

/// A verified logout token: which sessions end, and what the replay check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    /// How long the token could still be accepted: the replay check remembers
    /// its `jti` this long.
    pub accepted_for: Duration,
}

/// What a logout token must be addressed to.
pub struct Audience<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
}

/// Checks a logout token whose signing key has been looked up by its `kid`,
/// its times against `now` (unix seconds, the sidecar's clock).
pub fn verify(
    token: &str,
    key: &DecodingKey,
    audience: &Audience<'_>,
    now: u64,
) -> Result<LogoutToken, LogoutTokenError> {
    check_type(token)?;
    let mut validation = Validation::new(Algorithm::RS256);
    // `exp` is checked by `check_claims` against `now`: one clock decides.
    validation.validate_exp = false;
    validation.set_issuer(&[audience.issuer]);
    validation.set_audience(&[audience.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map_err(|e| map_error(e.kind()))?
        .claims;
    check_claims(&claims, audience.client_id, now)
}

/// 2.4 (errata 1): logout tokens are typed `logout+jwt`; a token typed as
/// something else (an access token's `at+jwt`) is not one. The generic `JWT`
/// says nothing and is what some providers put on every token: accepted, the
/// `events` and `nonce` rules still tell an ID token apart.
fn check_type(token: &str) -> Result<(), LogoutTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    let Some(typ) = header.typ else {
        return Ok(());
    };
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    match typ {
        "logout+jwt" | "jwt" => Ok(()),
        _ => Err(LogoutTokenError::Type),
    }
}

/// A claim that must be a non-empty string when present.
fn text(claims: &Map<String, Value>, name: &'static str) -> Result<Option<String>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(VerifyError::Malformed),
    }
}

fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    now: u64,
) -> Result<LogoutToken, LogoutTokenError> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(VerifyError::MissingClaim("iat"))?;
    if iat > now + LEEWAY_SECS {
        return Err(VerifyError::IssuedInFuture.into());
    }
    if iat + MAX_AGE_SECS + LEEWAY_SECS < now {
        return Err(LogoutTokenError::TooOld);
    }
    // Present (the JWT validation requires it); a fractional one counts whole.
    let exp = claims
        .get("exp")
        .and_then(|exp| exp.as_u64().or_else(|| exp.as_f64().map(|f| f as u64)))
        .ok_or(VerifyError::MissingClaim("exp"))?;
    if exp.saturating_add(LEEWAY_SECS) < now {
        return Err(VerifyError::Expired.into());
    }
    if text(claims, "azp")?.is_some_and(|azp| azp != client_id) {
        return Err(VerifyError::AuthorizedParty.into());
    }
    let (sub, sid) = (text(claims, "sub")?, text(claims, "sid")?);
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::Events);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let jti = text(claims, "jti")?.ok_or(LogoutTokenError::NoJti)?;
    // Accepted until the earlier of its `exp` and the age limit (each with leeway).
    let until = exp.min(iat + MAX_AGE_SECS) + LEEWAY_SECS;
    Ok(LogoutToken {
        sid,
        sub,
        jti,
        accepted_for: Duration::from_secs(until.saturating_sub(now).max(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn valid() -> Value {
        serde_json::json!({
            "iss": "https://op", "aud": "c", "iat": NOW - 5, "exp": NOW + 115,
            "jti": "j1", "sid": "s1", "sub": "u1",
            "events": { LOGOUT_EVENT: {} },
        })
    }

    fn without(name: &str) -> Map<String, Value> {
        let mut c = claims(valid());
        c.remove(name);
        c
    }

    fn with(name: &str, value: Value) -> Map<String, Value> {
        let mut c = claims(valid());
        c.insert(name.into(), value);
        c
    }

    #[test]
    fn a_valid_token_names_its_sessions_and_how_long_to_remember_it() {
        let token = check_claims(&claims(valid()), "c", NOW).unwrap();
        assert_eq!(token.sid.as_deref(), Some("s1"));
        assert_eq!(token.sub.as_deref(), Some("u1"));
        assert_eq!(token.jti, "j1");
        assert_eq!(token.accepted_for, Duration::from_secs(115 + LEEWAY_SECS));
        let sub_only = check_claims(&without("sid"), "c", NOW).unwrap();
        assert_eq!((sub_only.sid, sub_only.sub.as_deref()), (None, Some("u1")));
        assert!(check_claims(&without("sub"), "c", NOW).is_ok());
    }

    #[test]
    fn each_rule_of_the_specification_has_its_refusal() {
        let refused = |c: Map<String, Value>| check_claims(&c, "c", NOW).unwrap_err();
        let mut neither = without("sid");
        neither.remove("sub");
        assert_eq!(refused(neither), LogoutTokenError::NoSubject);
        assert_eq!(refused(without("events")), LogoutTokenError::Events);
        let other_event = serde_json::json!({"http://schemas.openid.net/event/other": {}});
        assert_eq!(
            refused(with("events", other_event)),
            LogoutTokenError::Events
        );
        let not_an_object = serde_json::json!({ LOGOUT_EVENT: "yes" });
        assert_eq!(
            refused(with("events", not_an_object)),
            LogoutTokenError::Events
        );
        assert_eq!(refused(with("nonce", "n".into())), LogoutTokenError::Nonce);
        assert_eq!(refused(with("nonce", Value::Null)), LogoutTokenError::Nonce);
        assert_eq!(refused(without("jti")), LogoutTokenError::NoJti);
        assert_eq!(
            refused(with("jti", "".into())),
            LogoutTokenError::Token(VerifyError::Malformed)
        );
        assert_eq!(
            refused(without("iat")),
            LogoutTokenError::Token(VerifyError::MissingClaim("iat"))
        );
        let future = (NOW + LEEWAY_SECS + 1).into();
        assert_eq!(
            refused(with("iat", future)),
            LogoutTokenError::Token(VerifyError::IssuedInFuture)
        );
        let stale = (NOW - MAX_AGE_SECS - LEEWAY_SECS - 1).into();
        assert_eq!(refused(with("iat", stale)), LogoutTokenError::TooOld);
        let past = (NOW - LEEWAY_SECS - 1).into();
        assert_eq!(
            refused(with("exp", past)),
            LogoutTokenError::Token(VerifyError::Expired)
        );
        assert!(check_claims(&with("exp", (NOW - LEEWAY_SECS).into()), "c", NOW).is_ok());
        assert_eq!(
            refused(without("exp")),
            LogoutTokenError::Token(VerifyError::MissingClaim("exp"))
        );
        assert_eq!(
            refused(with("azp", "other".into())),
            LogoutTokenError::Token(VerifyError::AuthorizedParty)
        );
    }

    #[test]
    fn the_type_header_must_not_name_another_kind_of_token() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let tok = |h: &str| format!("{}.e30.sig", b64(h));
        for ok in [
            r#"{"alg":"RS256","kid":"k"}"#,
            r#"{"alg":"RS256","kid":"k","typ":"logout+jwt"}"#,
            r#"{"alg":"RS256","kid":"k","typ":"application/logout+jwt"}"#,
            r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#,
        ] {
            assert_eq!(check_type(&tok(ok)), Ok(()), "{ok}");
        }
        let access = tok(r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#);
        assert_eq!(check_type(&access), Err(LogoutTokenError::Type));
        assert_eq!(
            check_type("%%%.e30.sig"),
            Err(LogoutTokenError::Token(VerifyError::Malformed))
        );
    }
}
