//! [`Flow::decide`] alone, every [`Decision`] and error: a flow built from
//! parts (the loader's test configuration, its provider loaded from a fixed
//! discovery document and JWKS, the memory session store), no server, no
//! network.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use http::HeaderValue;

use super::*;
use crate::authz::{Policy, Rules};
use crate::config::Config;
use crate::identity::Identity;
use crate::provider::{issuer_string, ProviderError, Providers, VerifyError};
use crate::secret::Secret;
use crate::session::{Session, SessionId, SessionStore};
use crate::tokens::TokenSet;

const KID: &str = "decide-test-key";
const AUTHORIZE: &str = "https://auth.example.com/oauth2/authorize";

fn accept(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, v.parse().unwrap());
    h
}

#[test]
fn client_kind_follows_method_and_accept() {
    let html = accept("text/html,application/xhtml+xml");
    assert_eq!(ClientKind::of(&Method::GET, &html), ClientKind::Navigation);
    assert_eq!(ClientKind::of(&Method::POST, &html), ClientKind::Browser);
    assert_eq!(
        ClientKind::of(&Method::GET, &accept("application/json")),
        ClientKind::Api
    );
    assert_eq!(
        ClientKind::of(&Method::GET, &HeaderMap::new()),
        ClientKind::Api
    );
}

/// A flow whose provider is ready without a network, and the key that signs
/// its tokens.
struct Fixture {
    flow: Flow,
    sessions: SessionStore,
    config: Config,
    key: KeyPair,
    issuer: String,
}

impl Fixture {
    fn new() -> Self {
        Self::with(|_| {})
    }

    /// The test configuration, `edit`ed before the flow is built.
    fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let mut config = crate::proxy::tests::test_config();
        edit(&mut config);
        let issuer = issuer_string(&config.provider.issuer);
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = key.public_key();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let jwks = json!({"keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        }]});
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": AUTHORIZE,
            "token_endpoint": "https://auth.example.com/oauth2/token",
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        });
        let providers = Providers::new(&config).unwrap();
        providers
            .default_provider()
            .load_fixed(&discovery.to_string(), &jwks.to_string())
            .unwrap();
        let sessions =
            SessionStore::new(&config.session, &config.cookie, config.clock.clone()).unwrap();
        let flow = Flow::new(&config, providers, sessions.clone());
        Self {
            flow,
            sessions,
            config,
            key,
            issuer,
        }
    }

    /// A stored session of a user in `groups`; the request headers that carry it.
    async fn signed_in(&self, groups: &[&str]) -> HeaderMap {
        let now = self.config.clock.now();
        let session = Session {
            identity: Identity {
                sub: "session-sub".into(),
                email: Some("zoe@example.com".into()),
                email_verified: true,
                name: "Zoë".into(),
                username: "zoe".into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                provider: self.config.provider.name.clone(),
                issuer: self.issuer.clone(),
            },
            tokens: TokenSet {
                id_token: Secret::new("id".into()),
                access_token: Secret::new("access".into()),
                refresh_token: None,
                expires_in: None,
            },
            created_at: now,
            expires_at: now + 3600,
            tokens_at: now,
            id_token_expires_at: now + 3600,
            provider: self.config.provider.name.clone(),
            sid: None,
            userinfo: None,
            encoded: Default::default(),
        };
        let id = SessionId::generate();
        self.sessions.insert(id.clone(), session).await.unwrap();
        let set_cookie = self.flow.session_cookie(&id).unwrap();
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, pair.parse().unwrap());
        headers
    }

    /// An RS256 ID token for the API client `sub`, `edit`ed, as a bearer header.
    fn bearer(&self, edit: impl FnOnce(&mut Value)) -> HeaderMap {
        let now = self.config.clock.now();
        let mut claims = json!({
            "iss": self.issuer, "aud": self.config.provider.client_id, "sub": "api-sub",
            "token_use": "id", "iat": now, "exp": now + 600,
            "email": "api@example.com", "email_verified": true, "cognito:username": "api",
        });
        edit(&mut claims);
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let header = json!({"alg": "RS256", "kid": KID, "typ": "JWT"});
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        headers.insert(header::AUTHORIZATION, value);
        headers
    }

    async fn decide(
        &self,
        headers: &HeaderMap,
        kind: ClientKind,
        policy: &Policy,
        skip: bool,
    ) -> Result<Decision, DecideError> {
        let target = Target::new(&Method::GET, Some("app.example.com"), "/orders");
        let asked = Asked {
            headers,
            target: &target,
            kind,
            return_to: ReturnTo::Proxied {
                host: None,
                path_and_query: "/orders?page=2",
            },
            redirect_navigation: true,
        };
        // A preflight is skip-auth exactly when the policy lets them through.
        let access = policy.access(&target, skip);
        self.flow.decide(&asked, &access).await
    }
}

