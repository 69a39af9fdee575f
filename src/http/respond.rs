//! The one place that turns a failure into a status and a body: an HTML page
//! for browsers, a small JSON object for API clients, `Cache-Control: no-store`
//! always, and exactly one log line without secrets.

use http::{header, HeaderValue, Response, StatusCode};

use super::pages;
use crate::body::{self, Body};
pub use crate::flow::ClientKind;
use crate::flow::{DecideError, FlowError, Forbidden, PrincipalError, Redirect, SignIn};
use crate::metrics::metrics;
use crate::provider::ProviderError;
use crate::proxy::ProxyError;

/// Every way a request can fail before or while reaching the upstream.
#[derive(Debug)]
pub enum Reject {
    /// No valid session; `start` is the sign-in link.
    NeedsLogin {
        start: String,
    },
    Flow(FlowError),
    Proxy(ProxyError),
    /// An `Authorization: Bearer` token that is not valid here.
    BadBearer(ProviderError),
    /// Signed in, but the rules do not allow this user here.
    Forbidden(Forbidden),
    /// A fault inside the sidecar (a cookie that cannot be sealed, a response
    /// that cannot be built): a 500, counted as internal.
    Internal(&'static str),
    HeadersTooLarge,
    /// The request's target host is ambiguous (see `server::framing`).
    BadRequest(&'static str),
    NotFound,
    MethodNotAllowed,
}

impl From<FlowError> for Reject {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Internal(what) => Reject::Internal(what),
            e => Reject::Flow(e),
        }
    }
}

impl From<DecideError> for Reject {
    fn from(e: DecideError) -> Self {
        match e {
            DecideError::Principal(e) => e.into(),
            DecideError::Flow(e) => e.into(),
        }
    }
}

impl From<ProxyError> for Reject {
    fn from(e: ProxyError) -> Self {
        Reject::Proxy(e)
    }
}

impl From<PrincipalError> for Reject {
    fn from(e: PrincipalError) -> Self {
        match e {
            PrincipalError::Bearer(e) => Reject::BadBearer(e),
            PrincipalError::Store(e) => Reject::Flow(e.into()),
        }
    }
}

struct Answer {
    status: StatusCode,
    code: &'static str,
    message: String,
    html: String,
}

fn answer(status: StatusCode, code: &'static str, message: &str, html: String) -> Answer {
    Answer {
        status,
        code,
        message: message.to_string(),
        html,
    }
}

fn flow_answer(error: &FlowError, ctx: &Context) -> Answer {
    use FlowError::*;
    match error {
        NotReady => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "idp_not_ready",
            "Sign-in is not available yet: the identity provider has not been reached.",
            pages::idp_unavailable(""),
        ),
        Internal(_) => internal_answer(ctx),
        BadCallback { retry } => {
            let msg = "The sign-in callback is missing its code or state.";
            answer(
                StatusCode::BAD_REQUEST,
                "bad_callback",
                msg,
                pages::login_failed(msg, retry),
            )
        }
        StateMismatch { retry } => {
            let msg = "This sign-in link is not for this browser, or it has expired.";
            let hint = "If this happens each time you sign in, your browser is refusing this \
                        site's cookies: allow them, then try again.";
            answer(
                StatusCode::BAD_REQUEST,
                "state_mismatch",
                msg,
                pages::diagnosis("Sign-in failed", msg, hint, retry),
            )
        }
        Diagnosed { diagnosis, retry } => answer(
            StatusCode::BAD_REQUEST,
            diagnosis.reason(),
            &format!("{} {}", diagnosis.message(), diagnosis.fix()),
            pages::diagnosis(diagnosis.title(), &diagnosis.message(), &diagnosis.fix(), retry),
        ),
        IdpError { code, retry } => {
            let status = match code.as_str() {
                "server_error" | "temporarily_unavailable" => StatusCode::BAD_GATEWAY,
                "access_denied" => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            let html = pages::idp_error(code, retry);
            answer(
                status,
                "idp_error",
                "The identity provider did not sign you in.",
                html,
            )
        }
        CodeRefused { retry, .. } => {
            let msg = "The identity provider refused this sign-in (it may have been used already or expired).";
            answer(
                StatusCode::BAD_REQUEST,
                "code_refused",
                msg,
                pages::login_failed(msg, retry),
            )
        }
        BadToken { retry, .. } => {
            let msg = "The identity provider's answer could not be verified.";
            answer(
                StatusCode::UNAUTHORIZED,
                "invalid_id_token",
                msg,
                pages::login_failed(msg, retry),
            )
        }
        Misconfigured { problem, retry } => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "idp_misconfigured",
            "Sign-in is misconfigured: the identity provider refused this site's settings. \
             The operator must change them; quote the request id.",
            pages::misconfigured(problem.reason, ctx.request_id, retry),
        ),
        IdpFailed { error, retry } => {
            let (status, code) = match error {
                ProviderError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "idp_timeout"),
                _ => (StatusCode::BAD_GATEWAY, "idp_failed"),
            };
            let msg =
                "The identity provider could not be reached or answered something unexpected.";
            answer(status, code, msg, pages::idp_unavailable(retry))
        }
        SessionStore { error, retry } if error.is_misconfiguration() => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "session_store_misconfigured",
            "Sessions cannot be checked: the session store is misconfigured. \
             The operator must change its settings; quote the request id.",
            pages::session_store_misconfigured(ctx.request_id, retry),
        ),
        SessionStore { retry, .. } => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "session_store_unavailable",
            "Sessions cannot be checked right now: the session store is not answering. Try again in a moment.",
            pages::session_store_unavailable(retry),
        ),
        NoProvider | WrongProvider => {
            let msg = "No sign-in is configured for this address.";
            answer(StatusCode::BAD_REQUEST, "no_provider", msg, pages::bad_request(msg))
        }
        CrossSiteSignOut => {
            let msg = "Sign-out must be started from this site.";
            answer(
                StatusCode::FORBIDDEN,
                "cross_site",
                msg,
                pages::bad_request(msg),
            )
        }
    }
}

