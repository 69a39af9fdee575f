//! What the sidecar itself answers: pages for people, JSON for programs.

pub mod authority;
pub mod pages;
pub mod respond;
