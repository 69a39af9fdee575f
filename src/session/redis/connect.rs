//! How the store reaches Redis, whatever the topology: one server (the redis
//! crate's `ConnectionManager`), a master found through Sentinel (the crate's
//! `SentinelClient`, asked again after any failure, so a failover is followed),
//! or a Cluster (the crate's cluster client, which follows `MOVED`/`ASK` and
//! learns the new topology after a failover). All connect lazily: a Redis that
//! is down at start-up is an error of the first request, not of the process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, Pipeline, RedisFuture, TlsCertificates,
    TlsMode, Value,
};
use tokio::sync::{Mutex, OnceCell};

use super::super::StoreError;
use crate::config::{RedisEndpoint, RedisTopology};
use crate::secret::Secret;

/// Connecting, and each answer, must come within this.
pub(super) const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

const BAD_URL: StoreError = StoreError::Config("redis-url is not a usable Redis URL");

/// A connection for one call; cheap to clone.
#[derive(Clone)]
pub(super) enum Conn {
    Managed(ConnectionManager),
    Master(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Managed(c) => c.req_packed_command(cmd),
            Self::Master(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Managed(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Master(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Managed(c) => c.get_db(),
            Self::Master(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A Redis failure, without the URL (it may hold a password). A refused
/// certificate names `redis-ca-file`: rustls's text is matched, because the
/// cluster client keeps only the text of a connection error.
pub(super) fn failed(error: &redis::RedisError) -> StoreError {
    let text = error.to_string();
    match text.find("invalid peer certificate: ") {
        Some(at) => {
            let cause = &text[at + "invalid peer certificate: ".len()..];
            let cause = cause.split_whitespace().next().unwrap_or_default();
            StoreError::UntrustedCertificate(cause.to_string())
        }
        None => StoreError::Backend(text),
    }
}

/// The master as the sentinels name it, remembered until a call fails.
pub(super) struct Sentinel {
    client: Mutex<SentinelClient>,
    master: ArcSwapOption<MultiplexedConnection>,
}

/// The cluster connection, made on first use (and again if that failed).
pub(super) struct Cluster {
    client: ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

#[derive(Clone)]
pub(super) enum Link {
    Single(ConnectionManager),
    Sentinel(Arc<Sentinel>),
    Cluster(Arc<Cluster>),
}

impl Link {
    pub fn open(
        url: &Secret<String>,
        ca_file: Option<&Path>,
        sentinel_password: Option<&Secret<String>>,
    ) -> Result<Self, StoreError> {
        let endpoint = crate::config::parse_redis_url(url.expose()).map_err(|_| BAD_URL)?;
        if endpoint.tls {
            // The redis crate builds its TLS config from the process default.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let certs = match ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|_| StoreError::Config("redis-ca-file is unreadable"))?,
            ),
            None => None,
        };
        match &endpoint.topology {
            RedisTopology::Single => single(url, certs),
            RedisTopology::Sentinel { master, db } => {
                sentinel(&endpoint, master, *db, certs, sentinel_password)
            }
            RedisTopology::Cluster => cluster(&endpoint, certs),
        }
    }

    /// A connection to the node(s) that take writes now.
    pub async fn conn(&self) -> redis::RedisResult<Conn> {
        match self {
            Self::Single(c) => Ok(Conn::Managed(c.clone())),
            Self::Sentinel(s) => s.master().await.map(Conn::Master),
            Self::Cluster(c) => {
                let conn = c
                    .conn
                    .get_or_try_init(|| {
                        let config = ClusterConfig::new()
                            .set_connection_timeout(REDIS_TIMEOUT)
                            .set_response_timeout(REDIS_TIMEOUT);
                        c.client.get_async_connection_with_config(config)
                    })
                    .await?;
                Ok(Conn::Cluster(conn.clone()))
            }
        }
    }

    /// A call failed or timed out: through Sentinel, ask again which node is
    /// the master (after a failover the old one is gone or a read-only replica).
    pub fn failed(&self) {
        if let Self::Sentinel(s) = self {
            s.master.store(None);
        }
    }
}

/// Whether every node that serves sessions answers `PING` (in a cluster the
/// masters; a replica down does not stop the service).
pub(super) async fn ping(conn: Conn) -> redis::RedisResult<()> {
    let ping = redis::cmd("PING");
    match conn {
        Conn::Cluster(mut c) => {
            let masters = MultipleNodeRoutingInfo::AllMasters;
            let all = RoutingInfo::MultiNode((masters, Some(ResponsePolicy::AllSucceeded)));
            c.route_command(ping, all).await.map(drop)
        }
        mut c => ping.query_async::<String>(&mut c).await.map(drop),
    }
}

impl Sentinel {
    async fn master(&self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(master) = self.master.load_full() {
            return Ok((*master).clone());
        }
        let mut client = self.client.lock().await;
        if let Some(master) = self.master.load_full() {
            return Ok((*master).clone()); // found while this call waited
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        // Asks the sentinels, checks the node's ROLE is master, connects.
        let conn = client.get_async_connection_with_config(&config).await?;
        self.master.store(Some(Arc::new(conn.clone())));
        Ok(conn)
    }
}

fn tls_certs(root: Option<Vec<u8>>) -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: root,
    }
}

fn single(url: &Secret<String>, certs: Option<Vec<u8>>) -> Result<Link, StoreError> {
    let client = match certs {
        Some(pem) => Client::build_with_tls(url.expose().as_str(), tls_certs(Some(pem))),
        None => Client::open(url.expose().as_str()),
    }
    .map_err(|_| BAD_URL)?;
    let manager = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(REDIS_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    let conn = client
        .get_connection_manager_lazy(manager)
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(Link::Single(conn))
}

fn addresses(endpoint: &RedisEndpoint) -> Vec<ConnectionAddr> {
    let addr = |(host, port): &(String, u16)| match endpoint.tls {
        true => ConnectionAddr::TcpTls {
            host: host.clone(),
            port: *port,
            insecure: false,
            tls_params: None,
        },
        false => ConnectionAddr::Tcp(host.clone(), *port),
    };
    endpoint.nodes.iter().map(addr).collect()
}

fn sentinel(
    endpoint: &RedisEndpoint,
    master: &str,
    db: i64,
    certs: Option<Vec<u8>>,
    sentinel_password: Option<&Secret<String>>,
) -> Result<Link, StoreError> {
    let mut builder =
        SentinelClientBuilder::new(addresses(endpoint), master, SentinelServerType::Master)
            .map_err(|_| BAD_URL)?
            .set_client_to_redis_db(db);
    if let Some(user) = &endpoint.username {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = &endpoint.password {
        builder = builder.set_client_to_redis_password(password.expose());
    }
    if let Some(password) = sentinel_password {
        builder = builder.set_client_to_sentinel_password(password.expose());
    }
    if endpoint.tls {
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
        if let Some(pem) = certs {
            builder = builder
                .set_client_to_redis_certificates(tls_certs(Some(pem.clone())))
                .set_client_to_sentinel_certificates(tls_certs(Some(pem)));
        }
    }
    let client = builder.build().map_err(|_| BAD_URL)?;
    Ok(Link::Sentinel(Arc::new(Sentinel {
        client: Mutex::new(client),
        master: ArcSwapOption::empty(),
    })))
}

fn cluster(endpoint: &RedisEndpoint, certs: Option<Vec<u8>>) -> Result<Link, StoreError> {
    let mut builder = ClusterClient::builder(addresses(endpoint))
        .connection_timeout(REDIS_TIMEOUT)
        .response_timeout(REDIS_TIMEOUT)
        .max_retry_wait(500);
    if let Some(user) = &endpoint.username {
        builder = builder.username(user);
    }
    if let Some(password) = &endpoint.password {
        builder = builder.password(password.expose());
    }
    if endpoint.tls {
        builder = builder.tls(TlsMode::Secure);
        if let Some(pem) = certs {
            builder = builder.certs(tls_certs(Some(pem)));
        }
    }
    let client = builder.build().map_err(|_| BAD_URL)?;
    Ok(Link::Cluster(Arc::new(Cluster {
        client,
        conn: OnceCell::new(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rustls's wording is what `failed` recognises: this breaks if it changes.
    #[test]
    fn a_refused_certificate_names_redis_ca_file() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, refused);
        let error = failed(&redis::RedisError::from(io));
        assert!(matches!(&error, StoreError::UntrustedCertificate(c) if c == "UnknownIssuer"));
        assert!(error.to_string().contains("set redis-ca-file"), "{error}");
        let refused = redis::RedisError::from((redis::ErrorKind::Io, "Connection refused"));
        assert!(matches!(failed(&refused), StoreError::Backend(_)));
    }
}
