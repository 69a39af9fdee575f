//! `cognito-sidecar`: parse arguments, load the config, run. Nothing else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cognito_sidecar::config::{Config, ProcessEnv, RunArgs, LAYERING_HELP};
use cognito_sidecar::{demo, healthcheck, mock, server, shutdown_signal};
use tracing_subscriber::EnvFilter;

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
    Demo(demo::DemoArgs),
    /// A local stand-in for a Cognito user pool's hosted login and OAuth2 endpoints.
    MockCognito(mock::cli::MockArgs),
    /// GET the sidecar's /ping: exit 0 on 200, else 1 (a HEALTHCHECK without curl).
    Healthcheck(healthcheck::HealthcheckArgs),
}

fn init_tracing() {
    let filter = EnvFilter::try_from_env("SIDECAR_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::MockCognito(args)) => mock::cli::run(args).await,
        Some(Command::Healthcheck(args)) => healthcheck::run(args).await,
        None => match Config::load(&cli.run, &ProcessEnv) {
            Ok(config) => run(config).await,
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

async fn run(config: Config) -> anyhow::Result<()> {
    let running = server::start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    running.shutdown().await;
    Ok(())
}