fn internal_answer(ctx: &Context) -> Answer {
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong inside the sidecar. Try again; if it persists, \
         quote the request id to the operator.",
        pages::internal_error(ctx.request_id),
    )
}

fn describe(reject: &Reject, ctx: &Context) -> Answer {
    match reject {
        Reject::NeedsLogin { start } => answer(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign-in required.",
            pages::sign_in_required(start),
        ),
        Reject::Flow(e) => flow_answer(e, ctx),
        Reject::Proxy(ProxyError::Timeout) => answer(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "The application did not answer in time.",
            pages::gateway_timeout(),
        ),
        Reject::Proxy(_) => answer(
            StatusCode::BAD_GATEWAY,
            "upstream_unavailable",
            "The application is unavailable.",
            pages::upstream_unavailable(),
        ),
        Reject::BadBearer(ProviderError::NotReady) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "idp_not_ready",
            "Tokens cannot be checked yet: the identity provider has not been reached.",
            pages::idp_unavailable(""),
        ),
        Reject::BadBearer(_) => answer(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The bearer token is not valid here.",
            pages::bad_request("The bearer token is not valid here."),
        ),
        Reject::Forbidden(Forbidden { who, sign_out, .. }) => answer(
            StatusCode::FORBIDDEN,
            "forbidden",
            "You are signed in, but not allowed to see this.",
            pages::forbidden(who, sign_out),
        ),
        Reject::Internal(_) => internal_answer(ctx),
        Reject::HeadersTooLarge => {
            let msg = "The request headers are too large.";
            answer(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                msg,
                pages::bad_request(msg),
            )
        }
        Reject::BadRequest(msg) => answer(
            StatusCode::BAD_REQUEST,
            "bad_request",
            msg,
            pages::bad_request(msg),
        ),
        Reject::NotFound => answer(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found.",
            pages::not_found(),
        ),
        Reject::MethodNotAllowed => {
            let msg = "This method is not allowed here.";
            answer(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                msg,
                pages::bad_request(msg),
            )
        }
    }
}

fn log(reject: &Reject, status: StatusCode, ctx: &Context) {
    match reject {
        Reject::NeedsLogin { .. } | Reject::NotFound => tracing::debug!(%status, "rejected"),
        Reject::Internal(what) | Reject::Flow(FlowError::Internal(what)) => {
            metrics().internal_errors.inc();
            tracing::error!(%status, request_id = ctx.request_id, "internal error: {what}")
        }
        Reject::Flow(FlowError::Misconfigured { problem, .. }) => tracing::error!(
            %status,
            reason = problem.reason,
            url = %problem.url,
            setting = problem.setting,
            request_id = ctx.request_id,
            "sign-in is misconfigured: {}; check the setting `{}`",
            problem.problem,
            problem.setting
        ),
        Reject::Flow(
            e @ (FlowError::IdpFailed { .. } | FlowError::BadToken { .. } | FlowError::NotReady),
        ) => {
            tracing::warn!(%status, error = %e, "sign-in failed")
        }
        Reject::Flow(FlowError::Diagnosed { diagnosis, .. }) => tracing::warn!(
            %status,
            cause = diagnosis.reason(),
            request_id = ctx.request_id,
            "sign-in cannot finish in this browser: {} {}",
            diagnosis.message(),
            diagnosis.fix()
        ),
        Reject::Flow(e @ FlowError::SessionStore { error, .. }) if error.is_misconfiguration() => {
            tracing::error!(%status, error = %e, request_id = ctx.request_id, "session store misconfigured")
        }
        Reject::Flow(e @ FlowError::SessionStore { .. }) => {
            tracing::warn!(%status, error = %e, "session store unavailable")
        }
        Reject::Flow(e) => tracing::info!(%status, error = %e, "sign-in refused"),
        Reject::Proxy(e) => {
            tracing::warn!(%status, error = %e, upstream = ctx.upstream, "upstream failed")
        }

        other => tracing::info!(%status, reject = ?other, "rejected"),
    }
}

