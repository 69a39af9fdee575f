//! Cognito-shaped JWTs: ID and access tokens signed by different keys with a
//! `{kid, alg}` header only, opaque JWE-looking refresh tokens, and the
//! deliberately broken tokens that negative tests need.

use anyhow::Context;
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::config::MockUser;
use super::keys::{KeySet, SigningKey};
use super::TokenTweak;

/// Who, for which client, with what: the input of one token issue.
pub(crate) struct Grant<'a> {
    pub user: &'a MockUser,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub origin_jti: &'a str,
}

pub(crate) struct Minted {
    pub access_token: String,
    /// Only when `openid` was granted.
    pub id_token: Option<String>,
}

/// Signs tokens for one issuer at one instant.
pub(crate) struct Minter<'a> {
    pub issuer: &'a str,
    pub region: &'a str,
    pub keys: &'a KeySet,
    pub now: i64,
    pub id_ttl: i64,
    pub access_ttl: i64,
}

impl Minter<'_> {
    /// Access token plus (with `openid`) an ID token bound to it by `at_hash`.
    pub fn mint(&self, grant: &Grant<'_>, tweak: TokenTweak) -> anyhow::Result<Minted> {
        let event_id = uuid::Uuid::new_v4().to_string();
        let access = self.access_claims(grant, &event_id);
        let access_token = sign_jwt(&self.keys.access, &access)?;
        let id_token = if grant.scopes.iter().any(|s| s == "openid") {
            let mut claims = self.id_claims(grant, &event_id, &at_hash(&access_token));
            self.tweak_claims(&mut claims, tweak);
            Some(self.sign_tweaked(&claims, tweak)?)
        } else {
            None
        };
        Ok(Minted {
            access_token,
            id_token,
        })
    }

    fn access_claims(&self, grant: &Grant<'_>, event_id: &str) -> Value {
        let mut c = json!({
            "sub": grant.user.sub, "iss": self.issuer, "version": 2, "client_id": grant.client_id,
            "origin_jti": grant.origin_jti, "event_id": event_id, "token_use": "access",
            "scope": grant.scopes.join(" "), "auth_time": grant.auth_time, "iat": self.now,
            "exp": self.now + self.access_ttl, "jti": uuid::Uuid::new_v4().to_string(),
            "username": grant.user.username,
        });
        add_groups(&mut c, &grant.user.groups);
        c
    }

    fn id_claims(&self, grant: &Grant<'_>, event_id: &str, at_hash: &str) -> Value {
        let mut c = json!({
            "at_hash": at_hash, "sub": grant.user.sub, "iss": self.issuer,
            "cognito:username": grant.user.username, "origin_jti": grant.origin_jti,
            "aud": grant.client_id, "event_id": event_id, "token_use": "id",
            "auth_time": grant.auth_time, "iat": self.now, "exp": self.now + self.id_ttl,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        add_groups(&mut c, &grant.user.groups);
        if let (Some(idp), Value::Object(map)) = (&grant.user.identity_provider, &mut c) {
            map.insert("identities".into(), identities(&grant.user.username, idp));
        }
        if let (Some(nonce), Value::Object(map)) = (grant.nonce, &mut c) {
            map.insert("nonce".into(), nonce.into());
        }
        if let Value::Object(map) = &mut c {
            map.extend(user_attributes(grant.user, grant.scopes, false));
        }
        c
    }

    /// An M2M access token: no user claims; `sub` is the client ID.
    pub fn client_credentials(&self, client_id: &str, scopes: &[String]) -> anyhow::Result<String> {
        let claims = json!({
            "sub": client_id, "token_use": "access", "scope": scopes.join(" "),
            "auth_time": self.now, "iss": self.issuer, "exp": self.now + self.access_ttl,
            "iat": self.now, "version": 2, "jti": uuid::Uuid::new_v4().to_string(),
            "client_id": client_id,
        });
        sign_jwt(&self.keys.access, &claims)
    }

    fn tweak_claims(&self, claims: &mut Value, tweak: TokenTweak) {
        let Value::Object(map) = claims else { return };
        match tweak {
            TokenTweak::Expired => {
                map.insert("exp".into(), (self.now - 600).into());
                map.insert("iat".into(), (self.now - 600 - self.id_ttl).into());
            }
            TokenTweak::WrongIssuer => {
                let other = format!(
                    "https://cognito-idp.{0}.amazonaws.com/{0}_WrongPool9",
                    self.region
                );
                map.insert("iss".into(), other.into());
            }
            TokenTweak::WrongAudience => {
                map.insert("aud".into(), "0wrongaudience0000000000000".into());
            }
            TokenTweak::TokenUseAccess => {
                map.insert("token_use".into(), "access".into());
            }
            TokenTweak::IssuedInFuture => {
                map.insert("iat".into(), (self.now + 600).into());
            }
            TokenTweak::NotYetValid => {
                map.insert("nbf".into(), (self.now + 600).into());
            }
            TokenTweak::SeveralAudiences => {
                let aud = map.get("aud").cloned().unwrap_or_default();
                map.insert("aud".into(), json!([aud, "0otheraudience000000000000"]));
            }
            TokenTweak::ForeignAuthorizedParty => {
                map.insert("azp".into(), "0otheraudience000000000000".into());
            }
            TokenTweak::WrongNonce => {
                map.insert(
                    "nonce".into(),
                    format!("wrong-{}", uuid::Uuid::new_v4()).into(),
                );
            }
            _ => {}
        }
    }

    fn sign_tweaked(&self, claims: &Value, tweak: TokenTweak) -> anyhow::Result<String> {
        let keys = self.keys;
        match tweak {
            TokenTweak::WrongKey => sign_jwt(&keys.rogue, claims),
            TokenTweak::BadSignature => sign_with(&keys.rogue, &keys.id.kid, claims),
            TokenTweak::AlgNone => {
                let header = json!({ "kid": keys.id.kid, "alg": "none" });
                Ok(format!("{}.{}.", b64_json(&header)?, b64_json(claims)?))
            }
            TokenTweak::Hs256 => {
                let header = json!({ "kid": keys.id.kid, "alg": "HS256" });
                let input = format!("{}.{}", b64_json(&header)?, b64_json(claims)?);
                let key = hmac::Key::new(hmac::HMAC_SHA256, keys.id.public_der());
                let tag = hmac::sign(&key, input.as_bytes());
                Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
            }
            _ => sign_jwt(&keys.id, claims),
        }
    }
}

/// Cognito's `identities` claim of a federated user: strings for `primary`
/// and `dateCreated`, as real tokens carry them.
fn identities(username: &str, idp: &str) -> Value {
    let user_id = username.split_once('_').map_or(username, |(_, id)| id);
    let provider_type = match idp {
        "Google" | "Facebook" | "LoginWithAmazon" | "SignInWithApple" => idp,
        _ => "SAML",
    };
    json!([{
        "userId": user_id, "providerName": idp, "providerType": provider_type,
        "issuer": null, "primary": "true", "dateCreated": "1700000000000",
    }])
}

fn add_groups(claims: &mut Value, groups: &[String]) {
    if let (false, Value::Object(map)) = (groups.is_empty(), claims) {
        map.insert("cognito:groups".into(), groups.into());
    }
}

/// Attributes the scopes allow: `openid` alone gives every readable attribute;
/// otherwise `profile` and `email` each add their own. `email_verified` is a
/// boolean in ID tokens and a *string* at userInfo, as in real Cognito.
pub(crate) fn user_attributes(
    user: &MockUser,
    scopes: &[String],
    userinfo: bool,
) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let all = !has("profile") && !has("email") && !has("phone");
    let mut out = Map::new();
    if all || has("profile") {
        for (key, value) in [
            ("name", &user.name),
            ("given_name", &user.given_name),
            ("family_name", &user.family_name),
        ] {
            if let Some(v) = value {
                out.insert(key.into(), v.clone().into());
            }
        }
        for (key, value) in &user.custom {
            let name = if key.starts_with("custom:") {
                key.clone()
            } else {
                format!("custom:{key}")
            };
            out.insert(name, value.clone().into());
        }
    }
    if let (true, Some(email)) = (all || has("email"), &user.email) {
        out.insert("email".into(), email.clone().into());
        let verified = if userinfo {
            user.email_verified.to_string().into()
        } else {
            user.email_verified.into()
        };
        out.insert("email_verified".into(), verified);
    }
    out
}

