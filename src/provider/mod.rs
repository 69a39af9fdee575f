//! The identity provider: discovery, keys, the token endpoint, ID-token checks.
//!
//! Nothing here runs on the hot path of a signed-in request: the IdP is called
//! only to start up, to finish a login and to sign out.

mod bearer;
mod discovery;
mod http;
mod identity;
mod jwks;
mod loader;
pub mod logout_token;
mod problem;
mod registry;
mod requests;
mod token;
mod userinfo;
pub mod verify;

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use url::Url;

use crate::clock::Clock;
use crate::config::{Config, ProviderConfig, ProviderKind};
use crate::identity::{Identity, UserInfoClaims};
use crate::secret::Secret;
use crate::tokens::TokenSet;

pub use discovery::{issuer_matches, issuer_string, Metadata};
pub use problem::ConfigProblem;
pub use registry::Providers;
use requests::auth_method;
pub use requests::{authorize_url_at, logout_url_at, token_endpoint_request};
pub use token::printable as printable_code;
pub use verify::VerifyError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Discovery or the JWKS have not been loaded yet.
    #[error("the identity provider's configuration is not loaded yet")]
    NotReady,
    #[error("the identity provider is unreachable: {0}")]
    Unreachable(String),
    #[error("the identity provider did not answer in time")]
    Timeout,
    #[error("the identity provider answered something unexpected: {0}")]
    BadAnswer(String),
    #[error("the identity provider's answer is too large")]
    TooLarge,
    /// An OAuth2 error answer (`invalid_grant`, `invalid_client`, ...).
    #[error("the identity provider refused: {0}")]
    Refused(String),
    #[error("the ID token was refused: {0}")]
    Verify(#[from] VerifyError),
    /// The IdP's answer says a setting is wrong: the operator must act.
    #[error("{0}")]
    Misconfigured(Box<ConfigProblem>),
    #[error("the logout token was refused: {0}")]
    Logout(#[from] logout_token::LogoutTokenError),
}

/// What the authorize redirect carries for one login.
pub struct AuthRequest<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
}

/// A verified sign-in: who, and the tokens that prove it.
pub struct SignIn {
    pub identity: Identity,
    pub tokens: TokenSet,
    /// When the ID token expires (unix seconds).
    pub id_token_expires_at: u64,
    /// The ID token's `sid`: the IdP session a back-channel logout may end.
    pub sid: Option<String>,
}

/// Runs one IdP call, recording its latency and result.
async fn timed<T>(
    call: &'static str,
    fut: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let started = std::time::Instant::now();
    let result = fut.await;
    crate::metrics::metrics().observe_idp(call, result.is_ok(), started.elapsed());
    result
}

pub struct Provider {
    config: ProviderConfig,
    issuer: String,
    http: reqwest::Client,
    metadata: ArcSwapOption<Metadata>,
    jwks: jwks::Jwks,
    max_body: usize,
    /// The configuration problem last met, until a load or sign-in succeeds.
    problem: ArcSwapOption<ConfigProblem>,
    /// `discovery-url` when it was set, else `issuer-url` (which places it).
    discovery_setting: &'static str,
    /// What `exp`, `iat` and `nbf` of its tokens are checked against.
    clock: Clock,
}

