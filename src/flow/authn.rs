//! Who is this request? The session cookie, opened and looked up in O(1).
//! Never calls the IdP.

use std::sync::Arc;

use crate::session::cookie::request_cookies;
use crate::session::{Session, SessionId};

use super::Flow;

pub struct Authenticated {
    pub id: SessionId,
    pub session: Arc<Session>,
    /// A fresh `Set-Cookie` when the cookie was sealed with a retired key.
    pub reseal: Option<String>,
}

impl Flow {
    /// A tampered, unknown or expired cookie is simply "not signed in".
    pub async fn authenticate(&self, request: &http::HeaderMap) -> Option<Authenticated> {
        let name = self.cookies.name("");
        for (_, value) in request_cookies(request).filter(|(n, _)| *n == name) {
            let Some(opened) = self.cookies.open(&name, &value) else {
                continue;
            };
            let Some(id) = SessionId::parse(&opened.value) else {
                continue;
            };
            let Some(session) = self.sessions.get(&id).await else {
                continue;
            };
            self.refresher.refresh_if_due(&id, &session).await;
            let reseal = if opened.stale_key {
                self.session_cookie(&id)
            } else {
                None
            };
            return Some(Authenticated {
                id,
                session,
                reseal,
            });
        }
        None
    }
}
