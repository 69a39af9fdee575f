//! One single-threaded runtime per worker thread (one per core by default).
//!
//! Every worker accepts from every listener and serves what it accepted start
//! to end, with an upstream connection pool of its own, so a request, its
//! connection and its upstream connection never change threads. On a small
//! VM a wake-up across threads costs more than proxying a request, which made
//! tokio's shared work-stealing pool the most expensive part of the hot path
//! (see `bench/results.md`). Background work (provider loaders, the TLS
//! reloader, `/metrics`) stays on the runtime that called [`spawn`].

use std::future::Future;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The running workers; [`Workers::join`] waits until each has drained.
pub(super) struct Workers {
    done: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Waits until every worker's serve future has returned and its runtime
    /// (with any task still left on it) is gone.
    pub(super) async fn join(self) {
        for done in self.done {
            let _ = done.await;
        }
    }
}

/// Starts `count` worker threads. Each gets its own handle on every listener
/// (the same sockets, so pre-bound test listeners work) and runs
/// `serve(index, listeners)` until it returns.
pub(super) fn spawn<F, Fut>(
    count: usize,
    listeners: Vec<std::net::TcpListener>,
    serve: F,
) -> std::io::Result<Workers>
where
    F: Fn(usize, Vec<TcpListener>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let mut done = Vec::with_capacity(count);
    for index in 0..count {
        let own: Vec<std::net::TcpListener> = listeners
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect::<Result<_, _>>()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (finished, finished_rx) = oneshot::channel();
        let serve = serve.clone();
        std::thread::Builder::new()
            // Linux keeps 15 bytes of a thread name: short enough for `top -H` to tell them apart.
            .name(format!("sidecar-w{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match own.into_iter().map(TcpListener::from_std).collect() {
                        Ok(listeners) => serve(index, listeners).await,
                        Err(error) => tracing::error!(%error, "worker cannot listen"),
                    }
                });
                drop(runtime);
                let _ = finished.send(());
            })?;
        done.push(finished_rx);
    }
    Ok(Workers { done })
}
