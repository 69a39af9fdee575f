//! What the sidecar itself answers: pages for people, JSON for programs, and
//! the per-request context the access log reads.

/// Host validity lives with authorization, which decides by host.
pub use crate::authz::authority;
mod context;
pub mod pages;
pub mod respond;

pub use context::{RequestContext, X_REQUEST_ID};
