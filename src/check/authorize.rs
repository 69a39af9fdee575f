//! The browser-facing requests a sign-in makes, sent once without a browser:
//! authorize (callback URL, scopes, identity-provider hint) and sign-out.
//! Where the IdP redirects to is the answer; nothing is followed.

use url::Url;

use super::idp::discovery_setting;
use super::probe::{self, Answer};
use super::{shape, Finding};
use crate::config::{ProviderConfig, ProviderKind};
use crate::provider::{authorize_url_at, logout_url_at, AuthRequest, Metadata};
use crate::secret::random_token;

/// What the authorize endpoint did with the sign-in request.
pub(super) enum Authorize {
    /// Sent on to sign in (the login page, or the external IdP).
    SignIn(String),
    /// Cognito's `/error?error=redirect_mismatch`, or an error page about the redirect URI.
    Mismatch(String),
    /// An error page saying the client is unknown (`oidc` providers).
    UnknownClient(String),
    /// An `error` sent back to the (so: registered) callback.
    ToCallback(String),
    Unclear(String),
    Unreachable(String),
}

/// Sends the authorize request sign-in would send; `with_hint` adds the
/// configured `identity-provider`.
pub(super) async fn probe(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    with_hint: bool,
) -> Authorize {
    let mut sent = provider.clone();
    if !with_hint {
        sent.identity_provider = None;
    }
    let (state, nonce, verifier) = (random_token(16), random_token(16), random_token(32));
    let request = AuthRequest {
        state: state.expose(),
        nonce: nonce.expose(),
        code_challenge: verifier.expose(),
    };
    let url = authorize_url_at(metadata, &sent, &request);
    match probe::get(http, url.as_str()).await {
        Ok(answer) => classify(&answer, &url, provider.redirect_url.as_str()),
        Err(error) => Authorize::Unreachable(error),
    }
}

fn classify(answer: &Answer, sent: &Url, redirect: &str) -> Authorize {
    if answer.status.is_redirection() {
        let Some(target) = answer.location.as_deref().and_then(|l| sent.join(l).ok()) else {
            return Authorize::Unclear(format!("{} without a usable Location", answer.summary()));
        };
        let error = target
            .query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| crate::provider::printable_code(&v));
        let back = target.as_str().strip_prefix(redirect);
        if back.is_some_and(|rest| rest.is_empty() || rest.starts_with(['?', '&', '#'])) {
            return match error {
                Some(e) => Authorize::ToCallback(e),
                None => Authorize::SignIn("sent straight back to redirect-url".into()),
            };
        }
        let mut page = target.clone();
        page.set_query(None);
        return match error.as_deref() {
            Some("redirect_mismatch") => {
                Authorize::Mismatch(format!("redirected to {page}?error=redirect_mismatch"))
            }
            Some(e) if target.path().ends_with("/error") => {
                Authorize::Unclear(format!("redirected to {page}?error={e}"))
            }
            _ => Authorize::SignIn(format!("{} to {page}", answer.summary())),
        };
    }
    if answer.status.is_success() {
        return Authorize::SignIn(format!("{}: the sign-in page", answer.summary()));
    }
    let page = answer.body_text().to_ascii_lowercase();
    let what = answer.summary();
    if answer.status.is_client_error() && page.contains("invalid_client") {
        Authorize::UnknownClient(format!("{what}, an error page naming invalid_client"))
    } else if answer.status.is_client_error() && page.contains("redirect_uri") {
        Authorize::Mismatch(format!("{what}, an error page about redirect_uri"))
    } else {
        Authorize::Unclear(what)
    }
}

/// The `callback-url` and `scope` lines from the authorize answer.
pub(super) fn callback_and_scope(
    provider: &ProviderConfig,
    metadata: &Metadata,
    answer: &Authorize,
    client_unknown: bool,
) -> Vec<Finding> {
    let url = metadata.authorization_endpoint.as_str();
    let redirect = provider.redirect_url.as_str();
    let scope = &provider.scope;
    let id = &provider.client_id;
    let unknown = || Finding::unchecked("scope", "needs a sign-in request the provider accepts");
    let open = |why: String| vec![Finding::unchecked("callback-url", why), unknown()];
    let found = match answer {
        Authorize::SignIn(what) => vec![
            Finding::ok(
                "callback-url",
                format!("{url} accepted redirect-url {redirect} ({what})"),
            ),
            Finding::ok("scope", format!("{url} accepted scope \"{scope}\"")),
        ],
        Authorize::Mismatch(_) | Authorize::UnknownClient(_) if client_unknown => {
            open(format!("client-id {id} is unknown to the provider"))
        }
        Authorize::Mismatch(what) => vec![mismatch(provider, url, what), unknown()],
        Authorize::UnknownClient(what) | Authorize::Unclear(what) => {
            open(format!("{url} answered {what}"))
        }
        Authorize::ToCallback(error) => to_callback(provider, url, error),
        Authorize::Unreachable(error) => vec![
            Finding::problem(
                "callback-url",
                discovery_setting(provider),
                format!("could not reach the authorize endpoint {url}: {error}"),
            ),
            unknown(),
        ],
    };
    found.into_iter().map(|f| f.at(url)).collect()
}

fn mismatch(provider: &ProviderConfig, url: &str, what: &str) -> Finding {
    let redirect = provider.redirect_url.as_str();
    let id = &provider.client_id;
    let mut message = format!(
        "{url} refused redirect-url {redirect} ({what}): add it, byte for byte \
         (scheme, port and trailing slash included), to the callback URLs of app client {id}, \
         or change redirect-url"
    );
    if shape::cognito_refuses_callback(provider) {
        message
            .push_str("; Cognito accepts http:// callback URLs only on localhost, so serve https");
    }
    Finding::problem("callback-url", "redirect-url", message)
}

