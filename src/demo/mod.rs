//! `cognito-sidecar demo`: the mock Cognito, a demo app and the real sidecar
//! in one process, so a newcomer sees the whole sign-in with no AWS account.

pub mod app;

use std::net::SocketAddr;

use crate::config::{Config, MapSource, RunArgs};
use crate::mock::{MockCognito, MockConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use crate::secret::random_token;

#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Port of the sidecar on localhost (127.0.0.1 and ::1).
    #[arg(long, default_value_t = 4180)]
    pub port: u16,
}

/// The sidecar's settings for the demo, through the real config loader.
fn sidecar_config(
    port: u16,
    mock: &crate::mock::MockHandle,
    upstream: SocketAddr,
) -> anyhow::Result<Config> {
    let origin = format!("http://localhost:{port}");
    let env = MapSource::new([
        ("SIDECAR_LISTEN", format!("127.0.0.1:{port},[::1]:{port}")),
        ("SIDECAR_UPSTREAM", format!("http://{upstream}")),
        ("SIDECAR_ISSUER_URL", mock.issuer()),
        ("SIDECAR_DISCOVERY_URL", mock.discovery_url()),
        ("SIDECAR_PROVIDER", "cognito".into()),
        ("SIDECAR_CLIENT_ID", DEMO_CLIENT_ID.into()),
        ("SIDECAR_CLIENT_SECRET", DEMO_CLIENT_SECRET.into()),
        ("SIDECAR_REDIRECT_URL", format!("{origin}/oauth2/callback")),
        (
            "SIDECAR_SIGN_OUT_URL",
            format!("{origin}/oauth2/signed_out"),
        ),
        ("SIDECAR_COOKIE_SECRET", random_token(32).expose().clone()),
        ("SIDECAR_COOKIE_SECURE", "false".into()),
    ]);
    Config::load(&RunArgs::default(), &env).map_err(|e| anyhow::anyhow!("demo configuration: {e}"))
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let origin = format!("http://localhost:{}", args.port);
    let mut pool = MockConfig::demo();
    for client in &mut pool.clients {
        client.callback_urls = vec![format!("{origin}/oauth2/callback")];
        client.logout_urls = vec![format!("{origin}/oauth2/signed_out")];
    }
    let mock = MockCognito::start(pool, "127.0.0.1:0".parse()?).await?;
    let upstream = app::spawn().await?;
    let sidecar = crate::server::start(sidecar_config(args.port, &mock, upstream)?).await?;
    println!("\n  cognito-sidecar demo is running.\n");
    println!("  Open        {origin}/hello?from=demo");
    println!("  Sign in as  alice / alice-password   (verified email, two groups, non-ASCII name)");
    println!("          or  bob / bob-password       (unverified email: X-User-Email is not sent)");
    println!(
        "\n  mock Cognito  {}   demo app  http://{upstream}   (Ctrl-C stops)\n",
        mock.base_url()
    );
    crate::shutdown_signal().await;
    sidecar.shutdown().await;
    Ok(())
}
