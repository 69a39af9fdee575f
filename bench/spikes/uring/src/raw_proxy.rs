//! Modes `raw` and `tokio-raw`: the smallest correct HTTP/1.1 keep-alive
//! proxy loop, httparse for requests and responses, bodies with
//! Content-Length only (chunked requests get 501, other responses 502), on
//! compio's io_uring driver or (the control) on tokio's epoll reactor. It is
//! the ceiling of the I/O layer, not product code: no streaming (bodies are
//! buffered, up to MAX_BODY), no upgrades, no 1xx.

use std::cell::RefCell;
use std::io;
use std::io::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;

use compio::buf::BufResult;

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1 << 20;
const MAX_HEADERS: usize = 64;
const MAX_IDLE: usize = 512;
const READ_CHUNK: usize = 8 * 1024;

/// Request headers a proxy does not pass on (ours are set again).
const DROP_REQUEST: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];
const DROP_RESPONSE: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One thread's idle upstream connections.
pub type Pool<S> = Rc<RefCell<Vec<S>>>;

/// A TCP stream of either runtime, with owned buffers in and out (what
/// io_uring needs) for both.
pub trait Stream: Sized + 'static {
    async fn connect(addr: SocketAddr) -> io::Result<Self>;
    /// Reads more at the end of `buf`; false at end of stream.
    async fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> io::Result<bool>;
    async fn send(&mut self, buf: &mut Vec<u8>) -> io::Result<()>;
}

impl Stream for compio::net::TcpStream {
    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = compio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
        use compio::io::AsyncReadExt;
        buf.reserve(want.max(READ_CHUNK));
        let BufResult(read, filled) = self.append(std::mem::take(buf)).await;
        *buf = filled;
        Ok(read? > 0)
    }

    async fn send(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        use compio::io::AsyncWriteExt;
        let BufResult(written, sent) = self.write_all(std::mem::take(buf)).await;
        *buf = sent;
        written
    }
}

impl Stream for tokio::net::TcpStream {
    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
        use tokio::io::AsyncReadExt;
        buf.reserve(want.max(READ_CHUNK));
        Ok(self.read_buf(buf).await? > 0)
    }

    async fn send(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.write_all(buf).await
    }
}

/// A connection's buffers, reused request after request.
#[derive(Default)]
struct Buffers {
    /// Bytes read from the client, possibly past the current request.
    inbound: Vec<u8>,
    /// The request as sent upstream.
    upstream_request: Vec<u8>,
    /// Bytes read from the upstream.
    upstream_response: Vec<u8>,
    /// The response as sent to the client.
    reply: Vec<u8>,
}

/// What the proxy needs to know of a parsed request.
struct RequestHead {
    head_len: usize,
    body_len: usize,
    close: bool,
    is_head: bool,
}

enum Failure {
    /// Nothing came back on a pooled connection: it had closed while idle.
    Retry,
    Fatal,
}

/// Serves one client connection until it closes.
pub async fn connection<S: Stream>(
    mut client: S,
    peer: SocketAddr,
    upstream: SocketAddr,
    pool: Pool<S>,
) -> io::Result<()> {
    let peer_ip = peer.ip().to_string();
    let mut bufs = Buffers::default();
    loop {
        let head = loop {
            match parse_request(&bufs.inbound, &mut bufs.upstream_request, &peer_ip) {
                Ok(Some(head)) => break head,
                Ok(None) if bufs.inbound.len() >= MAX_HEAD => {
                    return refuse(&mut client, "431 Request Header Fields Too Large").await;
                }
                Ok(None) => {
                    if !client.fill(&mut bufs.inbound, READ_CHUNK).await? {
                        return Ok(());
                    }
                }
                Err(status) => return refuse(&mut client, status).await,
            }
        };
        let total = head.head_len + head.body_len;
        if head.body_len > MAX_BODY {
            return refuse(&mut client, "413 Content Too Large").await;
        }
        while bufs.inbound.len() < total {
            let want = total - bufs.inbound.len();
            if !client.fill(&mut bufs.inbound, want).await? {
                return Ok(());
            }
        }
        bufs.upstream_request
            .extend_from_slice(&bufs.inbound[head.head_len..total]);
        bufs.inbound.drain(..total);

        if exchange(&pool, upstream, &mut bufs, &head).await.is_err() {
            return refuse(&mut client, "502 Bad Gateway").await;
        }
        client.send(&mut bufs.reply).await?;
        if head.close {
            return Ok(());
        }
    }
}

async fn refuse<S: Stream>(client: &mut S, status: &'static str) -> io::Result<()> {
    let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    client.send(&mut reply.into_bytes()).await
}

