//! `GET /oauth2/authorize` and the `/login` page: request checks in Cognito's
//! order, the hosted-domain session (SSO for an hour), codes and implicit tokens.

use http::{Method, StatusCode};
use rand::RngCore;

use super::config::redirect_allowed;
use super::pages;
use super::server::{ct_eq, Params, Reply, Req};
use super::state::State;
use super::state::{bump, CodeGrant, HostedSession, CODE_TTL, SESSION_TTL};
use super::token::mint;
use super::tokens::Grant;
use super::TokenTweak;

/// Name of the hosted-domain session cookie.
pub(crate) const SESSION_COOKIE: &str = "cognito";
const RESERVED_SCOPES: [&str; 5] = [
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseType {
    Code,
    Token,
}

/// An authorize request whose client, redirect URI and parameters passed.
struct AuthzRequest {
    client_id: String,
    redirect_uri: String,
    response_type: ResponseType,
    scopes: Vec<String>,
    state: Option<String>,
    nonce: Option<String>,
    challenge: Option<String>,
    prompt: Option<String>,
    /// The external IdP named by `identity_provider` (`COGNITO` means none).
    identity_provider: Option<String>,
}

/// Why an authorize request failed, and so where the browser goes.
enum AuthzError {
    /// Unknown client or unregistered redirect: Cognito's own `/error` page.
    Mismatch { client_id: String },
    /// Everything else goes back to the (registered) redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        state: Option<String>,
    },
}

impl AuthzError {
    fn reply(self, state: &State) -> Reply {
        match self {
            Self::Mismatch { client_id } => {
                let query = encode(&[("error", "redirect_mismatch"), ("client_id", &client_id)]);
                Reply::redirect(&format!("{}/error?{query}", state.base_url))
            }
            Self::Redirect {
                redirect_uri,
                error,
                state: st,
            } => {
                let mut pairs = vec![("error", error)];
                let omit = state.config().omit_state_on_error;
                if let (Some(s), false) = (st.as_deref(), omit) {
                    pairs.push(("state", s));
                }
                Reply::redirect(&append(&redirect_uri, '?', &pairs))
            }
        }
    }
}

/// `application/x-www-form-urlencoded` serialisation of `pairs`.
pub(crate) fn encode(pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// Adds parameters to a URI as query (`?`) or fragment (`#`) without
/// re-serialising the URI itself, so it stays byte-for-byte what was registered.
pub(crate) fn append(uri: &str, sep: char, pairs: &[(&str, &str)]) -> String {
    let joiner = match sep {
        '?' if uri.contains('?') => '&',
        other => other,
    };
    format!("{uri}{joiner}{}", encode(pairs))
}

fn check(state: &State, p: &Params) -> Result<AuthzRequest, AuthzError> {
    let config = state.config();
    let client_id = p.get("client_id").unwrap_or_default().to_string();
    let mismatch = || AuthzError::Mismatch {
        client_id: client_id.clone(),
    };
    let client = config.client(&client_id).ok_or_else(mismatch)?;
    let redirect_uri = p.get("redirect_uri").ok_or_else(mismatch)?.to_string();
    if !client.callback_urls.contains(&redirect_uri)
        || !redirect_allowed(&redirect_uri, config.allow_http_loopback_ip)
    {
        return Err(mismatch());
    }
    let st = p.get("state").map(str::to_string);
    let fail = |error| AuthzError::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        state: st.clone(),
    };
    let response_type = match p.get("response_type") {
        Some("code") => ResponseType::Code,
        Some("token") => ResponseType::Token,
        _ => return Err(fail("invalid_request")),
    };
    let allowed = match response_type {
        ResponseType::Code => client.allow_code_flow,
        ResponseType::Token => client.allow_implicit_flow,
    };
    if !allowed {
        return Err(fail("unauthorized_client"));
    }
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) if valid_challenge(c) => Some(c.to_string()),
        _ => return Err(fail("invalid_request")),
    };
    let prompt = p.get("prompt").map(str::to_string);
    if prompt
        .as_deref()
        .is_some_and(|v| !["none", "login", "select_account", "consent"].contains(&v))
    {
        return Err(fail("invalid_request"));
    }
    let identity_provider = p
        .get("identity_provider")
        .filter(|idp| *idp != "COGNITO")
        .map(str::to_string);
    if let Some(idp) = &identity_provider {
        if !config
            .users
            .iter()
            .any(|u| u.identity_provider.as_ref() == Some(idp))
        {
            return Err(fail("invalid_request"));
        }
    }
    let known: Vec<&String> = config.clients.iter().flat_map(|c| &c.scopes).collect();
    let scopes = grant_scopes(p.get("scope"), &client.scopes, &known)
        .ok_or_else(|| fail("invalid_scope"))?;
    Ok(AuthzRequest {
        client_id,
        redirect_uri,
        response_type,
        scopes,
        state: st,
        nonce: p.get("nonce").map(str::to_string),
        challenge,
        prompt,
        identity_provider,
    })
}

