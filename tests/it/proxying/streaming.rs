//! Bodies stream with back-pressure: 50 MB up or down in bounded memory, and
//! a client that does not read holds the upstream back.

use super::*;

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 800;
const FIFTY_MB: u64 = (CHUNK * CHUNKS) as u64;

/// Transfers that measure memory run one at a time.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The resident memory of this process (sidecar included), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// How much more than `before` the resident memory reached while `work` ran,
/// sampled every 5 ms, so a buffer freed at the end is still seen.
async fn peak_growth<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = resident_bytes();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(resident_bytes(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let out = timeout(Duration::from_secs(120), work)
        .await
        .expect("the transfer finishes");
    sampler.abort();
    let peak = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(resident_bytes());
    (out, peak.saturating_sub(before))
}

/// An upstream that counts an uploaded body (`POST /upload`, reporting its
/// first bytes on `first`) or streams 50 MB of generated chunks (`GET /download`,
/// counting the bytes it has produced so far).
async fn streaming_upstream(
    first: tokio::sync::mpsc::Sender<()>,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let produced = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = produced.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (first, counter) = (first.clone(), counter.clone());
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (first, counter) = (first.clone(), counter.clone());
                    async move {
                        if req.uri().path() == "/download" {
                            let chunk = bytes::Bytes::from(vec![b'd'; CHUNK]);
                            let frames = futures_util::stream::iter((0..CHUNKS).map(move |_| {
                                counter
                                    .fetch_add(CHUNK as u64, std::sync::atomic::Ordering::SeqCst);
                                Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))
                            }));
                            return Ok::<_, hyper::Error>(http::Response::new(
                                StreamBody::new(frames).boxed(),
                            ));
                        }
                        let mut body = req.into_body();
                        let mut received = 0u64;
                        while let Some(frame) = body.frame().await {
                            if let Ok(data) = frame?.into_data() {
                                if received == 0 && !data.is_empty() {
                                    let _ = first.try_send(());
                                }
                                received += data.len() as u64;
                            }
                        }
                        let text = bytes::Bytes::from(received.to_string());
                        let frames = futures_util::stream::iter([Ok(Frame::data(text))]);
                        Ok(http::Response::new(StreamBody::new(frames).boxed()))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, produced)
}

type Frames = http_body_util::StreamBody<
    futures_util::stream::BoxStream<
        'static,
        Result<hyper::body::Frame<bytes::Bytes>, std::convert::Infallible>,
    >,
>;

/// 50 MB in chunks: one chunk, then a wait (at most 10 s) until the upstream
/// reports its first bytes (`early` says whether it did), then the rest.
fn upload_body(
    first: tokio::sync::mpsc::Receiver<()>,
    early: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Frames {
    use futures_util::StreamExt;
    let chunk = bytes::Bytes::from(vec![b'u'; CHUNK]);
    let frames = futures_util::stream::unfold((0, Some(first)), move |(i, mut first)| {
        let (chunk, early) = (chunk.clone(), early.clone());
        async move {
            if i == CHUNKS {
                return None;
            }
            if let (1, Some(rx)) = (i, first.as_mut()) {
                let got = timeout(Duration::from_secs(10), rx.recv()).await;
                early.store(
                    matches!(got, Ok(Some(()))),
                    std::sync::atomic::Ordering::SeqCst,
                );
            }
            Some((Ok(hyper::body::Frame::data(chunk)), (i + 1, first)))
        }
    });
    http_body_util::StreamBody::new(frames.boxed())
}

#[tokio::test]
async fn a_50_mb_upload_streams_to_the_upstream_with_bounded_memory() {
    use http_body_util::BodyExt;
    let _serial = MEMORY.lock().await;
    let (first_tx, first_rx) = tokio::sync::mpsc::channel(1);
    let (upstream, _) = streaming_upstream(first_tx).await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let cookie = session_cookie(&stack).await;
    let addr = stack.sidecar.addr();
    let early = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let upload = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let req = http::Request::post("/upload")
            .header("host", addr.to_string())
            .header("cookie", &cookie)
            .header("content-type", "application/octet-stream")
            .body(upload_body(first_rx, early.clone()))
            .unwrap();
        let r = sender.send_request(req).await.unwrap();
        let status = r.status();
        (status, r.into_body().collect().await.unwrap().to_bytes())
    };
    let ((status, body), grown) = peak_growth(upload).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        FIFTY_MB.to_string().as_bytes(),
        "bytes the upstream got"
    );
    assert!(
        early.load(std::sync::atomic::Ordering::SeqCst),
        "the upstream got the first bytes while the client was still sending"
    );
    assert!(grown < 20 << 20, "resident memory grew by {grown} bytes");
}

#[tokio::test]
async fn a_50_mb_download_streams_to_the_client_with_bounded_memory() {
    let _serial = MEMORY.lock().await;
    let (first_tx, _first_rx) = tokio::sync::mpsc::channel(1);
    let (upstream, _) = streaming_upstream(first_tx).await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let cookie = session_cookie(&stack).await;
    let download = async {
        let mut r = plain_client()
            .get(stack.url("/download"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (mut total, mut chunks) = (0u64, 0u64);
        while let Some(chunk) = r.chunk().await.unwrap() {
            assert!(chunk.iter().all(|&b| b == b'd'), "the upstream's bytes");
            total += chunk.len() as u64;
            chunks += 1;
        }
        (total, chunks)
    };
    let ((total, chunks), grown) = peak_growth(download).await;
    assert_eq!(total, FIFTY_MB);
    assert!(chunks > 100, "arrived in {chunks} chunks");
    assert!(grown < 20 << 20, "resident memory grew by {grown} bytes");
}

#[tokio::test]
async fn a_download_the_client_does_not_read_holds_the_upstream_back() {
    let (first_tx, _first_rx) = tokio::sync::mpsc::channel(1);
    let (upstream, produced) = streaming_upstream(first_tx).await;
    let stack = Stack::builder()
        .with(|s| s.upstream = Some(format!("http://{upstream}")))
        .start()
        .await;
    let mut r = plain_client()
        .get(stack.url("/download"))
        .header("cookie", session_cookie(&stack).await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut total = r.chunk().await.unwrap().unwrap().len() as u64;
    // Buffers fill within this; without back-pressure all 50 MB would be produced.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held_back = produced.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        held_back < FIFTY_MB / 2,
        "the upstream wrote {held_back} bytes while the client read nothing"
    );
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
    }
    assert_eq!(total, FIFTY_MB);
}
