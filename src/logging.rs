//! Log output: one writer thread behind a bounded queue, so a stalled log
//! destination (a full pipe, a slow disk) never stalls a request. When the
//! queue is full, lines are dropped and counted (`sidecar_log_lines_dropped_total`).

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines the queue holds before new ones are dropped: about 50 MB of access
/// lines, seconds of a busy sidecar's output.
pub const QUEUE_LINES: usize = 128_000;

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Installs the global subscriber: level from `SIDECAR_LOG` (default `info`),
/// lines to stdout through the non-blocking queue, colours only on a terminal. Keep the guard until exit:
/// dropping it flushes what is queued.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUE_LINES)
        .thread_name("log-writer")
        .finish(std::io::stdout());
    let _ = DROPPED.set(writer.error_counter());
    let filter = EnvFilter::try_from_env("SIDECAR_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stdout().is_terminal());
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.with_target(false).init(),
    }
    guard
}

/// Lines dropped because the queue was full, since start.
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}
