//! Listening, serving connections, and shutting down gracefully.
//!
//! Built from a [`Config`] alone, bound to addresses the caller chooses, so
//! tests bind `127.0.0.1:0` and talk over real sockets.

mod connection;
mod endpoints;
mod error;
pub mod framing;
mod keys;
mod metrics_listener;
mod proxied;
mod router;
mod state;
mod tls;
mod workers;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::proxy::Upstream;
pub use error::StartError;
pub use state::AppState;

/// A started sidecar: its addresses, and a handle to stop it.
pub struct Running {
    addrs: Vec<SocketAddr>,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    workers: workers::Workers,
    loaders: Vec<JoinHandle<()>>,
    metrics: Option<(SocketAddr, JoinHandle<()>)>,
}

impl Running {
    /// The first bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Where `/metrics` is served, when `metrics-address` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish within the grace
    /// period, then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.workers.join().await;
        for loader in self.loaders {
            loader.abort();
        }
        if let Some((_, task)) = self.metrics {
            task.abort();
        }
    }
}

/// Binds each address in order; an address that fails is skipped when another
/// bound (the default `[::]:4180` falls back to `0.0.0.0:4180` without IPv6).
async fn bind_all(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, StartError> {
    let mut listeners = Vec::new();
    let mut errors = Vec::new();
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    if listeners.is_empty() {
        return Err(StartError::Bind(errors.join("; ")));
    }
    for e in errors {
        tracing::info!("not listening on {e}");
    }
    Ok(listeners)
}

/// Starts the sidecar on `config.listen`.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let listeners = bind_all(&config.listen).await?;
    start_on(config, listeners)
}

/// Starts the sidecar on listeners the caller bound.
pub fn start_on(config: Config, listeners: Vec<TcpListener>) -> Result<Running, StartError> {
    crate::check::warn_at_startup(&config);
    let state = AppState::new(config)?;
    let loaders = state.providers.spawn_loaders();
    let (stop, stopped) = watch::channel(false);
    let tls = state.config.tls.as_ref().map(tls::acceptor).transpose()?;
    let addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<Result<Vec<_>, _>>()?;
    let listeners = listeners
        .into_iter()
        .map(TcpListener::into_std)
        .collect::<Result<Vec<_>, _>>()?;
    let worker = Worker {
        auto: Arc::new(builder(&state)),
        http1: (!state.config.h2c).then(|| Arc::new(http1_builder(&state))),
        permits: Arc::new(Semaphore::new(state.config.limits.max_connections)),
        upstream: state.upstream.clone(),
        state: state.clone(),
        stopped,
        tls,
    };
    let workers = workers::spawn(
        state.config.limits.workers,
        listeners,
        move |_, listeners| {
            let worker = worker.with_own_pool();
            async move {
                let loops: Vec<_> = listeners
                    .into_iter()
                    .map(|listener| tokio::spawn(accept_loop(listener, worker.clone())))
                    .collect();
                for accept in loops {
                    let _ = accept.await;
                }
            }
        },
    )?;
    for addr in &addrs {
        tracing::info!(%addr, "listening");
    }
    let metrics = match state.config.metrics_address {
        Some(addr) => Some(metrics_listener::spawn(addr, state.clone())?),
        None => None,
    };
    if let Some((addr, _)) = &metrics {
        tracing::info!(%addr, "serving /metrics");
    }
    Ok(Running {
        addrs,
        state,
        stop,
        workers,
        loaders,
        metrics,
    })
}

/// What every accept loop of one worker thread shares.
#[derive(Clone)]
struct Worker {
    state: Arc<AppState>,
    /// This worker's own pool to the upstream.
    upstream: Upstream,
    /// HTTP/2 or HTTP/1.1: over TLS as ALPN chose, in plain text with `h2c`.
    auto: Arc<auto::Builder<TokioExecutor>>,
    /// Plain-text connections without `h2c`: HTTP/1 only, like nginx and
    /// most proxies (hyper-util's `http1_only` does not hold with upgrades).
    http1: Option<Arc<http1::Builder>>,
    /// The connection limit, across all workers.
    permits: Arc<Semaphore>,
    stopped: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
}

impl Worker {
    fn with_own_pool(&self) -> Self {
        Self {
            upstream: self.upstream.with_own_pool(),
            ..self.clone()
        }
    }
}

