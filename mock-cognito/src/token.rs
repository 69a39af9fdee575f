//! `POST /oauth2/token`: client authentication (Basic or body secret; public
//! clients by ID), then the authorization_code, refresh_token and
//! client_credentials grants, with Cognito's error codes.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::authorize::grant_scopes;
use super::config::MockClient;
use super::server::{ct_eq, Params, Reply, Req};
use super::state::{bump, RefreshGrant, State, REFRESH_TTL};
use super::tokens::{opaque_refresh_token, Grant, Minted, Minter};
use super::TokenTweak;

/// A token-endpoint error: 400 JSON `{"error":…}`.
struct OAuthError {
    error: &'static str,
    description: Option<&'static str>,
}

fn err(error: &'static str) -> OAuthError {
    OAuthError {
        error,
        description: None,
    }
}

impl OAuthError {
    fn reply(self) -> Reply {
        let mut body = json!({ "error": self.error });
        if let (Some(d), Value::Object(map)) = (self.description, &mut body) {
            map.insert("error_description".into(), d.into());
        }
        Reply::json(StatusCode::BAD_REQUEST, &body)
    }
}

/// Runs `f` with a minter holding the pool's current keys, clock and lifetimes.
fn with_minter<T>(state: &State, f: impl FnOnce(&Minter<'_>) -> T) -> T {
    let keys = state.keys();
    let config = state.config();
    let minter = Minter {
        issuer: &state.issuer,
        region: &config.region,
        keys: &keys,
        now: state.now(),
        id_ttl: secs(config.id_token_ttl),
        access_ttl: secs(config.access_token_ttl),
    };
    f(&minter)
}

/// Signs tokens for `grant` with the pool's current keys, clock and lifetimes.
pub(crate) fn mint(state: &State, grant: &Grant<'_>, tweak: TokenTweak) -> anyhow::Result<Minted> {
    with_minter(state, |minter| minter.mint(grant, tweak))
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// `POST /oauth2/token`.
pub(crate) fn token(state: &State, req: &Req) -> Reply {
    let reply = if req.method != Method::POST {
        Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "Method Not Allowed",
        )
        .header("allow", "POST")
    } else if !req.is_form() {
        err("invalid_request").reply()
    } else {
        let params = Params::parse(&req.body);
        grant(state, req, &params).unwrap_or_else(OAuthError::reply)
    };
    reply
        .header("access-control-allow-origin", "*")
        .header(
            "cache-control",
            "no-cache, no-store, max-age=0, must-revalidate",
        )
        .header("pragma", "no-cache")
}

fn grant(state: &State, req: &Req, params: &Params) -> Result<Reply, OAuthError> {
    let grant_type = params.value("grant_type").ok_or(err("invalid_request"))?;
    let client = client_auth(state, req, params).ok_or(err("invalid_client"))?;
    let body = match grant_type {
        "authorization_code" => authorization_code(state, &client, params)?,
        "refresh_token" => refresh(state, &client, params)?,
        "client_credentials" => client_credentials(state, &client, params)?,
        _ => return Err(err("unsupported_grant_type")),
    };
    Ok(Reply::json(StatusCode::OK, &Value::Object(body)).content_type("application/json"))
}

/// Client authentication: HTTP Basic or `client_secret` in the body for
/// confidential clients, `client_id` alone for public ones; `None` means
/// `invalid_client`.
pub(crate) fn client_auth(state: &State, req: &Req, params: &Params) -> Option<MockClient> {
    let basic = match req.header("authorization") {
        Some(h) => Some(parse_basic(h)?),
        None => None,
    };
    let body_id = params.value("client_id");
    let (client_id, secret) = match (&basic, body_id) {
        (Some((id, _)), Some(b)) if id != b => return None,
        (Some((id, secret)), _) => (id.as_str(), Some(secret.as_str())),
        (None, Some(id)) => (id, params.value("client_secret")),
        (None, None) => return None,
    };
    let client = state.config().client(client_id).cloned()?;
    let good = match (&client.client_secret, secret) {
        (Some(expected), Some(given)) => ct_eq(expected.as_bytes(), given.as_bytes()),
        (None, None) => true,
        _ => false,
    };
    good.then_some(client)
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn authorization_code(
    state: &State,
    client: &MockClient,
    p: &Params,
) -> Result<Map<String, Value>, OAuthError> {
    bump(&state.counters.authorization_code_grants);
    let code = p.value("code").ok_or(err("invalid_request"))?;
    let redirect_uri = p.value("redirect_uri").ok_or(err("invalid_request"))?;
    // Single use: the code is gone whatever happens next.
    let grant = state
        .store()
        .codes
        .remove(code)
        .ok_or(err("invalid_grant"))?;
    if grant.expires_at <= state.now() || grant.client_id != client.client_id {
        return Err(err("invalid_grant"));
    }
    if !client.allow_code_flow {
        return Err(err("unauthorized_client"));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(OAuthError {
            error: "unauthorized_client",
            description: Some("invalid_redirect"),
        });
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = p.value("code_verifier").ok_or(err("invalid_grant"))?;
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !ct_eq(computed.as_bytes(), challenge.as_bytes()) {
            return Err(err("invalid_grant"));
        }
    }
    let user = state
        .config()
        .user(&grant.username)
        .cloned()
        .ok_or(err("invalid_grant"))?;
    let origin_jti = uuid::Uuid::new_v4().to_string();
    let tweak = state.take_next_tweak();
    let g = Grant {
        user: &user,
        client_id: &client.client_id,
        scopes: &grant.scopes,
        nonce: grant.nonce.as_deref(),
        auth_time: grant.auth_time,
        origin_jti: &origin_jti,
    };
    let minted = mint(state, &g, tweak).map_err(|_| err("server_error"))?;
    let refresh = new_refresh(
        state,
        client,
        &user.username,
        &grant.scopes,
        grant.auth_time,
        &origin_jti,
    );
    Ok(body(state, minted, Some(refresh)))
}

fn new_refresh(
    state: &State,
    client: &MockClient,
    username: &str,
    scopes: &[String],
    auth_time: i64,
    origin_jti: &str,
) -> String {
    let token = opaque_refresh_token();
    let grant = RefreshGrant {
        client_id: client.client_id.clone(),
        username: username.to_string(),
        scopes: scopes.to_vec(),
        auth_time,
        origin_jti: origin_jti.to_string(),
        expires_at: state.now() + REFRESH_TTL,
    };
    state.store().refresh.insert(token.clone(), grant);
    token
}

fn body(state: &State, minted: Minted, refresh: Option<String>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("access_token".into(), minted.access_token.into());
    if let Some(id) = minted.id_token {
        out.insert("id_token".into(), id.into());
    }
    if let Some(r) = refresh {
        out.insert("refresh_token".into(), r.into());
    }
    out.insert("token_type".into(), "Bearer".into());
    out.insert(
        "expires_in".into(),
        state.config().access_token_ttl.as_secs().into(),
    );
    out
}

/// Refresh grant: new ID and access tokens (no `nonce`, same `auth_time` and
/// `origin_jti`); a new refresh token only with rotation, which kills the old one.
fn refresh(
    state: &State,
    client: &MockClient,
    p: &Params,
) -> Result<Map<String, Value>, OAuthError> {
    bump(&state.counters.refresh_grants);
    let token = p.value("refresh_token").ok_or(err("invalid_request"))?;
    let now = state.now();
    let grant = {
        let store = state.store();
        let grant = store
            .refresh
            .get(token)
            .cloned()
            .ok_or(err("invalid_grant"))?;
        if store.revoked.contains(&grant.origin_jti) || grant.expires_at <= now {
            return Err(err("invalid_grant"));
        }
        grant
    };
    if grant.client_id != client.client_id {
        return Err(err("invalid_grant"));
    }
    let user = state
        .config()
        .user(&grant.username)
        .cloned()
        .ok_or(err("invalid_grant"))?;
    let g = Grant {
        user: &user,
        client_id: &client.client_id,
        scopes: &grant.scopes,
        nonce: None,
        auth_time: grant.auth_time,
        origin_jti: &grant.origin_jti,
    };
    let minted = mint(state, &g, TokenTweak::NoTweak).map_err(|_| err("server_error"))?;
    let rotated = client.refresh_rotation.then(|| {
        state.store().refresh.remove(token);
        new_refresh(
            state,
            client,
            &user.username,
            &grant.scopes,
            grant.auth_time,
            &grant.origin_jti,
        )
    });
    Ok(body(state, minted, rotated))
}

/// Machine-to-machine: confidential clients only, custom scopes only, access token only.
fn client_credentials(
    state: &State,
    client: &MockClient,
    p: &Params,
) -> Result<Map<String, Value>, OAuthError> {
    bump(&state.counters.client_credentials_grants);
    if client.client_secret.is_none() {
        return Err(err("unauthorized_client"));
    }
    let custom: Vec<String> = client
        .scopes
        .iter()
        .filter(|s| s.contains('/'))
        .cloned()
        .collect();
    let known: Vec<&String> = custom.iter().collect();
    let scopes = grant_scopes(p.value("scope"), &custom, &known).ok_or(err("invalid_scope"))?;
    let access = with_minter(state, |m| m.client_credentials(&client.client_id, &scopes))
        .map_err(|_| err("server_error"))?;
    let config = state.config();
    let mut out = Map::new();
    out.insert("access_token".into(), access.into());
    out.insert("token_type".into(), "Bearer".into());
    out.insert(
        "expires_in".into(),
        config.access_token_ttl.as_secs().into(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        let h = format!("Basic {}", STANDARD.encode("id:se:cret"));
        assert_eq!(parse_basic(&h).unwrap(), ("id".into(), "se:cret".into()));
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!").is_none());
    }
}
