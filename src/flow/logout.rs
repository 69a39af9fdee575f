//! Sign-out: the session ends server-side, the cookie is cleared, and the
//! browser goes through the IdP's logout, then to `signed_out`, then to `rd`.

use http::{header, HeaderMap};

use super::{Flow, FlowError, Redirect};
use crate::session::cookie::request_cookies;

const RD_TTL_SECS: i64 = 300;

/// A sign-out another site started (a hostile page's form or image) is
/// refused. `Sec-Fetch-Site` must be `same-origin` or `none` (typed, a
/// bookmark); `same-site` (a sibling subdomain) only when `siblings_share`:
/// with a `cookie-domain` every host under it already gets the session
/// cookie, so they are one site by configuration. Without it a sibling, maybe
/// someone else's, must not sign users out.
pub fn is_cross_site(headers: &HeaderMap, own_origin: &url::Url, siblings_share: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").map(|v| v.to_str()) {
        let allowed = match site {
            Ok(s) => {
                s.eq_ignore_ascii_case("same-origin")
                    || s.eq_ignore_ascii_case("none")
                    || (siblings_share && s.eq_ignore_ascii_case("same-site"))
            }
            Err(_) => false,
        };
        if !allowed {
            return true;
        }
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => false,
        Some(Ok(origin)) => {
            let own = own_origin.origin().ascii_serialization();
            origin != own
        }
        Some(Err(_)) => true,
    }
}

impl Flow {
    pub async fn sign_out(&self, rd: &str, request: &HeaderMap) -> Result<Redirect, FlowError> {
        let authenticated = self.authenticate(request).await?;
        let id_token = authenticated
            .as_ref()
            .map(|a| a.session.tokens.id_token.clone());
        if let Some(a) = &authenticated {
            self.sessions.remove(&a.id).await?;
            self.revoke_in_background(&a.session);
            tracing::info!(sub = %a.session.identity.sub, "signed out");
        }
        let rd = self.safe_redirect(rd);
        let rd_name = self.cookies.name("_rd");
        let signed_out = format!("{}/signed_out", self.prefix);
        let provider = authenticated
            .as_ref()
            .and_then(|a| self.providers.named(&a.session.provider))
            .unwrap_or(self.providers.default_provider());
        let location = provider
            .logout_url(id_token.as_ref())
            .map_or(signed_out, |u| u.to_string());
        let mut cookies = vec![
            self.cookies.clear_cookie(&self.cookies.name("")),
            // Signing out and in again is no loop.
            self.cookies.clear_cookie(&self.loop_cookie_name()),
        ];
        if let Some(sealed) = self.cookies.seal(&rd_name, rd.as_str()) {
            cookies.push(self.cookies.set_cookie(&rd_name, sealed, RD_TTL_SECS));
        }
        let user = authenticated.map(|a| a.session.identity.log_name());
        Ok(Redirect {
            location,
            cookies,
            user,
        })
    }

    /// Revokes the refresh token without making the browser wait for the IdP.
    fn revoke_in_background(&self, session: &crate::session::Session) {
        let Some(token) = session.tokens.refresh_token.clone() else {
            return;
        };
        let Some(provider) = self.providers.named(&session.provider).cloned() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(error) = provider.revoke(&token).await {
                tracing::warn!(%error, "revoking the refresh token failed");
            }
        });
    }

    /// Where the IdP's logout lands: on to the remembered `rd`, if any.
    pub fn signed_out_target(&self, request: &HeaderMap) -> (Option<String>, String) {
        let rd_name = self.cookies.name("_rd");
        let rd = request_cookies(request)
            .filter(|(n, _)| *n == rd_name)
            .find_map(|(_, v)| self.cookies.open(&rd_name, v))
            .map(|opened| self.safe_redirect(&opened.value).into_string());
        (rd, self.cookies.clear_cookie(&rd_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn same_site_sign_out_needs_a_shared_cookie_domain() {
        let own = url::Url::parse("https://app.example.com/").unwrap();
        let same_site = headers(&[("sec-fetch-site", "same-site")]);
        assert!(is_cross_site(&same_site, &own, false));
        assert!(!is_cross_site(&same_site, &own, true));
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "none")]),
            &own,
            false
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "odd")]),
            &own,
            true
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &own,
            true
        ));
    }

    #[test]
    fn cross_site_sign_out_is_detected() {
        let is_cross_site = |h: &HeaderMap, own: &url::Url| is_cross_site(h, own, false);
        let own = url::Url::parse("https://app.example.com/").unwrap();
        assert!(!is_cross_site(&headers(&[]), &own));
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &own
        ));
        assert!(!is_cross_site(
            &headers(&[("origin", "https://app.example.com")]),
            &own
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &own
        ));
        assert!(is_cross_site(
            &headers(&[("origin", "https://evil.example")]),
            &own
        ));
        assert!(is_cross_site(&headers(&[("origin", "null")]), &own));
    }
}