fn builder(state: &AppState) -> auto::Builder<TokioExecutor> {
    let t = &state.config.timeouts;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(t.client_header_read)
        .max_buf_size(max_buf_size(state))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(t.idle_keepalive))
        .max_header_list_size(
            u32::try_from(state.config.limits.max_request_header_bytes).unwrap_or(u32::MAX),
        );
    builder
}

fn http1_builder(state: &AppState) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.timeouts.client_header_read)
        .max_buf_size(max_buf_size(state))
        .keep_alive(true);
    builder
}

fn max_buf_size(state: &AppState) -> usize {
    state.config.limits.max_request_header_bytes.max(8192) + 1024
}

async fn accept_loop(listener: TcpListener, mut worker: Worker) {
    // Every connection holds a clone; `recv` returns `None` once all are gone.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    loop {
        let (stream, peer) = tokio::select! {
            _ = worker.stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        match worker.permits.clone().try_acquire_owned() {
            Ok(permit) => accepted(stream, peer, permit, &worker, open.clone()),
            // A plain-text 503 means nothing inside TLS: just close.
            Err(_) if worker.tls.is_some() => drop(stream),
            Err(_) => {
                tokio::spawn(over_capacity(stream));
            }
        }
    }
    drop((listener, open));
    let grace = worker.state.config.timeouts.shutdown_grace;
    if tokio::time::timeout(grace, all_closed.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "grace period over; closing the remaining connections"
        );
    }
}

/// Serves one accepted connection, after the TLS handshake when TLS is on
/// (the handshake gets the client header timeout).
fn accepted(
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    worker: &Worker,
    open: mpsc::Sender<()>,
) {
    let Some(acceptor) = worker.tls.clone() else {
        return serve(stream, peer, false, permit, worker, open);
    };
    let worker = worker.clone();
    tokio::spawn(async move {
        let limit = worker.state.config.timeouts.client_header_read;
        if let Some(stream) = tls::handshake(&acceptor, stream, peer, limit).await {
            serve(stream, peer, true, permit, &worker, open);
        }
    });
}

fn serve<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    permit: OwnedSemaphorePermit,
    worker: &Worker,
    open: mpsc::Sender<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (state, upstream) = (worker.state.clone(), worker.upstream.clone());
    let activity = Arc::new(connection::Activity::default());
    let in_flight = activity.clone();
    let service = service_fn(move |req| {
        let (state, upstream) = (state.clone(), upstream.clone());
        let request = in_flight.begin();
        async move {
            let response = router::handle(state, &upstream, req, peer, tls).await;
            drop(request);
            Ok::<_, Infallible>(response)
        }
    });
    let io = TokioIo::new(io);
    match &worker.http1 {
        Some(http1) if !tls => {
            let conn = http1.serve_connection(io, service).with_upgrades();
            let shutdown = http1::UpgradeableConnection::graceful_shutdown;
            guard(conn, shutdown, activity, permit, worker, open);
        }
        _ => {
            let conn = worker.auto.serve_connection_with_upgrades(io, service);
            let shutdown = auto::UpgradeableConnection::graceful_shutdown;
            guard(conn.into_owned(), shutdown, activity, permit, worker, open);
        }
    }
}

/// Runs `conn` on its own task, closed when idle (see [`connection`]); its
/// permit is released when it ends.
fn guard<C, E, F>(
    conn: C,
    shutdown: F,
    activity: Arc<connection::Activity>,
    permit: OwnedSemaphorePermit,
    worker: &Worker,
    open: mpsc::Sender<()>,
) where
    C: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
    F: Fn(std::pin::Pin<&mut C>) + Unpin + Send + 'static,
{
    let t = &worker.state.config.timeouts;
    let limits = connection::IdleLimits {
        first_request: t.client_header_read,
        between_requests: t.idle_keepalive,
    };
    let stopped = worker.stopped.clone();
    let conn = connection::Guarded::new(conn, shutdown, activity, limits, stopped, open);
    tokio::spawn(async move {
        if let Err(error) = conn.await {
            tracing::debug!(%error, "connection ended with an error");
        }
        drop(permit);
    });
}

/// Over the connection limit: a short 503 instead of an unbounded queue.
async fn over_capacity(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
    let body = r#"{"error":"overloaded","message":"Too many connections; try again shortly."}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
