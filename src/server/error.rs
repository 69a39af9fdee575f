//! Why the sidecar could not start: each cause keeps the message (naming the
//! setting to fix) of the part that failed.

use crate::identity_jwt::SignerError;
use crate::provider::ProviderError;
use crate::proxy::alb::AlbError;
use crate::session::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Not one address of `listen` could be bound (each address with its error).
    #[error("cannot listen on any address: {0}")]
    Bind(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    SessionStore(#[from] StoreError),
    #[error(transparent)]
    IdentityJwt(#[from] SignerError),
    #[error(transparent)]
    Alb(#[from] AlbError),
    /// The TLS certificate or key files, described with their settings.
    #[error("{0}")]
    TlsFiles(String),
    #[error(transparent)]
    Tls(#[from] rustls::Error),
    /// Listener sockets, worker threads and their runtimes.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
