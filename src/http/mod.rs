//! What the sidecar itself answers: pages for people, JSON for programs.

/// Host validity lives with authorization, which decides by host.
pub use crate::authz::authority;
pub mod pages;
pub mod respond;
