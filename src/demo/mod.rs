//! `cognito-sidecar demo`: the mock Cognito, a demo app and the real sidecar
//! in one process, so a newcomer sees the whole sign-in with no AWS account.

pub mod app;

use std::net::SocketAddr;

use tokio::net::TcpListener;

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
        ("SIDECAR_SKIP_AUTH_ROUTES", app::SKIP_AUTH_ROUTES.into()),
    ]);
    Config::load(&RunArgs::default(), &env).map_err(|e| anyhow::anyhow!("demo configuration: {e}"))
}

/// `localhost:PORT` on both loopback families, or an error naming `--port`.
/// Without IPv6 at all, 127.0.0.1 alone will do; a port taken on either
/// family will not (the browser may pick that one for `localhost`).
async fn bind_localhost(port: u16) -> anyhow::Result<Vec<TcpListener>> {
    let refuse = |addr: &str, error: std::io::Error| {
        anyhow::anyhow!(
            "the demo cannot listen on {addr} ({error}): choose a free port with --port, \
             e.g. `cognito-sidecar demo --port {}`",
            if port == u16::MAX { 4180 } else { port + 1 }
        )
    };
    let v4 = format!("127.0.0.1:{port}");
    let mut listeners = vec![TcpListener::bind(&v4).await.map_err(|e| refuse(&v4, e))?];
    let v6 = format!("[::1]:{port}");
    match TcpListener::bind(&v6).await {
        Ok(listener) => listeners.push(listener),
        Err(e) if no_ipv6(&e) => tracing::debug!("no IPv6 loopback: {e}"),
        Err(e) => return Err(refuse(&v6, e)),
    }
    Ok(listeners)
}

/// The host has no `::1` (IPv6 off): nothing else can hold the port there.
fn no_ipv6(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::AddrNotAvailable | ErrorKind::Unsupported
    ) || error.raw_os_error() == Some(97) // EAFNOSUPPORT
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let origin = format!("http://localhost:{}", args.port);
    let listeners = bind_localhost(args.port).await?;
    let mut pool = MockConfig::demo();
    for client in &mut pool.clients {
        client.callback_urls = vec![format!("{origin}/oauth2/callback")];
        client.logout_urls = vec![format!("{origin}/oauth2/signed_out")];
    }
    let emails = app::Emails::of(&pool.users);
    let mock = MockCognito::start(pool, "127.0.0.1:0".parse()?).await?;
    let upstream = app::spawn(emails).await?;
    let config = sidecar_config(args.port, &mock, upstream)?;
    let sidecar = crate::server::start_on(config, listeners)?;
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
