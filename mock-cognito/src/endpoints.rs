//! Discovery, JWKS, userInfo, revoke, logout and the `/error` page.

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::authorize::SESSION_COOKIE;
use super::config::{redirect_allowed, MockClient};
use super::pages;
use super::server::{Params, Reply, Req};
use super::state::{bump, State};
use super::token::client_auth;
use super::tokens::{user_attributes, verify_access_token};

/// Real Cognito's header values on userInfo (USERINFO doc).
const NO_CACHE: &str = "no-cache, no-store, max-age=0, must-revalidate";
const BAD_REQUEST_AUTH: &str =
    "error=\"invalid_request\", error_description=\"Bad OAuth2 request at UserInfo Endpoint\"";
const INVALID_TOKEN_AUTH: &str =
    "error=\"invalid_token\", error_description=\"Access token is expired, \
     disabled, or deleted, or the user has globally signed out.\"";

pub(crate) fn jwks_url(state: &State) -> String {
    format!(
        "{}/{}/.well-known/jwks.json",
        state.base_url,
        state.config().pool_id
    )
}

/// The discovery document with exactly real Cognito's fields: `userInfo` with a
/// capital I, no `code_challenge_methods_supported`, no `grant_types_supported`.
pub(crate) fn discovery(state: &State) -> Reply {
    let base = &state.base_url;
    let mut doc = json!({
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "issuer": state.issuer,
        "jwks_uri": jwks_url(state),
        "response_types_supported": ["code", "token"],
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "token_endpoint": format!("{base}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
    });
    if let (false, Value::Object(map)) = (state.config().omit_end_session_endpoint, &mut doc) {
        map.insert(
            "end_session_endpoint".into(),
            format!("{base}/logout").into(),
        );
    }
    Reply::json(StatusCode::OK, &doc)
}

pub(crate) fn jwks(state: &State) -> Reply {
    Reply::json(StatusCode::OK, &state.keys().jwks())
}

/// `GET|POST /oauth2/userInfo`: attributes of a live access token's user, with
/// `email_verified` as a string.
pub(crate) fn userinfo(state: &State, req: &Req) -> Reply {
    bump(&state.counters.userinfo);
    let bearer = req
        .header("authorization")
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim());
    let Some(token) = bearer else {
        let body = json!({"error": "invalid_request", "error_description": "Bad OAuth2 request at UserInfo Endpoint"});
        return Reply::json(StatusCode::BAD_REQUEST, &body)
            .header("www-authenticate", BAD_REQUEST_AUTH);
    };
    match userinfo_body(state, token) {
        Some(body) => {
            Reply::json(StatusCode::OK, &Value::Object(body)).header("cache-control", NO_CACHE)
        }
        None => {
            let body = json!({"error": "invalid_token", "error_description": "Access token is expired, disabled, or deleted, or the user has globally signed out."});
            Reply::json(StatusCode::UNAUTHORIZED, &body)
                .header("www-authenticate", INVALID_TOKEN_AUTH)
        }
    }
}

fn userinfo_body(state: &State, token: &str) -> Option<Map<String, Value>> {
    let claims = verify_access_token(&state.keys(), &state.issuer, token, state.now())?;
    let origin = claims.get("origin_jti").and_then(Value::as_str)?;
    if state.store().revoked.contains(origin) {
        return None;
    }
    let scopes: Vec<String> = claims
        .get("scope")?
        .as_str()?
        .split(' ')
        .map(str::to_string)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return None;
    }
    let username = claims.get("username")?.as_str()?;
    let user = state.config().user(username).cloned()?;
    let mut out = Map::new();
    out.insert("sub".into(), user.sub.clone().into());
    out.extend(user_attributes(&user, &scopes, true));
    out.insert("username".into(), user.username.clone().into());
    Some(out)
}

