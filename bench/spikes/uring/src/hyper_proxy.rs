//! Mode `hyper` (and its tokio control): hyper 1's HTTP/1 server in front,
//! hyper's `client::conn::http1` behind, with a per-thread keep-alive pool
//! shaped like the sidecar's (src/proxy/pool.rs): a stack of idle senders,
//! a connection given back once its response body has been read to the end.

use std::cell::RefCell;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self as client, SendRequest};
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;

use crate::rt::{HEADER_READ_TIMEOUT, Runtime};

/// Idle upstream connections kept per thread (the sidecar's number).
const MAX_IDLE: usize = 512;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = Either<GivesBack, Full<Bytes>>;

/// One thread's proxy: its server settings and its upstream pool.
pub struct Proxy<R: Runtime> {
    builder: Rc<server::Builder>,
    pool: Rc<Pool<R>>,
}

impl<R: Runtime> Proxy<R> {
    pub fn new(upstream: SocketAddr) -> Self {
        let mut builder = server::Builder::new();
        builder
            .timer(R::timer())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true);
        Self {
            builder: Rc::new(builder),
            pool: Rc::new(Pool {
                upstream,
                idle: RefCell::new(Vec::new()),
                runtime: PhantomData,
            }),
        }
    }

    /// Serves one accepted connection on a task of its own.
    pub fn serve(&self, io: R::Io, peer: SocketAddr) {
        let builder = self.builder.clone();
        let pool = self.pool.clone();
        R::spawn(async move {
            let service = service_fn(move |request| handle(pool.clone(), peer, request));
            let _ = builder.serve_connection(io, service).await;
        });
    }
}

async fn handle<R: Runtime>(
    pool: Rc<Pool<R>>,
    peer: SocketAddr,
    mut request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    forwarded_headers(request.headers_mut(), peer);
    match pool.send(request).await {
        Ok(mut response) => {
            strip_hop_by_hop(response.headers_mut());
            Ok(response.map(Either::Left))
        }
        Err(_) => {
            let mut response = Response::new(Either::Right(Full::from("upstream unreachable\n")));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            Ok(response)
        }
    }
}

/// What nginx's row 2 sets: hop-by-hop headers out, X-Forwarded-* in.
fn forwarded_headers(headers: &mut HeaderMap, peer: SocketAddr) {
    strip_hop_by_hop(headers);
    let host = headers.get(header::HOST).cloned();
    if let Ok(ip) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), ip);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    if let Some(host) = host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// One thread's keep-alive connections to the upstream.
struct Pool<R> {
    upstream: SocketAddr,
    idle: RefCell<Vec<SendRequest<Incoming>>>,
    runtime: PhantomData<R>,
}

trait GiveBack {
    fn put(&self, sender: SendRequest<Incoming>);
}

impl<R: Runtime> GiveBack for Pool<R> {
    fn put(&self, sender: SendRequest<Incoming>) {
        let mut idle = self.idle.borrow_mut();
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

impl<R: Runtime> Pool<R> {
    /// Sends on the most recently used idle connection, or a new one; a
    /// request that an idle connection closed before writing is sent again.
    async fn send(
        self: &Rc<Self>,
        mut request: Request<Incoming>,
    ) -> Result<Response<GivesBack>, BoxError> {
        while let Some(mut sender) = self.checkout().await {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.returning(sender, response)),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(failed.into_error().into()),
                },
            }
        }
        let mut sender = self.connect().await?;
        let response = sender.send_request(request).await?;
        Ok(self.returning(sender, response))
    }

    async fn checkout(&self) -> Option<SendRequest<Incoming>> {
        loop {
            let mut sender = self.idle.borrow_mut().pop()?;
            if sender.is_closed() {
                continue;
            }
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Incoming>, BoxError> {
        let io = R::connect(self.upstream).await?;
        let (sender, connection) = client::handshake(io).await?;
        R::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn returning(
        self: &Rc<Self>,
        sender: SendRequest<Incoming>,
        response: Response<Incoming>,
    ) -> Response<GivesBack> {
        let keep = response.status() != StatusCode::SWITCHING_PROTOCOLS;
        let pool: Rc<dyn GiveBack> = self.clone();
        response.map(|body| {
            let mut body = GivesBack {
                body,
                sender: keep.then(|| (sender, Rc::downgrade(&pool))),
            };
            if body.body.is_end_stream() {
                body.give_back();
            }
            body
        })
    }
}

/// A response body that returns its connection to the pool at its end.
pub struct GivesBack {
    body: Incoming,
    sender: Option<(SendRequest<Incoming>, Weak<dyn GiveBack>)>,
}

impl GivesBack {
    fn give_back(&mut self) {
        if let Some((sender, pool)) = self.sender.take()
            && let Some(pool) = pool.upgrade()
        {
            pool.put(sender);
        }
    }
}

impl Body for GivesBack {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.give_back(),
            Poll::Ready(Some(Err(_))) => this.sender = None,
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
