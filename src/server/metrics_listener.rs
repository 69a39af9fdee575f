//! The `/metrics` listener, apart from the public one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::AppState;
use crate::body::{self, Body};
use crate::metrics::metrics;
use crate::proxy::headers::GROUPS_TRUNCATED;

async fn answer(state: &AppState, req: &Request<Incoming>) -> Response<Body> {
    if req.uri().path() != "/metrics" {
        let mut r = Response::new(body::full("not found\n"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    }
    let m = metrics();
    // A store that cannot answer leaves the gauge at its last value.
    if let Ok(sessions) = state.sessions.count().await {
        m.sessions_active
            .set(i64::try_from(sessions).unwrap_or(i64::MAX));
    }
    m.sync_groups_truncated(GROUPS_TRUNCATED.load(std::sync::atomic::Ordering::Relaxed));
    m.sync_log_lines_dropped(crate::logging::dropped_lines());
    let mut r = Response::new(body::full(m.encode()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Binds `addr` and serves `/metrics` until the task is aborted.
pub fn spawn(
    addr: SocketAddr,
    state: Arc<AppState>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(answer(&state, &req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}
