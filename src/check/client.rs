//! The app client's credentials: a token request with a deliberately invalid
//! code. `invalid_grant` means the IdP authenticated the client and refused only
//! the code; `invalid_client` means the client ID or secret is wrong. Together
//! with the authorize answer it tells which of the two.

use serde::Deserialize;

use super::authorize::{self, Authorize};
use super::idp::discovery_setting;
use super::probe::{self, Answer};
use super::Finding;
use crate::config::{ClientAuth, ProviderConfig};
use crate::provider::{token_endpoint_request, Metadata};
use crate::secret::random_token;

/// What the token endpoint made of the client.
pub(super) enum Token {
    /// It authenticated the client and refused only the code.
    Accepted,
    /// `invalid_client`.
    Refused,
    /// Any other answer, described.
    Unclear(String),
    Unreachable(String),
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

fn oauth_error(answer: &Answer) -> Option<String> {
    serde_json::from_slice::<OAuthError>(&answer.body)
        .ok()
        .map(|e| crate::provider::printable_code(&e.error))
}

async fn token(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    auth: &ClientAuth,
) -> Token {
    let (code, verifier) = (random_token(24), random_token(32));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.expose().as_str()),
        ("redirect_uri", provider.redirect_url.as_str()),
        ("code_verifier", verifier.expose().as_str()),
    ];
    let request = token_endpoint_request(http, metadata, &provider.client_id, auth, &form);
    match probe::send(request).await {
        Err(error) => Token::Unreachable(error),
        Ok(answer) => match oauth_error(&answer).as_deref() {
            Some("invalid_grant") => Token::Accepted,
            Some("invalid_client") => Token::Refused,
            None if answer.status == http::StatusCode::UNAUTHORIZED => Token::Refused,
            Some(other) => Token::Unclear(format!("error={other} ({})", answer.summary())),
            None => Token::Unclear(answer.summary()),
        },
    }
}

/// All client checks: credentials, callback and scope, identity-provider
/// hint, sign-out URL.
pub(super) async fn check(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    out: &mut Vec<Finding>,
) {
    let verdict = token(http, provider, metadata, &provider.client_auth).await;
    let signing_in = authorize::probe(http, provider, metadata, false).await;
    let client_unknown = matches!(verdict, Token::Refused)
        && matches!(
            signing_in,
            Authorize::Mismatch(_) | Authorize::UnknownClient(_)
        );
    out.push(credentials(http, provider, metadata, verdict, client_unknown).await);
    out.extend(authorize::callback_and_scope(
        provider,
        metadata,
        &signing_in,
        client_unknown,
    ));
    if provider.identity_provider.is_some() {
        out.push(authorize::hint(http, provider, metadata, &signing_in).await);
    }
    out.push(authorize::sign_out(http, provider, metadata, client_unknown).await);
}

async fn credentials(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    verdict: Token,
    client_unknown: bool,
) -> Finding {
    let url = metadata.token_endpoint.as_str();
    let id = &provider.client_id;
    let finding = match verdict {
        Token::Accepted => {
            let how = match provider.client_auth {
                ClientAuth::None => "as a public client (no secret)",
                ClientAuth::Secret(_) => "and client-secret",
            };
            Finding::ok(
                "client-credentials",
                format!("{url} accepted client-id {id} {how}; it refused only a deliberately invalid code"),
            )
        }
        Token::Refused => refused(http, provider, metadata, client_unknown).await,
        Token::Unclear(what) => Finding::unchecked(
            "client-credentials",
            format!(
                "{url} answered {what}; cannot tell whether client-id and client-secret are right"
            ),
        ),
        Token::Unreachable(error) => Finding::problem(
            "client-credentials",
            discovery_setting(provider),
            format!("could not reach the token endpoint {url}: {error}"),
        ),
    };
    finding.at(url)
}

/// `invalid_client`: an unknown client (authorize did not know it either), a
/// secret missing, a secret given to a public client, or a wrong secret.
async fn refused(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    client_unknown: bool,
) -> Finding {
    let url = metadata.token_endpoint.as_str();
    let id = &provider.client_id;
    if client_unknown {
        return Finding::problem(
            "client-credentials",
            "client-id",
            format!(
                "{url} answered invalid_client and {} does not know the client either: \
                 this pool has no app client {id}; check client-id",
                metadata.authorization_endpoint
            ),
        );
    }
    if let ClientAuth::None = provider.client_auth {
        return Finding::problem(
            "client-credentials",
            "client-secret",
            format!(
                "{url} answered invalid_client for client-id {id} sent without a secret: \
                 the app client has a secret; set client-secret (or client-secret-file)"
            ),
        );
    }
    if let Token::Accepted = token(http, provider, metadata, &ClientAuth::None).await {
        return Finding::problem(
            "client-credentials",
            "client-secret",
            format!(
                "{url} refused client-secret, and accepts client-id {id} without one: \
                 the app client is public (it has no secret); remove client-secret"
            ),
        );
    }
    Finding::problem(
        "client-credentials",
        "client-secret",
        format!(
            "{url} answered invalid_client, although the authorize endpoint knows client-id {id}: \
             client-secret is wrong; copy the app client's secret into client-secret (or client-secret-file)"
        ),
    )
}
