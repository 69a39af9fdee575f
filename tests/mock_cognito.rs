//! The mock Cognito pool answers like real Cognito (shared/COGNITO.md): every
//! documented error case, the full code flow with PKCE, refresh, revocation,
//! logout, userInfo; its tokens verified by an independent JWT library.

#[path = "mock_cognito/support.rs"]
mod support;

#[path = "mock_cognito/errors.rs"]
mod errors;

#[path = "mock_cognito/flow.rs"]
mod flow;

#[path = "mock_cognito/controls.rs"]
mod controls;