/// `POST /oauth2/revoke`: kills a refresh token and every token sharing its
/// `origin_jti` (at userInfo and the refresh grant; JWTs still verify offline).
pub(crate) fn revoke(state: &State, req: &Req) -> Reply {
    bump(&state.counters.revocations);
    let error = |status, code: &str| Reply::json(status, &json!({ "error": code }));
    if req.method != Method::POST {
        return Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "Method Not Allowed",
        )
        .header("allow", "POST");
    }
    let params = Params::parse(&req.body);
    let Some(token) = params.value("token").filter(|_| req.is_form()) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(client) = client_auth(state, req, &params) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    if token.split('.').count() != 5 {
        return error(StatusCode::BAD_REQUEST, "unsupported_token_type");
    }
    let mut store = state.store();
    let origin = store
        .refresh
        .get(token)
        .filter(|g| g.client_id == client.client_id)
        .map(|g| g.origin_jti.clone());
    if let Some(origin) = origin {
        store.refresh.retain(|_, g| g.origin_jti != origin);
        store.revoked.insert(origin);
    }
    Reply::empty(StatusCode::OK)
}

/// `GET /logout`: Cognito's own parameters (`client_id` + `logout_uri`, or
/// `redirect_uri` + `response_type`), not OIDC RP-initiated logout.
pub(crate) fn logout(state: &State, req: &Req) -> Reply {
    bump(&state.counters.logouts);
    let p = req.query_params();
    let Some(client_id) = p.value("client_id") else {
        return error_reply(
            state,
            "Required String parameter 'client_id' is not present",
        );
    };
    let Some(client) = state.config().client(client_id).cloned() else {
        return error_reply(state, "An error was encountered with the requested page.");
    };
    let loopback = state.config().allow_http_loopback_ip;
    let target = if let Some(uri) = p.value("logout_uri") {
        if !client.logout_urls.iter().any(|u| u == uri) || !redirect_allowed(uri, loopback) {
            return redirect_mismatch(state, &client, "logout_uri", uri);
        }
        uri.to_string()
    } else if let Some(uri) = p.value("redirect_uri") {
        if !client.callback_urls.iter().any(|u| u == uri) || !redirect_allowed(uri, loopback) {
            return redirect_mismatch(state, &client, "redirect_uri", uri);
        }
        if p.value("response_type").is_none() {
            return error_reply(
                state,
                "Required String parameter 'response_type' is not present",
            );
        }
        format!("{}/login?{}", state.base_url, req.query)
    } else {
        return error_reply(
            state,
            "Required String parameter 'redirect_uri' is not present",
        );
    };
    if let Some(id) = req.cookie(SESSION_COOKIE) {
        state.store().sessions.remove(&id);
    }
    Reply::redirect(&target).header(
        "set-cookie",
        format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    )
}

/// A sign-out URL the client does not allow: Cognito sends the browser to its
/// `/error` page with `error=redirect_mismatch`, as for an unregistered
/// callback, and never to the URL. The mock also says so in its log.
fn redirect_mismatch(state: &State, client: &MockClient, param: &str, uri: &str) -> Reply {
    let (allowed, flag) = match param {
        "logout_uri" => (&client.logout_urls, "--logout-url"),
        _ => (&client.callback_urls, "--callback-url"),
    };
    tracing::warn!(
        "/logout refused {param} {uri:?}: not an allowed URL of app client {} \
         (allowed: {}); add it with {flag} or to the pool file",
        client.client_id,
        allowed.join(", ")
    );
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "redirect_mismatch")
        .append_pair("client_id", &client.client_id)
        .finish();
    Reply::redirect(&format!("{}/error?{query}", state.base_url))
}

fn error_reply(state: &State, message: &str) -> Reply {
    let pool = state.config().pool_id.clone();
    Reply::html(StatusCode::BAD_REQUEST, pages::error(&pool, message, None))
}

/// `GET /error`: where unknown clients and unregistered redirect URIs land (400).
pub(crate) fn error_page(state: &State, req: &Req) -> Reply {
    let p = req.query_params();
    let detail = p.value("error").map(|e| format!("error: {e}"));
    let pool = state.config().pool_id.clone();
    let page = pages::error(
        &pool,
        "An error was encountered with the requested page.",
        detail.as_deref(),
    );
    Reply::html(StatusCode::BAD_REQUEST, page)
}
