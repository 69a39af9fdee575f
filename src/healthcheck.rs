//! `cognito-sidecar healthcheck`: one GET, exit 0 on `200`, 1 otherwise.
//!
//! The container image is distroless: no shell and no curl for a Docker
//! `HEALTHCHECK` to run, so the binary probes itself.

use std::time::Duration;

use clap::Args;

/// The sidecar's liveness endpoint on its default port.
pub const DEFAULT_URL: &str = "http://127.0.0.1:4180/ping";

/// A hung sidecar must count as unhealthy well before Docker's own timeout.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Arguments of `cognito-sidecar healthcheck`.
#[derive(Args, Debug, Clone)]
pub struct HealthcheckArgs {
    /// The URL to GET; healthy when it answers 200 (redirects are not followed).
    #[arg(long, env = "SIDECAR_HEALTHCHECK_URL", default_value = DEFAULT_URL)]
    pub url: String,
}

/// Runs the check with [`TIMEOUT`]; an error says why it is unhealthy.
pub async fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    check(&args.url, TIMEOUT).await
}

/// GETs `url` and succeeds only on `200`, within `timeout` in all.
pub async fn check(url: &str, timeout: Duration) -> anyhow::Result<()> {
    // No proxy: a container's HTTP_PROXY must not route the probe elsewhere.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "cognito-sidecar-healthcheck/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("unhealthy: GET {url}: {e}"))?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => anyhow::bail!("unhealthy: GET {url} answered {status}"),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{Response, StatusCode};
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use tokio::net::TcpListener;

    use super::*;
    use crate::body;

    /// A server answering every request with `status`; its base URL.
    async fn answering(status: StatusCode) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service_fn(move |_req| async move {
                    let mut r = Response::new(body::full("x"));
                    *r.status_mut() = status;
                    Ok::<_, Infallible>(r)
                });
                tokio::spawn(
                    auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned(),
                );
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn ok_answer_is_healthy() {
        let base = answering(StatusCode::OK).await;
        check(&format!("{base}/ping"), TIMEOUT).await.unwrap();
    }

    #[tokio::test]
    async fn any_other_status_is_unhealthy_and_named() {
        for status in [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::NO_CONTENT,
            StatusCode::FOUND,
            StatusCode::NOT_FOUND,
        ] {
            let base = answering(status).await;
            let err = check(&format!("{base}/ping"), TIMEOUT).await.unwrap_err();
            assert!(err.to_string().contains(status.as_str()), "{status}: {err}");
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_unhealthy() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(check(&format!("http://{addr}/ping"), TIMEOUT)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_unhealthy_within_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        let started = std::time::Instant::now();
        let timeout = Duration::from_millis(300);
        let result = check(&format!("http://{addr}/ping"), timeout).await;
        assert!(result.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        held.abort();
    }

    #[test]
    fn default_url_is_the_ping_endpoint_on_the_default_port() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: HealthcheckArgs,
        }
        let cli = Cli::try_parse_from(["x"]).unwrap();
        if std::env::var_os("SIDECAR_HEALTHCHECK_URL").is_none() {
            assert_eq!(cli.args.url, DEFAULT_URL);
        }
        let cli = Cli::try_parse_from(["x", "--url", "http://127.0.0.1:9/ready"]).unwrap();
        assert_eq!(cli.args.url, "http://127.0.0.1:9/ready");
    }
}