/// On a complete head, writes the upstream's request head into `out`.
fn parse_request(
    buf: &[u8],
    out: &mut Vec<u8>,
    peer_ip: &str,
) -> Result<Option<RequestHead>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err("431 Request Header Fields Too Large"),
        Err(_) => return Err("400 Bad Request"),
    };
    let (Some(method), Some(path), Some(version)) = (request.method, request.path, request.version)
    else {
        return Err("400 Bad Request");
    };
    let connection = Connection::of(request.headers);
    let mut body_len: Option<usize> = None;
    let mut host = None;
    out.clear();
    let _ = write!(out, "{method} {path} HTTP/1.1\r\n");
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("501 Not Implemented");
        }
        if name.eq_ignore_ascii_case("content-length") {
            let len = content_length(header.value).ok_or("400 Bad Request")?;
            if body_len.is_some_and(|seen| seen != len) {
                return Err("400 Bad Request");
            }
            body_len = Some(len);
        }
        if name.eq_ignore_ascii_case("host") {
            host = Some(header.value);
        }
        if DROP_REQUEST.iter().any(|d| name.eq_ignore_ascii_case(d)) || connection.names(name) {
            continue;
        }
        push_header(out, name.as_bytes(), header.value);
    }
    push_header(out, b"x-forwarded-for", peer_ip.as_bytes());
    push_header(out, b"x-forwarded-proto", b"http");
    if let Some(host) = host {
        push_header(out, b"x-forwarded-host", host);
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(RequestHead {
        head_len,
        body_len: body_len.unwrap_or(0),
        close: connection.close || (version == 0 && !connection.keep_alive),
        is_head: method == "HEAD",
    }))
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The Connection header's tokens: close, keep-alive, and the headers it names.
struct Connection<'a> {
    close: bool,
    keep_alive: bool,
    values: Vec<&'a [u8]>,
}

impl<'a> Connection<'a> {
    fn of(headers: &[httparse::Header<'a>]) -> Self {
        let mut this = Connection {
            close: false,
            keep_alive: false,
            values: Vec::new(),
        };
        for header in headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        {
            for token in header.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    this.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    this.keep_alive = true;
                } else if !token.is_empty() {
                    this.values.push(token);
                }
            }
        }
        this
    }

    fn names(&self, header: &str) -> bool {
        self.values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(header.as_bytes()))
    }
}

/// Sends `bufs.upstream_request` on a pooled connection (or a new one) and
/// leaves the client's response in `bufs.reply`.
async fn exchange<S: Stream>(
    pool: &Pool<S>,
    upstream: SocketAddr,
    bufs: &mut Buffers,
    request: &RequestHead,
) -> io::Result<()> {
    loop {
        let pooled = pool.borrow_mut().pop();
        let fresh = pooled.is_none();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => S::connect(upstream).await?,
        };
        match round_trip(&mut conn, bufs, request).await {
            Ok(reusable) => {
                let mut idle = pool.borrow_mut();
                if reusable && idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
                return Ok(());
            }
            Err(Failure::Retry) if !fresh => continue,
            Err(_) => return Err(io::Error::other("upstream exchange failed")),
        }
    }
}

/// One request and response on `conn`; Ok(whether it can be reused).
async fn round_trip<S: Stream>(
    conn: &mut S,
    bufs: &mut Buffers,
    request: &RequestHead,
) -> Result<bool, Failure> {
    if conn.send(&mut bufs.upstream_request).await.is_err() {
        return Err(Failure::Retry);
    }
    bufs.upstream_response.clear();
    let (head_len, body_len, keep) = loop {
        match parse_response(&bufs.upstream_response, &mut bufs.reply, request) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) if bufs.upstream_response.len() < MAX_HEAD => {}
            _ => return Err(Failure::Fatal),
        }
        let nothing_yet = bufs.upstream_response.is_empty();
        match conn.fill(&mut bufs.upstream_response, READ_CHUNK).await {
            Ok(true) => {}
            _ if nothing_yet => return Err(Failure::Retry),
            _ => return Err(Failure::Fatal),
        }
    };
    if body_len > MAX_BODY {
        return Err(Failure::Fatal);
    }
    let total = head_len + body_len;
    while bufs.upstream_response.len() < total {
        let want = total - bufs.upstream_response.len();
        if !matches!(conn.fill(&mut bufs.upstream_response, want).await, Ok(true)) {
            return Err(Failure::Fatal);
        }
    }
    bufs.reply
        .extend_from_slice(&bufs.upstream_response[head_len..total]);
    Ok(keep && bufs.upstream_response.len() == total)
}

/// On a complete head, writes the client's response head into `out`;
/// returns (head length, body length, upstream keeps the connection).
fn parse_response(
    buf: &[u8],
    out: &mut Vec<u8>,
    request: &RequestHead,
) -> Result<Option<(usize, usize, bool)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let (Some(code), Some(version)) = (response.code, response.version) else {
        return Err(());
    };
    if code < 200 {
        return Err(());
    }
    let connection = Connection::of(response.headers);
    let mut body_len = None;
    out.clear();
    let _ = write!(out, "HTTP/1.1 {code} {}\r\n", response.reason.unwrap_or(""));
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(());
        }
        if name.eq_ignore_ascii_case("content-length") {
            body_len = Some(content_length(header.value).ok_or(())?);
        }
        if DROP_RESPONSE.iter().any(|d| name.eq_ignore_ascii_case(d)) || connection.names(name) {
            continue;
        }
        push_header(out, name.as_bytes(), header.value);
    }
    if request.close {
        push_header(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    let body_len = if request.is_head || code == 204 || code == 304 {
        0
    } else {
        body_len.ok_or(())?
    };
    let keep = !connection.close && (version == 1 || connection.keep_alive);
    Ok(Some((head_len, body_len, keep)))
}
