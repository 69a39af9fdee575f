//! What the IdP is sent, as free functions so that `check` probes exactly
//! what a sign-in sends: the authorize URL, the logout URL, and the
//! token-endpoint request with its client authentication.

use url::Url;

use super::{token, AuthRequest, Metadata};
use crate::config::{ClientAuth, ProviderConfig, ProviderKind};
use crate::secret::Secret;

/// The authorize URL `provider` sends browsers to; a free function so that
/// `check` probes exactly what a sign-in sends.
pub fn authorize_url_at(
    metadata: &Metadata,
    provider: &ProviderConfig,
    req: &AuthRequest<'_>,
) -> Url {
    let mut url = metadata.authorization_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", provider.redirect_url.as_str())
            .append_pair("scope", &provider.scope)
            .append_pair("state", req.state)
            .append_pair("nonce", req.nonce)
            .append_pair("code_challenge", req.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(idp) = &provider.identity_provider {
            q.append_pair("identity_provider", idp);
        }
    }
    url
}

/// Where the browser goes to end its session at the IdP, if anywhere.
///
/// Cognito's `/logout` is not RP-initiated logout: it takes `client_id` and
/// `logout_uri`, and it does not end a federated IdP's own session.
pub fn logout_url_at(
    metadata: &Metadata,
    provider: &ProviderConfig,
    id_token: Option<&Secret<String>>,
) -> Option<Url> {
    match provider.kind {
        ProviderKind::Cognito => {
            let mut url = metadata.authorization_endpoint.join("/logout").ok()?;
            if let Some(end) = &metadata.end_session_endpoint {
                url = end.clone();
            }
            url.query_pairs_mut()
                .append_pair("client_id", &provider.client_id)
                .append_pair("logout_uri", provider.sign_out_url.as_str());
            Some(url)
        }
        ProviderKind::Oidc => {
            let mut url = metadata.end_session_endpoint.clone()?;
            {
                let mut q = url.query_pairs_mut();
                if let Some(token) = id_token {
                    q.append_pair("id_token_hint", token.expose());
                }
                q.append_pair("client_id", &provider.client_id)
                    .append_pair("post_logout_redirect_uri", provider.sign_out_url.as_str());
            }
            Some(url)
        }
    }
}

/// Basic unless discovery offers only `client_secret_post`; public clients send `client_id` alone.
pub(super) fn auth_method<'a>(
    client_auth: &'a ClientAuth,
    metadata: &Metadata,
) -> token::ClientAuthMethod<'a> {
    match client_auth {
        ClientAuth::None => token::ClientAuthMethod::Public,
        ClientAuth::Secret(s) if metadata.prefers_post_auth() => token::ClientAuthMethod::Post(s),
        ClientAuth::Secret(s) => token::ClientAuthMethod::Basic(s),
    }
}

/// A token-endpoint request authenticated as `client_auth` would be at sign-in,
/// unsent: `check` sends it with a deliberately invalid code.
pub fn token_endpoint_request(
    http: &reqwest::Client,
    metadata: &Metadata,
    client_id: &str,
    client_auth: &ClientAuth,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let request = token::TokenRequest {
        client_id,
        auth: auth_method(client_auth, metadata),
        form,
    };
    token::build(http, &metadata.token_endpoint, &request)
}