/// No rules: every signed-in user may pass.
fn open() -> Policy {
    Policy::default()
}

/// Only the `admins` group may pass; CORS preflights skip authentication.
fn admins_only() -> Policy {
    Policy {
        rules: Rules {
            groups: vec!["admins".into()],
            ..Rules::default()
        },
        skip_auth_preflight: true,
        ..Policy::default()
    }
}

#[tokio::test]
async fn a_session_cookie_is_the_user() {
    let f = Fixture::new();
    let headers = f.signed_in(&["admins"]).await;
    for policy in [open(), admins_only()] {
        let decided = f
            .decide(&headers, ClientKind::Navigation, &policy, false)
            .await;
        let Ok(Decision::User(Principal::Session(a))) = decided else {
            panic!("a session user");
        };
        assert_eq!(a.session.identity.sub, "session-sub");
    }
}

#[tokio::test]
async fn a_skip_auth_request_is_anonymous_without_a_user_and_keeps_one_it_has() {
    let f = Fixture::new();
    let policy = admins_only();
    let none = f
        .decide(&HeaderMap::new(), ClientKind::Api, &policy, true)
        .await;
    assert!(matches!(none, Ok(Decision::Anonymous)));
    // A bad token is no reason to refuse what needs no sign-in.
    let expired = f.bearer(|c| c["exp"] = json!(1));
    let bad = f.decide(&expired, ClientKind::Api, &policy, true).await;
    assert!(matches!(bad, Ok(Decision::Anonymous)));
    // Not in `admins`, but skip-auth applies no rules: the user goes on.
    let staff = f.signed_in(&["staff"]).await;
    let user = f
        .decide(&staff, ClientKind::Navigation, &policy, true)
        .await;
    assert!(matches!(user, Ok(Decision::User(_))));
}

#[tokio::test]
async fn a_navigation_without_a_session_is_sent_to_the_identity_provider() {
    let f = Fixture::new();
    let decided = f
        .decide(&HeaderMap::new(), ClientKind::Navigation, &open(), false)
        .await;
    let Ok(Decision::NeedsSignIn(SignIn::Redirect(redirect))) = decided else {
        panic!("a redirect to sign in");
    };
    let location = url::Url::parse(&redirect.location).unwrap();
    assert!(redirect.location.starts_with(AUTHORIZE), "{location}");
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let has = |k: &str, v: &str| query.iter().any(|(a, b)| a == k && b == v);
    assert!(has("client_id", &f.config.provider.client_id), "{location}");
    assert!(has("code_challenge_method", "S256"), "{location}");
    assert_eq!(redirect.cookies.len(), 1, "the pending sign-in cookie");
    assert_eq!(redirect.user, None);
}