fn to_callback(provider: &ProviderConfig, url: &str, error: &str) -> Vec<Finding> {
    let redirect = provider.redirect_url.as_str();
    let scope = &provider.scope;
    let callback = Finding::ok(
        "callback-url",
        format!("{url} accepted redirect-url {redirect} (it sent error={error} there)"),
    );
    let second = if error == "invalid_scope" {
        Finding::problem(
            "scope",
            "scope",
            format!(
                "{url} answered error=invalid_scope for scope \"{scope}\": remove the scopes \
                 the provider does not know from scope (or define them at the provider)"
            ),
        )
    } else {
        Finding::problem(
            "scope",
            "client-id",
            format!(
                "{url} refused the sign-in request with error={error}: allow the authorization \
                 code grant and scope \"{scope}\" for app client {}",
                provider.client_id
            ),
        )
    };
    vec![callback, second]
}

/// With the `identity-provider` hint, the sign-in must still go on.
pub(super) async fn hint(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    without_hint: &Authorize,
) -> Finding {
    let url = metadata.authorization_endpoint.as_str();
    let name = provider.identity_provider.as_deref().unwrap_or_default();
    if !matches!(without_hint, Authorize::SignIn(_)) {
        let why = "needs a sign-in request the provider accepts without the hint";
        return Finding::unchecked("identity-provider", why).at(url);
    }
    let refused = |what: String| {
        Finding::problem(
            "identity-provider",
            "identity-provider",
            format!(
                "{url} refused identity_provider={name} ({what}), and accepts the request without it: \
                 the pool has no identity provider of that name; check identity-provider \
                 (names are case-sensitive: Google, Facebook, or your SAML/OIDC provider's name)"
            ),
        )
    };
    let finding = match probe(http, provider, metadata, true).await {
        Authorize::SignIn(what) => Finding::ok(
            "identity-provider",
            format!("{url} accepted identity_provider={name} ({what})"),
        ),
        Authorize::ToCallback(error) => refused(format!("error={error}")),
        Authorize::Mismatch(what) | Authorize::UnknownClient(what) | Authorize::Unclear(what) => {
            refused(what)
        }
        Authorize::Unreachable(error) => Finding::unchecked(
            "identity-provider",
            format!("could not reach {url}: {error}"),
        ),
    };
    finding.at(url)
}

/// Cognito's `/logout` redirects to `logout_uri` only when it is an allowed
/// sign-out URL; an OIDC provider shows an error page for an unknown
/// `post_logout_redirect_uri`.
pub(super) async fn sign_out(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
    client_unknown: bool,
) -> Finding {
    let sign_out = provider.sign_out_url.as_str();
    let Some(url) = logout_url_at(metadata, provider, None) else {
        return Finding::ok(
            "sign-out-url",
            "the provider has no end_session_endpoint: sign-out ends the sidecar's session only",
        );
    };
    let url = url.as_str();
    if client_unknown {
        let why = format!(
            "client-id {} is unknown to the provider",
            provider.client_id
        );
        return Finding::unchecked("sign-out-url", why).at(url);
    }
    let answer = match probe::get(http, url).await {
        Ok(answer) => answer,
        Err(error) => {
            let message = format!("could not reach the sign-out endpoint {url}: {error}");
            return Finding::problem("sign-out-url", discovery_setting(provider), message).at(url);
        }
    };
    let finding = if accepted(provider, &answer) {
        Finding::ok(
            "sign-out-url",
            format!("{url} accepted sign-out-url {sign_out}"),
        )
    } else if speaks_cognito(http, provider, metadata).await {
        Finding::problem(
            "sign-out-url",
            "provider",
            format!(
                "{url} refused the OpenID Connect sign-out, but this identity provider signs out \
                 the Cognito way (/logout with client_id and logout_uri): set provider=cognito"
            ),
        )
    } else {
        Finding::problem(
            "sign-out-url",
            "sign-out-url",
            format!(
                "{url} answered {} instead of sending the browser to sign-out-url {sign_out}: \
                 add it, byte for byte, to the sign-out URLs of app client {}, or change sign-out-url",
                answer_with_location(&answer),
                provider.client_id
            ),
        )
    };
    finding.at(url)
}

/// `HTTP 302 to <where>` (Cognito refuses with a redirect to its `/error`
/// page, whose `error=redirect_mismatch` is the useful part), else the summary.
fn answer_with_location(answer: &Answer) -> String {
    match &answer.location {
        Some(to) => format!("{} to {to}", answer.summary()),
        None => answer.summary(),
    }
}

/// Cognito's `/logout` redirects to exactly `logout_uri`; an OIDC provider
/// shows a confirmation page or redirects.
fn accepted(provider: &ProviderConfig, answer: &Answer) -> bool {
    match provider.kind {
        ProviderKind::Cognito => {
            answer.status.is_redirection()
                && answer.location.as_deref() == Some(provider.sign_out_url.as_str())
        }
        ProviderKind::Oidc => answer.status.is_success() || answer.status.is_redirection(),
    }
}

/// An `oidc` provider whose sign-out works when asked the Cognito way is a
/// Cognito pool (or its mock) with `provider` detected wrong.
async fn speaks_cognito(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    metadata: &Metadata,
) -> bool {
    if provider.kind == ProviderKind::Cognito {
        return false;
    }
    let cognito = ProviderConfig {
        kind: ProviderKind::Cognito,
        ..provider.clone()
    };
    let Some(url) = logout_url_at(metadata, &cognito, None) else {
        return false;
    };
    match probe::get(http, url.as_str()).await {
        Ok(answer) => accepted(&cognito, &answer),
        Err(_) => false,
    }
}