/// base64url(SHA-256) is 43 characters; RFC 7636 allows 43 to 128.
fn valid_challenge(c: &str) -> bool {
    (43..=128).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Requested scopes filtered to the client's; unknown or malformed → `None`
/// (`invalid_scope`); none requested → all of the client's. `email`, `phone`
/// and `profile` need `openid`.
pub(crate) fn grant_scopes(
    requested: Option<&str>,
    client: &[String],
    known: &[&String],
) -> Option<Vec<String>> {
    let wanted: Vec<&str> = match requested {
        None => client.iter().map(String::as_str).collect(),
        Some(raw) => raw.split(' ').filter(|s| !s.is_empty()).collect(),
    };
    let recognised =
        |s: &&str| RESERVED_SCOPES.contains(s) || known.iter().any(|k| k.as_str() == *s);
    if !wanted.iter().all(recognised) {
        return None;
    }
    let openid = wanted.contains(&"openid") && client.iter().any(|c| c == "openid");
    let granted: Vec<String> = wanted
        .into_iter()
        .filter(|s| client.iter().any(|c| c == s))
        .filter(|s| openid || !["email", "phone", "profile"].contains(s))
        .fold(Vec::new(), |mut acc, s| {
            if !acc.iter().any(|a: &String| a == s) {
                acc.push(s.to_string());
            }
            acc
        });
    (!granted.is_empty()).then_some(granted)
}

/// `GET /oauth2/authorize`.
pub(crate) fn authorize(state: &State, req: &Req) -> Reply {
    bump(&state.counters.authorize);
    if req.method != Method::GET {
        return Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "Method Not Allowed",
        )
        .header("allow", "GET");
    }
    let ar = match check(state, &req.query_params()) {
        Ok(ar) => ar,
        Err(e) => return e.reply(state),
    };
    let session = req.cookie(SESSION_COOKIE).and_then(|id| state.session(&id));
    match (ar.prompt.as_deref(), session) {
        (Some("none"), None) => fail_to_client(state, &ar, "login_required"),
        (Some("login"), _) | (_, None) => {
            Reply::redirect(&format!("{}/login?{}", state.base_url, req.query))
        }
        (_, Some(session)) => complete(state, &ar, &session),
    }
}

fn fail_to_client(state: &State, ar: &AuthzRequest, error: &'static str) -> Reply {
    AuthzError::Redirect {
        redirect_uri: ar.redirect_uri.clone(),
        error,
        state: ar.state.clone(),
    }
    .reply(state)
}

/// `GET /login`: the sign-in form, carrying the authorize parameters.
pub(crate) fn login_page(state: &State, req: &Req) -> Reply {
    let params = req.query_params();
    let ar = match check(state, &params) {
        Ok(ar) => ar,
        Err(e) => return e.reply(state),
    };
    let hint = params.get("login_hint").unwrap_or_default();
    let pool = state.config().pool_id.clone();
    let page = pages::login(
        &pool,
        &params.0,
        hint,
        None,
        ar.identity_provider.as_deref(),
    );
    Reply::html(StatusCode::OK, page)
}

/// `POST /login`: checks the password, starts the hosted session, finishes the authorize.
pub(crate) fn login_submit(state: &State, req: &Req) -> Reply {
    if !req.is_form() {
        return Reply::new(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "expected a form post",
        );
    }
    let mut params = Params::parse(&req.body);
    params.0.extend(req.query_params().0);
    let ar = match check(state, &params) {
        Ok(ar) => ar,
        Err(e) => return e.reply(state),
    };
    let username = params
        .get("username")
        .unwrap_or_default()
        .trim()
        .to_string();
    let password = params.get("password").unwrap_or_default();
    let user_ok = state.config().user(&username).is_some_and(|u| {
        // A federated user signs in only at their IdP, a pool user only at Cognito's form.
        u.identity_provider == ar.identity_provider
            && ct_eq(u.password.as_bytes(), password.as_bytes())
    });
    if !user_ok {
        let pool = state.config().pool_id.clone();
        let carried: Vec<(String, String)> = params
            .0
            .iter()
            .filter(|(k, _)| k != "password")
            .cloned()
            .collect();
        let page = pages::login(
            &pool,
            &carried,
            &username,
            Some("Incorrect username or password."),
            ar.identity_provider.as_deref(),
        );
        return Reply::html(StatusCode::OK, page);
    }
    bump(&state.counters.logins);
    let now = state.now();
    let session = HostedSession {
        username,
        auth_time: now,
        expires_at: now + SESSION_TTL,
    };
    let id = session_id();
    state.store().sessions.insert(id.clone(), session.clone());
    let cookie =
        format!("{SESSION_COOKIE}={id}; Path=/; Max-Age={SESSION_TTL}; HttpOnly; SameSite=Lax");
    complete(state, &ar, &session).header("set-cookie", cookie)
}

