//! `cognito-sidecar`: parse arguments, load the config, run. Nothing else.

// The `main` future nests the server's start-up futures deeply enough (with the
// bench-seed feature) to pass rustc's default layout query depth of 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cognito_sidecar::config::{Config, ProcessEnv, RunArgs, LAYERING_HELP};
use cognito_sidecar::{check, healthcheck, logging, server, shutdown_signal};
#[cfg(feature = "mock")]
use cognito_sidecar::{config::LogFormat, demo, mock};

/// mimalloc: per-thread free lists suit one runtime per worker thread, and
/// glibc's malloc and free were a tenth of the proxy's CPU (bench/results.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An authenticating reverse proxy: AWS Cognito (or any OpenID Connect) sign-in
/// in front of any web app.
#[derive(Parser)]
#[command(version, after_help = LAYERING_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Mock Cognito + demo app + the sidecar in front of it, on localhost.
    #[cfg(feature = "mock")]
    Demo(demo::DemoArgs),
    /// A local stand-in for a Cognito user pool's hosted login and OAuth2
    /// endpoints; prints the sidecar command line that uses it.
    #[cfg(feature = "mock")]
    #[command(after_help = mock::cli::CONFIG_HELP)]
    MockCognito(Box<mock::cli::MockArgs>),
    /// GET the sidecar's /ping: exit 0 on 200, else 1 (a HEALTHCHECK without curl).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Try the run configuration (same flags, environment and file) against the
    /// identity providers and the upstream: one line per check, naming the
    /// setting to change. Exit 0 when all are ok, 1 on any problem, 2 when a
    /// check could not tell.
    Check(Box<CheckArgs>),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "mock")]
        Some(Command::Demo(args)) => {
            let _log = logging::init(LogFormat::Pretty);
            demo::run(args).await
        }
        #[cfg(feature = "mock")]
        Some(Command::MockCognito(args)) => {
            let _log = logging::init(LogFormat::Pretty);
            mock::cli::run(*args).await
        }
        Some(Command::Healthcheck(args)) => healthcheck::run(args).await,
        Some(Command::Check(args)) => return check(*args).await,
        None => match Config::load(&cli.run, &ProcessEnv) {
            Ok(config) => {
                let _log = logging::init(config.log_format);
                for warning in &config.warnings {
                    tracing::warn!("{warning}");
                }
                run(config).await
            }
            Err(error) => {
                eprintln!("invalid configuration:\n{error}");
                return ExitCode::from(64);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cognito-sidecar: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `check`: the report on stdout, the verdict in the exit code (64: invalid configuration, as `run`).
async fn check(args: CheckArgs) -> ExitCode {
    let config = match Config::load(&args.run, &ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("invalid configuration:\n{error}");
            return ExitCode::from(64);
        }
    };
    let report = check::run(&config).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::from(report.exit_code())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let running = server::start(config).await?;
    // Bench builds only: mint sessions for bench/run.sh (see src/bench_seed.rs).
    #[cfg(feature = "bench-seed")]
    cognito_sidecar::bench_seed::from_env(running.state()).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    running.shutdown().await;
    Ok(())
}