/// base64url of the left half of SHA-256 of the access token (OIDC `at_hash`).
pub(crate) fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn b64_json(value: &Value) -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).context("encoding JWT part")?))
}

/// A compact RS256 JWT with the `{"kid":…,"alg":"RS256"}` header, in that order.
pub(crate) fn sign_jwt(key: &SigningKey, claims: &Value) -> anyhow::Result<String> {
    sign_with(key, &key.kid, claims)
}

fn sign_with(key: &SigningKey, kid: &str, claims: &Value) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Header<'a> {
        kid: &'a str,
        alg: &'static str,
    }
    let header = serde_json::to_vec(&Header { kid, alg: "RS256" })?;
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), b64_json(claims)?);
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Opaque refresh token shaped like Cognito's JWE (5 parts, RSA-OAEP/A256GCM
/// header) but random inside, so nothing can decode it.
pub(crate) fn opaque_refresh_token() -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"cty":"JWT","enc":"A256GCM","alg":"RSA-OAEP"}"#);
    let mut rng = rand::rng();
    let mut part = |n: usize| {
        let mut buf = vec![0u8; n];
        rng.fill_bytes(&mut buf);
        URL_SAFE_NO_PAD.encode(buf)
    };
    format!(
        "{header}.{}.{}.{}.{}",
        part(256),
        part(12),
        part(640),
        part(16)
    )
}

