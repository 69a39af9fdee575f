//! `cognito-sidecar mock-cognito`: run the mock pool from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{guide, MockCognito, MockConfig};

/// The demo pool as a commented file to start from (`--print-config`).
pub const EXAMPLE_CONFIG: &str = include_str!("../pool.example.toml");

/// `--help`'s account of the users/clients file.
pub const CONFIG_HELP: &str = "\
The pool file (--config FILE, TOML; JSON when the name ends in .json):
  region, pool_id, issuer, id_token_ttl_secs, access_token_ttl_secs,
  allow_http_loopback_ip, omit_state_on_error, omit_end_session_endpoint
  [[clients]]  client_id, client_secret (leave out for a public client),
               callback_urls, logout_urls, scopes, allow_code_flow,
               allow_implicit_flow, refresh_rotation
  [[users]]    username, password, sub, email, email_verified, name,
               given_name, family_name, groups, custom = { key = \"value\" },
               identity_provider (a federated user)
Unknown keys are errors. `cognito-sidecar mock-cognito --print-config > pool.toml`
writes the built-in demo pool, commented, as a file to start from.

On start it prints the client id and secret, the users and their passwords,
and a sidecar command line to paste. The sidecar's default sign-out URL
(/oauth2/signed_out next to each registered .../oauth2/callback) is allowed
as a sign-out URL, so sign-out works without registering it.";

#[derive(Debug, Clone, clap::Args)]
pub struct MockArgs {
    /// Address of the mock's hosted domain and issuer endpoints.
    #[arg(long, default_value = "127.0.0.1:9229")]
    pub listen: SocketAddr,
    /// Users and app clients (TOML, or JSON when the name ends in .json);
    /// default: the demo pool. See below for the format.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the demo pool as a commented TOML file to start from, and exit.
    #[arg(long)]
    pub print_config: bool,
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
    /// Where the sidecar you will run is reached, e.g. http://localhost:4180:
    /// its /oauth2/callback is registered and the printed command uses it.
    /// [default: the first client's first callback URL]
    #[arg(long, value_name = "URL")]
    pub sidecar_url: Option<url::Url>,
    /// The app behind that sidecar, for the printed command only.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub sidecar_upstream: String,
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
        let sidecar_callback = self.sidecar_url.as_ref().map(guide::callback_of);
        for client in &mut config.clients {
            client
                .callback_urls
                .extend(self.callback_urls.iter().cloned());
            if let Some(cb) = &sidecar_callback {
                if !client.callback_urls.contains(cb) {
                    client.callback_urls.push(cb.clone());
                }
            }
            client.logout_urls.extend(self.logout_urls.iter().cloned());
            guide::allow_default_sign_out(client);
        }
        config.validate()?;
        Ok(config)
    }
}

/// Starts the mock, prints how to point a sidecar at it, and serves until Ctrl-C.
pub async fn run(args: MockArgs) -> anyhow::Result<()> {
    if args.print_config {
        print!("{EXAMPLE_CONFIG}");
        return Ok(());
    }
    let config = args.to_config()?;
    let handle = MockCognito::start(config.clone(), args.listen).await?;
    print!("{}", guide::describe(&handle, &config, &args));
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

    #[test]
    fn the_sidecars_default_sign_out_url_is_allowed_next_to_each_callback() {
        let cli = Cli::parse_from(["x", "--sidecar-url", "http://localhost:5000"]);
        let config = cli.mock.to_config().unwrap();
        let client = &config.clients[0];
        assert!(client
            .callback_urls
            .contains(&"http://localhost:5000/oauth2/callback".to_string()));
        for url in [
            "http://localhost:4180/",
            "http://localhost:4180/oauth2/signed_out",
            "http://localhost:5000/oauth2/signed_out",
        ] {
            assert!(client.logout_urls.contains(&url.to_string()), "{url}");
        }
    }

    #[test]
    fn the_example_file_is_the_demo_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.toml");
        std::fs::write(&path, EXAMPLE_CONFIG).unwrap();
        let file = MockConfig::from_file(&path).unwrap();
        let demo = MockConfig::demo();
        assert_eq!(format!("{:?}", file.clients), format!("{:?}", demo.clients));
        let users = |c: &MockConfig| -> Vec<String> {
            c.users
                .iter()
                .map(|u| format!("{u:?} {} {:?}", u.password, u.custom))
                .collect()
        };
        assert_eq!(users(&file), users(&demo));
        assert!(CONFIG_HELP.contains("--print-config"));
    }
}
