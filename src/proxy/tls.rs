//! The connector to the upstream: plain HTTP, or HTTPS (HTTP/1.1 by ALPN)
//! verified against `upstream-ca-file` or, without one, the system's roots.
//! SNI and the certificate check always use the upstream URL's host.

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::{ClientConfig, RootCertStore};

use crate::config::Config;
use crate::pem::{crypto_provider, load_roots};

pub(super) type Connector = HttpsConnector<HttpConnector>;

/// The connector for `config.upstream`; an error when TLS to it cannot work.
pub(super) fn connector(config: &Config) -> Result<Connector, String> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(config.timeouts.upstream_connect));
    http.enforce_http(false);
    let tls = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(config)?)
        .with_no_client_auth();
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// The configured CA file, else the system's roots (loaded only for an https
/// upstream, so an image without CA certificates can still proxy plain HTTP).
fn roots(config: &Config) -> Result<RootCertStore, String> {
    if let Some(path) = &config.upstream_ca {
        return load_roots(path).map_err(|e| format!("upstream-ca-file: {e}"));
    }
    let mut roots = RootCertStore::empty();
    if config.upstream.scheme() != "https" {
        return Ok(roots);
    }
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("no system CA certificates found; set upstream-ca-file".into());
    }
    Ok(roots)
}
