//! The two runtimes under the same proxy code: one single-threaded runtime
//! per worker thread, each with its own SO_REUSEPORT listener, so a
//! connection and its upstream connections never change threads.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::{Args, Mode, hyper_proxy, raw_proxy};

/// How long a client may take to send a request head (the sidecar sets one too:
/// hyper then arms a timer per request, a cost the comparison should include).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the generic hyper proxy needs from a runtime.
pub trait Runtime: 'static {
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + 'static;
    type Timer: hyper::rt::Timer + Send + Sync + Clone + 'static;
    fn timer() -> Self::Timer;
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Io>>;
    fn spawn(future: impl Future<Output = ()> + 'static);
}

/// compio with cyper-core's hyper adapter (compio's own HTTP story).
pub struct Compio;

impl Runtime for Compio {
    type Io = cyper_core::HyperStream<compio::net::TcpStream>;
    type Timer = cyper_core::CompioTimer;

    fn timer() -> Self::Timer {
        cyper_core::CompioTimer
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Io> {
        Ok(cyper_core::HyperStream::new_plain(
            connect_compio(addr).await?,
        ))
    }

    fn spawn(future: impl Future<Output = ()> + 'static) {
        compio::runtime::spawn(future).detach();
    }
}

/// compio with [`UringIo`], an adapter that skips cyper-core's zeroing of
/// hyper's read buffer before every read (6% of the CPU in a profile).
pub struct CompioOwn;

impl Runtime for CompioOwn {
    type Io = UringIo;
    type Timer = cyper_core::CompioTimer;

    fn timer() -> Self::Timer {
        cyper_core::CompioTimer
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Io> {
        Ok(UringIo::new(connect_compio(addr).await?))
    }

    fn spawn(future: impl Future<Output = ()> + 'static) {
        compio::runtime::spawn(future).detach();
    }
}

async fn connect_compio(addr: SocketAddr) -> io::Result<compio::net::TcpStream> {
    let stream = compio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// hyper's poll-based I/O traits over compio's completion-based stream,
/// through compio's own buffering bridge (`compat::AsyncStream`: every read
/// lands in its buffer and is copied into hyper's).
pub struct UringIo(Pin<Box<compio::io::compat::AsyncStream<compio::net::TcpStream>>>);

impl UringIo {
    pub fn new(stream: compio::net::TcpStream) -> Self {
        Self(Box::pin(compio::io::compat::AsyncStream::new(stream)))
    }
}

impl hyper::rt::Read for UringIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: poll_read_uninit only writes into the slice and returns how
        // many bytes it initialised, which is what advance() requires.
        let read = ready!(
            self.0
                .as_mut()
                .poll_read_uninit(cx, unsafe { buf.as_mut() })
        )?;
        unsafe { buf.advance(read) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for UringIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(self.0.as_mut(), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(self.0.as_mut(), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(self.0.as_mut(), cx)
    }
}

pub struct Tokio;

impl Runtime for Tokio {
    type Io = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
    type Timer = hyper_util::rt::TokioTimer;

    fn timer() -> Self::Timer {
        hyper_util::rt::TokioTimer::new()
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Io> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(hyper_util::rt::TokioIo::new(stream))
    }

    fn spawn(future: impl Future<Output = ()> + 'static) {
        tokio::task::spawn_local(future);
    }
}

/// Runs one worker thread until its accept loop fails.
pub fn worker(index: usize, args: Args) -> io::Result<()> {
    match args.mode {
        Mode::Hyper | Mode::HyperOwn | Mode::Raw => {
            let mut proactor = compio::driver::ProactorBuilder::new();
            if args.tuned {
                proactor
                    .single_issuer(true)
                    .defer_taskrun(true)
                    .coop_taskrun(true);
            }
            let runtime = compio::runtime::RuntimeBuilder::new()
                .with_proactor(proactor)
                .build()?;
            if index == 0 {
                eprintln!(
                    "compio driver: {:?}, setup tuned: {}",
                    runtime.driver_type(),
                    args.tuned
                );
            }
            runtime.block_on(async {
                let listener = compio_listener(args.listen).await?;
                match args.mode {
                    Mode::Raw => serve_compio_raw(listener, args.upstream).await,
                    Mode::HyperOwn => serve_compio_hyper_own(listener, args.upstream).await,
                    _ => serve_compio_hyper(listener, args.upstream).await,
                }
            })
        }
        Mode::TokioHyper | Mode::TokioRaw => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, serve_tokio(args))
        }
    }
}

async fn compio_listener(addr: SocketAddr) -> io::Result<compio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        compio::net::TcpSocket::new_v4().await?
    } else {
        compio::net::TcpSocket::new_v6().await?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr).await?;
    socket.listen(1024).await
}

async fn serve_compio_hyper(
    listener: compio::net::TcpListener,
    upstream: SocketAddr,
) -> io::Result<()> {
    let proxy = hyper_proxy::Proxy::<Compio>::new(upstream);
    loop {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        proxy.serve(cyper_core::HyperStream::new_plain(stream), peer);
    }
}

async fn serve_compio_hyper_own(
    listener: compio::net::TcpListener,
    upstream: SocketAddr,
) -> io::Result<()> {
    let proxy = hyper_proxy::Proxy::<CompioOwn>::new(upstream);
    loop {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        proxy.serve(UringIo::new(stream), peer);
    }
}

async fn serve_compio_raw(
    listener: compio::net::TcpListener,
    upstream: SocketAddr,
) -> io::Result<()> {
    let pool = raw_proxy::Pool::default();
    loop {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let pool = pool.clone();
        Compio::spawn(async move {
            let _ = raw_proxy::connection(stream, peer, upstream, pool).await;
        });
    }
}

async fn serve_tokio(args: Args) -> io::Result<()> {
    let addr = args.listen;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    let proxy = hyper_proxy::Proxy::<Tokio>::new(args.upstream);
    let pool = raw_proxy::Pool::default();
    loop {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        if let Mode::TokioRaw = args.mode {
            let pool = pool.clone();
            let upstream = args.upstream;
            Tokio::spawn(async move {
                let _ = raw_proxy::connection(stream, peer, upstream, pool).await;
            });
        } else {
            proxy.serve(hyper_util::rt::TokioIo::new(stream), peer);
        }
    }
}