impl Provider {
    pub fn new(provider: &ProviderConfig, config: &Config) -> Result<Arc<Self>, ProviderError> {
        let t = &config.timeouts;
        let default_discovery = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.as_str().trim_end_matches('/')
        );
        let discovery_setting = if provider.discovery_url.as_str() == default_discovery {
            "issuer-url"
        } else {
            "discovery-url"
        };
        Ok(Arc::new(Self {
            config: provider.clone(),
            issuer: issuer_string(&provider.issuer),
            http: http::client(t.idp_connect, t.idp_total)?,
            metadata: ArcSwapOption::empty(),
            jwks: jwks::Jwks::new(config.limits.max_idp_body_bytes),
            max_body: config.limits.max_idp_body_bytes,
            problem: ArcSwapOption::empty(),
            discovery_setting,
            clock: config.clock.clone(),
        }))
    }

    /// `default`, or the `[[provider]]` table's name; sessions carry it.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Whether a token's `iss` (read before verification, to pick the provider)
    /// is this provider's.
    pub fn issued(&self, iss: &str) -> bool {
        let loaded = self.metadata.load();
        iss == self.issuer || loaded.as_ref().is_some_and(|m| m.issuer == iss)
    }

    pub fn kind(&self) -> ProviderKind {
        self.config.kind
    }

    /// Ready once discovery and the JWKS are loaded.
    pub fn is_ready(&self) -> bool {
        self.metadata.load().is_some() && self.jwks.is_loaded()
    }

    /// The configuration problem last met (at load or sign-in), if any.
    pub fn problem(&self) -> Option<Arc<ConfigProblem>> {
        self.problem.load_full()
    }

    /// Keeps `result`'s configuration problem for `/ready` and counts it, or
    /// forgets the last one when `result` succeeded.
    fn note<T>(&self, result: &Result<T, ProviderError>) {
        match result {
            Ok(_) => {
                if self.problem.load().is_some() {
                    self.problem.store(None);
                }
            }
            Err(ProviderError::Misconfigured(problem)) => {
                problem.count();
                self.problem.store(Some(Arc::new((**problem).clone())));
            }
            Err(_) => {}
        }
    }

    /// Loads discovery, then the JWKS it points to.
    pub async fn load(&self) -> Result<(), ProviderError> {
        let result = self.load_once().await;
        self.note(&result);
        result
    }

    async fn load_once(&self) -> Result<(), ProviderError> {
        let discovery = discovery::fetch(
            &self.http,
            &self.config.discovery_url,
            &self.issuer,
            self.discovery_setting,
            self.max_body,
        );
        let metadata = timed("discovery", discovery).await?;
        let fetched = timed("jwks", self.jwks.refresh(&self.http, &metadata.jwks_uri)).await;
        let result = if fetched.is_ok() { "ok" } else { "error" };
        let labels = crate::metrics::IdpLabels {
            call: "scheduled",
            result,
        };
        crate::metrics::metrics()
            .jwks_refreshes
            .get_or_create(&labels)
            .inc();
        fetched?;
        self.metadata.store(Some(Arc::new(metadata)));
        Ok(())
    }

    /// The loaded document; before it, why it is missing when that is a
    /// configuration problem, else "not ready yet".
    fn metadata(&self) -> Result<Arc<Metadata>, ProviderError> {
        self.metadata
            .load_full()
            .ok_or_else(|| match self.problem() {
                Some(p) => ProviderError::Misconfigured(Box::new((*p).clone())),
                None => ProviderError::NotReady,
            })
    }

    /// The IdP's authorize URL for one login (code flow, PKCE S256, nonce).
    pub fn authorize_url(&self, req: &AuthRequest<'_>) -> Result<Url, ProviderError> {
        let metadata = self.metadata()?;
        let url = authorize_url_at(&metadata, &self.config, req);
        tracing::debug!(
            provider = %self.name(),
            redirect_uri = %self.config.redirect_url,
            authorize = %metadata.authorization_endpoint,
            "sending the browser to sign in with this callback URL"
        );
        Ok(url)
    }

    /// Redeems a code and verifies the ID token it returns against `nonce`.
    pub async fn sign_in(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignIn, ProviderError> {
        let metadata = self.metadata()?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("code_verifier", verifier),
        ];
        let tokens = self.token_request(&metadata, &form).await;
        self.note(&tokens);
        let tokens = tokens?;
        let (identity, exp, sid) = self
            .verify_id_token(&metadata, &tokens, Some(nonce))
            .await?;
        Ok(SignIn {
            identity,
            tokens,
            id_token_expires_at: exp,
            sid,
        })
    }

    /// Cognito's `grant_type=refresh_token`: new ID and access tokens, and no new
    /// refresh token unless rotation is on (then the old one is kept otherwise).
    /// A refreshed ID token carries no `nonce`.
    pub async fn refresh(&self, refresh_token: &Secret<String>) -> Result<SignIn, ProviderError> {
        let metadata = self.metadata()?;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose().as_str()),
        ];
        let tokens = self.token_request(&metadata, &form).await;
        self.note(&tokens);
        let mut tokens = tokens?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        let (identity, exp, sid) = self.verify_id_token(&metadata, &tokens, None).await?;
        Ok(SignIn {
            identity,
            tokens,
            id_token_expires_at: exp,
            sid,
        })
    }

    /// The JWKS key a token's header names (RS256 only); one rate-limited
    /// refetch on an unknown `kid`.
    async fn signing_key(
        &self,
        metadata: &Metadata,
        token: &str,
    ) -> Result<Arc<jsonwebtoken::DecodingKey>, ProviderError> {
        let kid = verify::header_kid(token)?;
        let key = self.jwks.key(&kid, &self.http, &metadata.jwks_uri).await;
        Ok(key.ok_or(VerifyError::UnknownKey)?)
    }

    /// The identity of an API client's bearer token, checked offline.
    pub async fn verify_bearer(&self, token: &str) -> Result<Identity, ProviderError> {
        let metadata = self.metadata()?;
        let key = self.signing_key(&metadata, token).await?;
        let claims = bearer::verify(
            token,
            &key,
            &metadata.issuer,
            self.config.kind,
            &self.config.bearer,
            self.clock.now(),
        )?;
        Ok(self.identity_of(&metadata, &claims))
    }

    /// A back-channel logout token from this provider, checked offline
    /// against its JWKS and the client id (see [`logout_token`]).
    pub async fn verify_logout_token(
        &self,
        token: &str,
    ) -> Result<logout_token::LogoutToken, ProviderError> {
        let metadata = self.metadata()?;
        let key = self.signing_key(&metadata, token).await?;
        let audience = logout_token::Audience {
            issuer: &metadata.issuer,
            client_id: &self.config.client_id,
        };
        Ok(logout_token::verify(
            token,
            &key,
            &audience,
            self.clock.now(),
        )?)
    }

    pub fn accepts_bearer_tokens(&self) -> bool {
        self.config.bearer.enabled
    }

    /// Revokes a refresh token (and Cognito's tokens derived from it) at the
    /// revocation endpoint, if the IdP has one.
    pub async fn revoke(&self, refresh_token: &Secret<String>) -> Result<(), ProviderError> {
        let metadata = self.metadata()?;
        let Some(endpoint) = metadata.revocation_endpoint.as_ref() else {
            return Ok(());
        };
        let form = [("token", refresh_token.expose().as_str())];
        let request = token::TokenRequest {
            client_id: &self.config.client_id,
            auth: self.auth_method(&metadata),
            form: &form,
        };
        timed("revoke", token::revoke(&self.http, endpoint, &request)).await
    }

    fn auth_method<'a>(&'a self, metadata: &Metadata) -> token::ClientAuthMethod<'a> {
        auth_method(&self.config.client_auth, metadata)
    }

    async fn token_request(
        &self,
        metadata: &Metadata,
        form: &[(&str, &str)],
    ) -> Result<TokenSet, ProviderError> {
        let request = token::TokenRequest {
            client_id: &self.config.client_id,
            auth: self.auth_method(metadata),
            form,
        };
        let call = token::request(
            &self.http,
            &metadata.token_endpoint,
            &request,
            self.max_body,
        );
        timed("token", call).await
    }

    async fn verify_id_token(
        &self,
        metadata: &Metadata,
        tokens: &TokenSet,
        nonce: Option<&str>,
    ) -> Result<(Identity, u64, Option<String>), ProviderError> {
        let token = tokens.id_token.expose();
        let key = self.signing_key(metadata, token).await?;
        let expected = verify::Expected {
            // The document's exact form of the configured issuer (see `discovery`).
            issuer: &metadata.issuer,
            audiences: std::slice::from_ref(&self.config.client_id),
            kind: self.config.kind,
            nonce,
        };
        let mut claims = verify::verify(token, &key, &expected, self.clock.now())?;
        if self.config.kind == ProviderKind::Oidc && claims.lacks_profile() {
            self.merge_userinfo(metadata, tokens, &mut claims).await;
        }
        let identity = self.identity_of(metadata, &claims);
        Ok((identity, claims.exp, claims.sid))
    }

    /// The identity of verified claims, naming this provider and its issuer.
    fn identity_of(&self, metadata: &Metadata, claims: &verify::Claims) -> Identity {
        Identity {
            provider: self.config.name.clone(),
            issuer: metadata.issuer.clone(),
            ..identity::from_claims(
                claims,
                self.config.kind,
                self.config.allow_unverified_email,
                &self.config.groups_claim,
            )
        }
    }

    /// OIDC Core 5.4: a provider may keep profile claims for userinfo when it
    /// issues an access token. Read them, for the same `sub` only (5.3.2); on
    /// any failure the ID token's claims stand alone.
    async fn merge_userinfo(
        &self,
        metadata: &Metadata,
        tokens: &TokenSet,
        claims: &mut verify::Claims,
    ) {
        let Some(endpoint) = &metadata.userinfo_endpoint else {
            return;
        };
        let call = userinfo::fetch::<verify::Claims>(
            &self.http,
            endpoint,
            &tokens.access_token,
            self.max_body,
        );
        match timed("userinfo", call).await {
            Ok(info) if info.sub == claims.sub => claims.fill_from(info),
            Ok(_) => tracing::warn!("userinfo answered for another subject; ignored"),
            Err(error) => tracing::warn!(%error, "userinfo failed; using the ID token's claims"),
        }
    }

    /// The userInfo answer for a session's tokens, as sent (`alb-headers`
    /// signs it). Refused unless it is about `sub` (OIDC Core 5.3.2).
    pub async fn userinfo(
        &self,
        tokens: &TokenSet,
        sub: &str,
    ) -> Result<UserInfoClaims, ProviderError> {
        let metadata = self.metadata()?;
        let Some(endpoint) = &metadata.userinfo_endpoint else {
            return Err(ProviderError::BadAnswer(
                "discovery names no userinfo_endpoint, which alb-headers needs".into(),
            ));
        };
        let call = userinfo::fetch(&self.http, endpoint, &tokens.access_token, self.max_body);
        let claims: UserInfoClaims = timed("userinfo", call).await?;
        match claims.get("sub").and_then(|v| v.as_str()) {
            Some(theirs) if theirs == sub => Ok(claims),
            _ => Err(ProviderError::BadAnswer(
                "userinfo answered for another subject".into(),
            )),
        }
    }

    /// Where the browser goes to end its session at the IdP, if anywhere (see [`logout_url_at`]).
    pub fn logout_url(&self, id_token: Option<&Secret<String>>) -> Option<Url> {
        tracing::debug!(
            provider = %self.name(),
            sign_out_url = %self.config.sign_out_url,
            "sending the browser to the IdP's logout with this sign-out URL"
        );
        let metadata = self.metadata.load_full()?;
        logout_url_at(&metadata, &self.config, id_token)
    }
}

#[cfg(test)]
impl Provider {
    /// Loaded from a fixed discovery document and JWKS instead of fetching
    /// them: a ready provider for tests of the flow, without a network.
    pub(crate) fn load_fixed(&self, discovery: &str, jwks: &str) -> Result<(), serde_json::Error> {
        let metadata: Metadata = serde_json::from_str(discovery)?;
        self.jwks.set(jwks)?;
        self.metadata.store(Some(Arc::new(metadata)));
        Ok(())
    }
}
