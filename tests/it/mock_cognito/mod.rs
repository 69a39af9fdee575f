//! The mock Cognito pool answers like real Cognito (shared/COGNITO.md): every
//! documented error case, the full code flow with PKCE, refresh, revocation,
//! logout, userInfo; its tokens verified by an independent JWT library.

mod support;

mod errors;

mod flow;

mod controls;