/// Claims of an access token this mock issued that is still good: published
/// key, RS256, right issuer, `token_use` access, not expired.
pub(crate) fn verify_access_token(
    keys: &KeySet,
    issuer: &str,
    token: &str,
    now: i64,
) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg")? != "RS256" {
        return None;
    }
    let key = keys.published(header.get("kid")?.as_str()?)?;
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    if !key.verify(format!("{h}.{p}").as_bytes(), &sig) {
        return None;
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    let good = claims.get("iss")? == issuer
        && claims.get("token_use")? == "access"
        && claims.get("exp")?.as_i64()? > now;
    good.then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> MockUser {
        MockUser {
            username: "u".into(),
            email: Some("u@example.com".into()),
            email_verified: true,
            name: Some("Zoë".into()),
            ..MockUser::default()
        }
    }

    #[test]
    fn attributes_follow_scopes_and_string_booleans_at_userinfo() {
        let u = user();
        let openid = vec!["openid".to_string()];
        let all = user_attributes(&u, &openid, false);
        assert_eq!(all["email_verified"], Value::Bool(true));
        assert_eq!(all["name"], "Zoë");
        let info = user_attributes(&u, &openid, true);
        assert_eq!(info["email_verified"], "true");
        let email_only = user_attributes(&u, &["openid".into(), "email".into()], false);
        assert!(email_only.get("name").is_none());
    }

    #[test]
    fn tokens_verify_until_expiry_and_refresh_tokens_are_opaque() {
        let keys = KeySet::generate().unwrap();
        let u = user();
        let scopes = vec!["openid".to_string(), "email".to_string()];
        let grant = Grant {
            user: &u,
            client_id: "c",
            scopes: &scopes,
            nonce: Some("n"),
            auth_time: 100,
            origin_jti: "o",
        };
        let minter = Minter {
            issuer: "https://iss",
            region: "us-east-1",
            keys: &keys,
            now: 1000,
            id_ttl: 60,
            access_ttl: 60,
        };
        let minted = minter.mint(&grant, TokenTweak::NoTweak).unwrap();
        assert!(verify_access_token(&keys, "https://iss", &minted.access_token, 1059).is_some());
        assert!(verify_access_token(&keys, "https://iss", &minted.access_token, 1060).is_none());
        assert!(verify_access_token(&keys, "https://other", &minted.access_token, 1000).is_none());
        let id = minted.id_token.unwrap();
        assert!(verify_access_token(&keys, "https://iss", &id, 1000).is_none());
        assert_eq!(opaque_refresh_token().split('.').count(), 5);
    }
}
