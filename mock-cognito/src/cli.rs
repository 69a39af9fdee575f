//! `cognito-sidecar mock-cognito`: run the mock pool from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{MockCognito, MockConfig, DEMO_CLIENT_ID};

#[derive(Debug, Clone, clap::Args)]
pub struct MockArgs {
    /// Address of the mock's hosted domain and issuer endpoints.
    #[arg(long, default_value = "127.0.0.1:9229")]
    pub listen: SocketAddr,
    /// Users and app clients (TOML, or JSON when the name ends in .json);
    /// default: the demo pool.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Token issuer; `{base_url}` is replaced by the mock's URL.
    /// Default: https://cognito-idp.{region}.amazonaws.com/{pool_id}.
    #[arg(long, conflicts_with = "local_issuer")]
    pub issuer: Option<String>,
    /// Put the issuer on the mock itself: {base_url}/{pool_id}.
    #[arg(long)]
    pub local_issuer: bool,
    /// Accept http://127.0.0.1 callback URLs (real Cognito accepts only http://localhost).
    #[arg(long)]
    pub allow_http_loopback_ip: bool,
    /// Leave end_session_endpoint out of discovery (pools before 2024).
    #[arg(long)]
    pub omit_end_session_endpoint: bool,
    /// Leave `state` off error redirects.
    #[arg(long)]
    pub omit_state_on_error: bool,
    /// Extra allowed callback URL for every app client (repeatable).
    #[arg(long = "callback-url", value_name = "URL")]
    pub callback_urls: Vec<String>,
    /// Extra allowed sign-out URL for every app client (repeatable).
    #[arg(long = "logout-url", value_name = "URL")]
    pub logout_urls: Vec<String>,
}

impl MockArgs {
    /// The pool these flags describe.
    pub fn to_config(&self) -> anyhow::Result<MockConfig> {
        let mut config = match &self.config {
            Some(path) => MockConfig::from_file(path)?,
            None => MockConfig::demo(),
        };
        if self.local_issuer {
            config = config.with_local_issuer();
        }
        if let Some(issuer) = &self.issuer {
            config.issuer = Some(issuer.clone());
        }
        config.allow_http_loopback_ip |= self.allow_http_loopback_ip;
        config.omit_end_session_endpoint |= self.omit_end_session_endpoint;
        config.omit_state_on_error |= self.omit_state_on_error;
        for client in &mut config.clients {
            client
                .callback_urls
                .extend(self.callback_urls.iter().cloned());
            client.logout_urls.extend(self.logout_urls.iter().cloned());
        }
        config.validate()?;
        Ok(config)
    }
}

/// Starts the mock, prints where it is, and serves until Ctrl-C.
pub async fn run(args: MockArgs) -> anyhow::Result<()> {
    let config = args.to_config()?;
    let clients: Vec<String> = config
        .clients
        .iter()
        .map(|c| {
            let kind = if c.client_secret.is_some() {
                "confidential"
            } else {
                "public"
            };
            format!(
                "{} ({kind}; callbacks: {})",
                c.client_id,
                c.callback_urls.join(", ")
            )
        })
        .collect();
    let users: Vec<String> = config.users.iter().map(|u| u.username.clone()).collect();
    let handle = MockCognito::start(config, args.listen).await?;
    println!("mock Cognito user pool {} is up", handle.pool_id());
    println!("  hosted domain: {}", handle.base_url());
    println!("  issuer:        {}", handle.issuer());
    println!("  discovery:     {}", handle.discovery_url());
    println!("  jwks:          {}", handle.jwks_url());
    println!("  app clients:   {}", clients.join("; "));
    println!("  users:         {}", users.join(", "));
    if args.config.is_none() {
        println!(
            "  demo pool: client {DEMO_CLIENT_ID} (secret: see MockConfig::demo), \
             sign in as alice / alice-password or bob / bob-password"
        );
    }
    tokio::signal::ctrl_c().await?;
    println!("shutting down");
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mock: MockArgs,
    }

    #[test]
    fn flags_shape_the_demo_pool() {
        let cli = Cli::parse_from([
            "x",
            "--local-issuer",
            "--allow-http-loopback-ip",
            "--callback-url",
            "http://127.0.0.1:4180/oauth2/callback",
        ]);
        assert_eq!(cli.mock.listen.port(), 9229);
        let config = cli.mock.to_config().unwrap();
        assert_eq!(
            config.issuer.as_deref(),
            Some("{base_url}/us-east-1_DemoPool1")
        );
        assert!(config.clients[0]
            .callback_urls
            .iter()
            .any(|u| u.starts_with("http://127.0.0.1")));
        let bad = Cli::parse_from(["x", "--callback-url", "http://127.0.0.1:1/cb"]);
        assert!(bad.mock.to_config().is_err());
    }
}
