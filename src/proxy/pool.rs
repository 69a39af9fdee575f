//! Keep-alive HTTP/1.1 connections to the upstream, one pool per worker.
//!
//! Each worker thread has its own [`Pool`], so a connection's task runs on
//! the thread of the requests it carries. A pool is a stack of idle senders:
//! the most recently used connection goes first (it is the least likely to
//! have been closed by the app), and a connection returns to the stack only
//! once its response body has been read to the end. A request that could not
//! be written because its idle connection had just closed (app servers close
//! idle keep-alive connections early: gunicorn after 2 s) is sent again on
//! another connection, as hyper-util's pooled client does.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use tower_service::Service;

use super::tls::Connector;
use crate::body::{Body, BoxError};

/// Idle connections kept per worker; more are closed when they come back.
const MAX_IDLE: usize = 512;

/// Why a request got no response.
#[derive(Debug)]
pub(super) enum SendError {
    /// No connection could be made.
    Connect(BoxError),
    /// The connection failed while the request was sent or answered.
    Exchange(hyper::Error),
}

/// One worker's connections to the upstream.
pub(super) struct Pool {
    connector: Connector,
    /// scheme://authority of the upstream, what the connector dials.
    dial: Uri,
    idle_timeout: Duration,
    idle: Mutex<VecDeque<Idle>>,
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

impl Pool {
    pub(super) fn new(connector: Connector, dial: Uri, idle_timeout: Duration) -> Arc<Self> {
        let pool = Arc::new(Self {
            connector,
            dial,
            idle_timeout,
            idle: Mutex::new(VecDeque::new()),
        });
        // Closes connections idle too long even when no request comes to
        // notice; ends with the pool. Needs a runtime: pools made outside
        // one (unit tests) expire idle connections at checkout only.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reap(Arc::downgrade(&pool), idle_timeout));
        }
        pool
    }

    /// Sends `request` (origin-form target, `Host` set) on an idle connection
    /// or a new one; the response body gives the connection back when read.
    pub(super) async fn send(
        self: &Arc<Self>,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, SendError> {
        while let Some(mut sender) = self.checkout().await {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.returning(sender, response)),
                Err(mut failed) => match failed.take_message() {
                    // Never written: the connection closed while idle.
                    Some(unsent) => request = unsent,
                    None => return Err(SendError::Exchange(failed.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        match sender.send_request(request).await {
            Ok(response) => Ok(self.returning(sender, response)),
            Err(error) => Err(SendError::Exchange(error)),
        }
    }

    /// The most recently used idle connection that is still open.
    async fn checkout(&self) -> Option<SendRequest<Body>> {
        loop {
            let Idle { mut sender, since } = self.lock().pop_back()?;
            if since.elapsed() > self.idle_timeout || sender.is_closed() {
                continue;
            }
            // Given back at the body's end, a connection may not have been
            // polled back to idle yet; that takes one turn of its task.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Body>, SendError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(SendError::Connect)?;
        let io = connector
            .call(self.dial.clone())
            .await
            .map_err(SendError::Connect)?;
        let (sender, connection) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| SendError::Connect(e.into()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Wraps the body so that reading it to the end returns the connection.
    fn returning(
        self: &Arc<Self>,
        sender: SendRequest<Body>,
        response: Response<Incoming>,
    ) -> Response<Body> {
        // A switched connection belongs to the upgrade, never to the pool.
        let sender = (response.status() != StatusCode::SWITCHING_PROTOCOLS).then_some(sender);
        response.map(|body| {
            let mut body = GivesBack {
                body,
                sender: sender.map(|s| (s, Arc::downgrade(self))),
            };
            if body.body.is_end_stream() {
                body.give_back();
            }
            crate::body::boxed(body)
        })
    }

    fn put(&self, sender: SendRequest<Body>) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE && !sender.is_closed() {
            idle.push_back(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Drops connections idle longer than the timeout (the oldest are first).
    fn expire(&self) {
        let mut idle = self.lock();
        while idle
            .front()
            .is_some_and(|i| i.since.elapsed() > self.idle_timeout || i.sender.is_closed())
        {
            idle.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        // A panic elsewhere cannot leave a stack of senders inconsistent.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn reap(pool: Weak<Pool>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.expire(),
            None => return,
        }
    }
}

/// A response body that returns its connection to the pool once read to the end.
struct GivesBack {
    body: Incoming,
    sender: Option<(SendRequest<Body>, Weak<Pool>)>,
}

impl GivesBack {
    fn give_back(&mut self) {
        if let Some((sender, pool)) = self.sender.take() {
            if let Some(pool) = pool.upgrade() {
                pool.put(sender);
            }
        }
    }
}

impl HttpBody for GivesBack {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.give_back(),
            // A broken body: the connection is not reused (dropped with us).
            Poll::Ready(Some(Err(_))) => self.sender = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