fn session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signed-in user goes back to the client with a code or implicit tokens.
fn complete(state: &State, ar: &AuthzRequest, session: &HostedSession) -> Reply {
    match ar.response_type {
        ResponseType::Code => {
            let code = uuid::Uuid::new_v4().to_string();
            let grant = CodeGrant {
                client_id: ar.client_id.clone(),
                redirect_uri: ar.redirect_uri.clone(),
                scopes: ar.scopes.clone(),
                nonce: ar.nonce.clone(),
                challenge: ar.challenge.clone(),
                username: session.username.clone(),
                auth_time: session.auth_time,
                expires_at: state.now() + CODE_TTL,
            };
            state.store().codes.insert(code.clone(), grant);
            let mut pairs = vec![("code", code.as_str())];
            if let Some(s) = ar.state.as_deref() {
                pairs.push(("state", s));
            }
            Reply::redirect(&append(&ar.redirect_uri, '?', &pairs))
        }
        ResponseType::Token => implicit(state, ar, session),
    }
}

/// Implicit grant: tokens in the fragment, lowercase `bearer`, never a refresh token.
fn implicit(state: &State, ar: &AuthzRequest, session: &HostedSession) -> Reply {
    let Some(user) = state.config().user(&session.username).cloned() else {
        return fail_to_client(state, ar, "server_error");
    };
    let origin_jti = uuid::Uuid::new_v4().to_string();
    let grant = Grant {
        user: &user,
        client_id: &ar.client_id,
        scopes: &ar.scopes,
        nonce: ar.nonce.as_deref(),
        auth_time: session.auth_time,
        origin_jti: &origin_jti,
    };
    let Ok(minted) = mint(state, &grant, TokenTweak::NoTweak) else {
        return fail_to_client(state, ar, "server_error");
    };
    let expires_in = state.config().access_token_ttl.as_secs().to_string();
    let mut pairs = Vec::new();
    if let Some(id) = minted.id_token.as_deref() {
        pairs.push(("id_token", id));
    }
    pairs.extend([
        ("access_token", minted.access_token.as_str()),
        ("token_type", "bearer"),
    ]);
    pairs.push(("expires_in", &expires_in));
    if let Some(s) = ar.state.as_deref() {
        pairs.push(("state", s));
    }
    Reply::redirect(&append(&ar.redirect_uri, '#', &pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scopes_are_filtered_like_cognito() {
        let client = s(&["openid", "email", "api/read"]);
        let api = "api/read".to_string();
        let known = vec![&api];
        assert_eq!(grant_scopes(None, &client, &known).unwrap(), client);
        assert_eq!(
            grant_scopes(Some("openid phone email"), &client, &known).unwrap(),
            s(&["openid", "email"])
        );
        assert_eq!(grant_scopes(Some("email"), &client, &known), None);
        assert_eq!(grant_scopes(Some("openid nope/x"), &client, &known), None);
        assert_eq!(
            grant_scopes(Some("openid openid"), &client, &known).unwrap(),
            s(&["openid"])
        );
    }

    #[test]
    fn params_are_appended_without_touching_the_uri() {
        assert_eq!(
            append("https://a.example", '?', &[("code", "c")]),
            "https://a.example?code=c"
        );
        assert_eq!(
            append("https://a/cb?x=1", '?', &[("state", "a b&c")]),
            "https://a/cb?x=1&state=a+b%26c"
        );
        assert_eq!(
            append("https://a/cb", '#', &[("token_type", "bearer")]),
            "https://a/cb#token_type=bearer"
        );
    }

    #[test]
    fn challenges_must_look_like_s256() {
        assert!(valid_challenge(&"a".repeat(43)));
        assert!(!valid_challenge("short"));
        assert!(!valid_challenge(&format!("{}=", "a".repeat(43))));
    }
}