/// RFC 6750 section 3: which check a bearer token failed.
fn www_authenticate(reject: &Reject) -> Option<HeaderValue> {
    let Reject::BadBearer(error) = reject else {
        return None;
    };
    let description = match error {
        ProviderError::Verify(v) => v.to_string(),
        ProviderError::NotReady => return None,
        _ => "the token could not be checked".to_string(),
    };
    let value = format!(r#"Bearer error="invalid_token", error_description="{description}""#);
    HeaderValue::from_str(&value).ok()
}

/// What the answer and its log line may name besides the failure itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// This request's `X-Request-Id`, for people to quote.
    pub request_id: &'a str,
    /// The upstream's address (`host:port`), for upstream failures.
    pub upstream: &'a str,
}

/// The response for `reject`, shaped for `kind`.
pub fn respond(kind: ClientKind, reject: Reject, ctx: &Context) -> Response<Body> {
    let a = describe(&reject, ctx);
    log(&reject, a.status, ctx);
    let challenge = www_authenticate(&reject);
    let (content_type, body) = match kind {
        ClientKind::Api => {
            let json = serde_json::json!({ "error": a.code, "message": a.message });
            ("application/json", json.to_string())
        }
        _ => ("text/html; charset=utf-8", a.html),
    };
    let mut response = Response::new(body::full(body));
    *response.status_mut() = a.status;
    if let Some(challenge) = challenge {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    } else if a.status == StatusCode::UNAUTHORIZED && kind == ClientKind::Api {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Cookie"));
    }
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    no_store(response)
}

/// A login step's redirect: `302`, never cached, with its cookies.
pub fn redirect(redirect: Redirect) -> Result<Response<Body>, Reject> {
    let mut builder = Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, redirect.location)
        .header(header::CACHE_CONTROL, "no-store");
    for cookie in redirect.cookies {
        builder = builder.header(header::SET_COOKIE, cookie);
    }
    builder
        .body(body::empty())
        .map_err(|_| Reject::Internal("a redirect could not be built"))
}

/// A request that must sign in first: straight to sign-in, or the page / 401.
pub fn sign_in(sign_in: SignIn) -> Result<Response<Body>, Reject> {
    match sign_in {
        SignIn::Redirect(r) => redirect(r),
        SignIn::Required { start } => Err(Reject::NeedsLogin { start }),
    }
}

/// Marks a response of the sidecar's own as never cacheable.
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A small JSON answer of the sidecar's own.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(body::full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(response)
}

/// An HTML page of the sidecar's own.
pub fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut response = Response::new(body::full(page));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_status_type_and_no_store() {
        let ctx = Context::default();
        let r = respond(
            ClientKind::Api,
            Reject::NeedsLogin {
                start: "/oauth2/start".into(),
            },
            &ctx,
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        let r = respond(
            ClientKind::Browser,
            Reject::Proxy(ProxyError::Timeout),
            &ctx,
        );
        assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let r = respond(
            ClientKind::Browser,
            Reject::Flow(FlowError::CrossSiteSignOut),
            &ctx,
        );
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_misconfigured_session_store_is_not_called_temporary() {
        use crate::session::StoreError;
        let ctx = Context::default();
        let store = |error| FlowError::SessionStore {
            error,
            retry: "/".into(),
        };
        let refused = flow_answer(&store(StoreError::UntrustedCertificate("x".into())), &ctx);
        assert_eq!(refused.code, "session_store_misconfigured");
        assert!(refused.html.contains("misconfigured"), "{}", refused.html);
        assert!(!refused.html.contains("temporary"), "{}", refused.html);
        let down = flow_answer(
            &store(StoreError::Timeout(std::time::Duration::from_secs(1))),
            &ctx,
        );
        assert_eq!(down.code, "session_store_unavailable");
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn internal_faults_are_500_not_the_idp() {
        let ctx = Context::default();
        let reject = Reject::from(FlowError::Internal("a cookie could not be sealed"));
        let r = respond(ClientKind::Api, reject, &ctx);
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bad = Redirect {
            location: "/\n".into(),
            cookies: Vec::new(),
            user: None,
        };
        assert!(matches!(redirect(bad), Err(Reject::Internal(_))));
    }
}
