//! A plain reverse proxy on an io_uring runtime (compio), thread per core,
//! for `bench/py/bench.py --spike` (see README.md). Modes: `hyper` (hyper 1
//! server and client on compio, cyper-core's adapter), `hyper-own` (the same
//! with an adapter that does not zero hyper's read buffer), `raw` (an httparse loop on compio:
//! the I/O layer's ceiling), and their controls `tokio-hyper` and
//! `tokio-raw` (the same code on tokio current-thread runtimes), which
//! isolate what the runtime changes.

mod hyper_proxy;
mod raw_proxy;
mod rt;

use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Hyper,
    HyperOwn,
    Raw,
    TokioHyper,
    TokioRaw,
}

#[derive(Clone, Copy, Debug)]
struct Args {
    listen: SocketAddr,
    upstream: SocketAddr,
    mode: Mode,
    threads: usize,
    /// io_uring set up for one thread per ring: SINGLE_ISSUER, DEFER_TASKRUN
    /// and COOP_TASKRUN (completion work runs when the thread waits, not as
    /// an interrupting task_work). compio leaves these off by default.
    tuned: bool,
}

const USAGE: &str = "usage: uring-spike --listen ADDR:PORT --upstream ADDR:PORT \
                     [--mode hyper|hyper-own|raw|tokio-hyper|tokio-raw] [--threads N] [--uring-setup default|tuned]";

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut upstream = None;
    let mut mode = Mode::Hyper;
    let mut threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut tuned = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| format!("--listen: {e}"))?),
            "--upstream" => upstream = Some(value.parse().map_err(|e| format!("--upstream: {e}"))?),
            "--threads" => threads = value.parse().map_err(|e| format!("--threads: {e}"))?,
            "--uring-setup" => {
                tuned = match value.as_str() {
                    "default" => false,
                    "tuned" => true,
                    other => return Err(format!("--uring-setup: unknown setup {other:?}")),
                }
            }
            "--mode" => {
                mode = match value.as_str() {
                    "hyper" => Mode::Hyper,
                    "hyper-own" => Mode::HyperOwn,
                    "raw" => Mode::Raw,
                    "tokio-hyper" => Mode::TokioHyper,
                    "tokio-raw" => Mode::TokioRaw,
                    other => return Err(format!("--mode: unknown mode {other:?}")),
                }
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        upstream: upstream.ok_or("--upstream is required")?,
        mode,
        threads: threads.max(1),
        tuned,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    let workers: Vec<_> = (0..args.threads)
        .map(|index| {
            std::thread::Builder::new()
                .name(format!("spike-worker-{index}"))
                .spawn(move || rt::worker(index, args))
        })
        .collect();
    let mut status = ExitCode::SUCCESS;
    for worker in workers {
        let result = match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("panicked"))),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            eprintln!("worker failed: {error}");
            status = ExitCode::FAILURE;
        }
    }
    status
}
