//! HTTP plumbing: the accept loop, request reading, routing, replies and the
//! injected faults. Handlers are plain functions `(&State, &Req) -> Reply`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::state::{bump, State};
use super::{authorize, endpoints, token, Fault, MockEndpoint};

/// Request bodies above this are refused (Cognito's forms are tiny).
const MAX_BODY: usize = 1 << 20;

/// A fully read request.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Decoded `application/x-www-form-urlencoded` pairs; the first of a name wins.
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(raw).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

impl Req {
    pub fn query_params(&self) -> Params {
        Params::parse(self.query.as_bytes())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Value of the first cookie called `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// Whether the body is declared as an HTML form post.
    pub fn is_form(&self) -> bool {
        self.header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|ct| {
                ct.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
    }
}

/// A response under construction; faults may still rewrite its body.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    pub fn new(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn json(status: StatusCode, value: &Value) -> Self {
        Self::new(status, "application/json;charset=UTF-8", value.to_string())
    }

    pub fn html(status: StatusCode, page: String) -> Self {
        Self::new(status, "text/html;charset=UTF-8", page).header("cache-control", "no-store")
    }

    pub fn redirect(location: &str) -> Self {
        Self {
            status: StatusCode::FOUND,
            headers: Vec::new(),
            body: Bytes::new(),
        }
        .header("location", location)
        .header(
            "cache-control",
            "no-cache, no-store, max-age=0, must-revalidate",
        )
    }

    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Replaces the `content-type` header.
    pub fn content_type(mut self, value: &str) -> Self {
        self.headers.retain(|(n, _)| *n != "content-type");
        self.header("content-type", value)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                response.headers_mut().append(n, v);
            }
        }
        response
    }
}

/// Accepts connections until the handle's shutdown sender fires or is dropped;
/// open connections are aborted with the task set.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(connection(TokioIo::new(stream), Arc::clone(&state)));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn connection(io: TokioIo<tokio::net::TcpStream>, state: Arc<State>) {
    let service = service_fn(move |req: Request<Incoming>| {
        let state = Arc::clone(&state);
        async move {
            let reply = handle(&state, req).await;
            Ok::<_, Infallible>(reply.header("date", http_date(&state)).into_response())
        }
    });
    // A client hanging up mid-request is not the mock's problem.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .await;
}

async fn handle(state: &State, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
        return Reply::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain",
            "request body too large",
        );
    };
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body: body.to_bytes(),
    };
    route(state, &req).await
}

async fn route(state: &State, req: &Req) -> Reply {
    if let Some(doc) = well_known(state, &req.path) {
        return match doc {
            WellKnown::Discovery => {
                bump(&state.counters.discovery_fetches);
                with_fault(state, MockEndpoint::Discovery, || {
                    endpoints::discovery(state)
                })
                .await
            }
            WellKnown::Jwks => {
                bump(&state.counters.jwks_fetches);
                with_fault(state, MockEndpoint::Jwks, || endpoints::jwks(state)).await
            }
        };
    }
    match req.path.as_str() {
        "/oauth2/authorize" => authorize::authorize(state, req),
        "/login" if req.method == Method::POST => authorize::login_submit(state, req),
        "/login" => authorize::login_page(state, req),
        "/oauth2/token" => {
            bump(&state.counters.token_requests);
            with_fault(state, MockEndpoint::Token, || token::token(state, req)).await
        }
        "/oauth2/userInfo" => endpoints::userinfo(state, req),
        "/oauth2/revoke" => endpoints::revoke(state, req),
        "/logout" => endpoints::logout(state, req),
        "/error" => endpoints::error_page(state, req),
        _ => Reply::new(StatusCode::NOT_FOUND, "text/plain", "Not Found"),
    }
}

enum WellKnown {
    Discovery,
    Jwks,
}

/// Discovery and JWKS under `/{pool_id}` and, when the issuer is on the mock,
/// under the issuer's path.
fn well_known(state: &State, path: &str) -> Option<WellKnown> {
    let pool_base = format!("/{}", state.config().pool_id);
    let bases = [Some(pool_base.as_str()), state.issuer_path.as_deref()];
    let rest = bases
        .into_iter()
        .flatten()
        .find_map(|base| path.strip_prefix(base))?;
    match rest {
        "/.well-known/openid-configuration" => Some(WellKnown::Discovery),
        "/.well-known/jwks.json" => Some(WellKnown::Jwks),
        _ => None,
    }
}

/// Runs `run` under the fault set for `endpoint`, if any.
async fn with_fault(state: &State, endpoint: MockEndpoint, run: impl FnOnce() -> Reply) -> Reply {
    let Some(fault) = state.fault(endpoint) else {
        return run();
    };
    match fault {
        Fault::Hang(duration) => {
            tokio::time::sleep(duration).await;
            run()
        }
        Fault::Status500 => Reply::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "Internal Server Error",
        ),
        Fault::Html => Reply::html(
            StatusCode::OK,
            "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>\
             <body><h1>We'll be right back</h1></body></html>"
                .into(),
        ),
        Fault::TooLarge => {
            let mut big = Vec::with_capacity(5 << 20);
            big.extend_from_slice(b"{\"padding\":\"");
            big.resize((5 << 20) - 2, b'a');
            big.extend_from_slice(b"\"}");
            Reply::new(StatusCode::OK, "application/json", big)
        }
        Fault::TruncatedJson => {
            let mut reply = run();
            reply.body = reply.body.slice(..reply.body.len() / 2);
            reply
        }
        Fault::MissingIdToken => strip_id_token(run()),
    }
}

/// `Date` from the pool's clock, so a test clock offset shows as clock skew
/// the way a real IdP with a wrong clock would (hyper then adds no date of its own).
fn http_date(state: &State) -> String {
    let secs = u64::try_from(state.now()).unwrap_or_default();
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Constant-time equality of two byte strings (length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn strip_id_token(mut reply: Reply) -> Reply {
    if let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&reply.body) {
        map.remove("id_token");
        reply.body = Value::Object(map).to_string().into();
    }
    reply
}