#[tokio::test]
async fn an_api_client_or_a_form_post_without_a_session_gets_the_sign_in_link() {
    let f = Fixture::new();
    let start = "/oauth2/start?rd=%2Forders%3Fpage%3D2";
    for kind in [ClientKind::Api, ClientKind::Browser] {
        let decided = f.decide(&HeaderMap::new(), kind, &open(), false).await;
        let Ok(Decision::NeedsSignIn(SignIn::Required { start: got })) = decided else {
            panic!("{kind:?}: the sign-in link, no redirect");
        };
        assert_eq!(got, start, "{kind:?}");
    }
    // Forward-auth: the reported URL, refused unless on an allowed host.
    let target = Target::new(&Method::GET, None, "/");
    let asked = Asked {
        headers: &HeaderMap::new(),
        target: &target,
        kind: ClientKind::Api,
        return_to: ReturnTo::Url("https://elsewhere.example/x"),
        redirect_navigation: false,
    };
    let decided = f.flow.decide(&asked, &open().access(&target, false)).await;
    let Ok(Decision::NeedsSignIn(SignIn::Required { start })) = decided else {
        panic!("the sign-in link");
    };
    assert_eq!(
        start, "/oauth2/start?rd=%2F",
        "a foreign host is not a return address"
    );
}

#[tokio::test]
async fn a_user_the_rules_refuse_is_forbidden() {
    let f = Fixture::new();
    let staff = f.signed_in(&["staff"]).await;
    let decided = f
        .decide(&staff, ClientKind::Navigation, &admins_only(), false)
        .await;
    let Ok(Decision::Forbidden(forbidden)) = decided else {
        panic!("forbidden");
    };
    assert_eq!(forbidden.who, "zoe@example.com");
    assert_eq!(forbidden.user, "zoe@example.com");
    assert_eq!(forbidden.sign_out, "/oauth2/sign_out");
    let token = f.bearer(|_| {});
    let decided = f
        .decide(&token, ClientKind::Api, &admins_only(), false)
        .await;
    assert!(
        matches!(decided, Ok(Decision::Forbidden(_))),
        "rules apply to bearer users too"
    );
}

#[tokio::test]
async fn a_valid_bearer_token_is_the_user_and_a_bad_one_an_error() {
    let f = Fixture::new();
    let decided = f
        .decide(&f.bearer(|_| {}), ClientKind::Api, &open(), false)
        .await;
    let Ok(Decision::User(Principal::Bearer(identity))) = decided else {
        panic!("a bearer user");
    };
    assert_eq!(identity.sub, "api-sub");
    assert_eq!(identity.email.as_deref(), Some("api@example.com"));

    let refused = |error: VerifyError| {
        move |decided: Result<Decision, DecideError>| match decided {
            Err(DecideError::Principal(PrincipalError::Bearer(ProviderError::Verify(e)))) => {
                assert_eq!(e, error)
            }
            Err(other) => panic!("{error:?} expected, got {other:?}"),
            Ok(_) => panic!("{error:?} expected, got a decision"),
        }
    };
    let now = f.config.clock.now();
    let expired = f.bearer(|c| c["exp"] = json!(now - 61));
    refused(VerifyError::Expired)(f.decide(&expired, ClientKind::Api, &open(), false).await);
    let foreign = f.bearer(|c| c["aud"] = json!("another-client"));
    refused(VerifyError::Audience)(f.decide(&foreign, ClientKind::Api, &open(), false).await);
    let unknown = f.bearer(|c| c["iss"] = json!("https://idp.elsewhere.example"));
    refused(VerifyError::Issuer)(f.decide(&unknown, ClientKind::Api, &open(), false).await);
}

#[tokio::test]
async fn a_navigation_no_provider_serves_is_an_error_not_a_redirect() {
    let f = Fixture::with(|c| c.provider.hosts = vec!["staff.example.com".into()]);
    let decided = f
        .decide(&HeaderMap::new(), ClientKind::Navigation, &open(), false)
        .await;
    assert!(
        matches!(decided, Err(DecideError::Flow(FlowError::NoProvider))),
        "app.example.com is served by no provider"
    );
}
