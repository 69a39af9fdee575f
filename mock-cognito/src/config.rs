//! What the mock pool contains: app clients, users, lifetimes and quirk switches.
//!
//! Built in code (`MockConfig::demo()`, struct literals) or read from a TOML/JSON
//! file whose keys are the field names below (durations in seconds).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

/// One Cognito user pool with its hosted domain.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    pub region: String,
    pub pool_id: String,
    /// Token `iss`; default `https://cognito-idp.{region}.amazonaws.com/{pool_id}`.
    /// `{base_url}` inside it is replaced by the mock's `http://127.0.0.1:PORT`
    /// once bound, which puts the issuer on the mock (see `with_local_issuer`).
    pub issuer: Option<String>,
    pub clients: Vec<MockClient>,
    pub users: Vec<MockUser>,
    /// Accept `http://127.0.0.1` redirect URIs (real Cognito: only `http://localhost`).
    pub allow_http_loopback_ip: bool,
    /// Leave `state` off error redirects, as AWS's documented examples do.
    pub omit_state_on_error: bool,
    /// Discovery without `end_session_endpoint`, as for pools before 2024.
    pub omit_end_session_endpoint: bool,
    #[serde(with = "secs", rename = "id_token_ttl_secs")]
    pub id_token_ttl: Duration,
    #[serde(with = "secs", rename = "access_token_ttl_secs")]
    pub access_token_ttl: Duration,
}

/// An app client of the pool.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockClient {
    pub client_id: String,
    /// `None`: a public client (no secret, `client_id` in the body only).
    pub client_secret: Option<String>,
    /// Allowed callback URLs, matched byte-for-byte.
    pub callback_urls: Vec<String>,
    /// Allowed sign-out URLs for `/logout?logout_uri=`.
    pub logout_urls: Vec<String>,
    /// Scopes enabled on the client (reserved ones and `server/scope` custom ones).
    pub scopes: Vec<String>,
    pub allow_code_flow: bool,
    pub allow_implicit_flow: bool,
    /// Refresh-token rotation: the refresh grant returns a new refresh token (grace 0 s).
    pub refresh_rotation: bool,
}

/// A user of the pool with its attributes.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockUser {
    pub username: String,
    pub password: String,
    /// Stable user ID (a UUID in real pools).
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub groups: Vec<String>,
    /// Custom attributes; emitted as `custom:<key>` strings.
    pub custom: BTreeMap<String, String>,
    /// A federated user: the external IdP (`Google`, a SAML provider's name)
    /// that signs them in when `/oauth2/authorize` names it in
    /// `identity_provider`. Cognito names such users `<Provider>_<id>`.
    pub identity_provider: Option<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            pool_id: "us-east-1_MockPool1".into(),
            issuer: None,
            clients: Vec::new(),
            users: Vec::new(),
            allow_http_loopback_ip: false,
            omit_state_on_error: false,
            omit_end_session_endpoint: false,
            id_token_ttl: Duration::from_secs(3600),
            access_token_ttl: Duration::from_secs(3600),
        }
    }
}

impl Default for MockClient {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: None,
            callback_urls: Vec::new(),
            logout_urls: Vec::new(),
            scopes: ["openid", "email", "profile"].map(String::from).to_vec(),
            allow_code_flow: true,
            allow_implicit_flow: false,
            refresh_rotation: false,
        }
    }
}

impl Default for MockUser {
    fn default() -> Self {
        Self {
            username: String::new(),
            password: String::new(),
            sub: uuid::Uuid::new_v4().to_string(),
            email: None,
            email_verified: false,
            name: None,
            given_name: None,
            family_name: None,
            groups: Vec::new(),
            custom: BTreeMap::new(),
            identity_provider: None,
        }
    }
}

impl fmt::Debug for MockClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("callback_urls", &self.callback_urls)
            .field("logout_urls", &self.logout_urls)
            .field("scopes", &self.scopes)
            .field("allow_code_flow", &self.allow_code_flow)
            .field("allow_implicit_flow", &self.allow_implicit_flow)
            .field("refresh_rotation", &self.refresh_rotation)
            .finish()
    }
}

impl fmt::Debug for MockUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUser")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("sub", &self.sub)
            .field("email", &self.email)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Client ID of [`MockConfig::demo`]'s app client.
pub const DEMO_CLIENT_ID: &str = "4fmvht22tjrgd7d3k3tghttct7";
/// Its client secret (a mock: not a secret anywhere else).
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret-1f0c9a7e3b5d42c8a6e4b2d0f8c6a4e2";

impl MockConfig {
    /// One pool, one confidential client for a sidecar on `localhost:4180`, and
    /// users covering non-ASCII names, commas in group names and no groups.
    pub fn demo() -> Self {
        let client = MockClient {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: Some(DEMO_CLIENT_SECRET.into()),
            callback_urls: vec!["http://localhost:4180/oauth2/callback".into()],
            logout_urls: vec!["http://localhost:4180/".into()],
            scopes: ["openid", "email", "profile", "phone"]
                .map(String::from)
                .to_vec(),
            ..MockClient::default()
        };
        let alice = MockUser {
            username: "alice".into(),
            password: "alice-password".into(),
            sub: "7d8ca528-4931-4254-9273-ea5ee853f271".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Zoë Ångström-Łukasiewicz".into()),
            given_name: Some("Zoë".into()),
            family_name: Some("Ångström-Łukasiewicz".into()),
            groups: vec!["admins".into(), "Engineering, Platform".into()],
            custom: BTreeMap::from([("department".into(), "R&D".into())]),
            identity_provider: None,
        };
        let bob = MockUser {
            username: "bob".into(),
            password: "bob-password".into(),
            sub: "3f6e1b0a-2c4d-4e8f-9a1b-5c7d9e0f2a4b".into(),
            email: Some("bob@example.com".into()),
            email_verified: false,
            name: Some("Bob Builder".into()),
            ..MockUser::default()
        };
        let carol = MockUser {
            username: "Google_109876543210".into(),
            password: "carol-password".into(),
            sub: "0b6f3c2e-8d41-4f7a-9c55-2e8a1d3b4c6f".into(),
            email: Some("carol@gmail.example".into()),
            email_verified: true,
            name: Some("Carol Federated".into()),
            groups: vec!["us-east-1_DemoPool1_Google".into()],
            identity_provider: Some("Google".into()),
            ..MockUser::default()
        };
        Self {
            pool_id: "us-east-1_DemoPool1".into(),
            clients: vec![client],
            users: vec![alice, bob, carol],
            ..Self::default()
        }
    }

    /// Reads a TOML file, or JSON when the name ends in `.json`; validates it.
    pub fn from_file(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading mock config {}", path.display()))?;
        let config: Self = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        } else {
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        };
        config.validate()?;
        Ok(config)
    }

    /// Puts the issuer on the mock: `{base_url}/{pool_id}`, so discovery lives
    /// at `{issuer}/.well-known/openid-configuration` like in real Cognito.
    pub fn with_local_issuer(mut self) -> Self {
        self.issuer = Some(format!("{{base_url}}/{}", self.pool_id));
        self
    }

    /// Refuses what the Cognito console refuses: non-HTTPS callbacks other than
    /// `http://localhost`, duplicate IDs, empty names.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.pool_id.is_empty() || self.pool_id.contains('/') {
            bail!("pool_id {:?} is not a pool ID", self.pool_id);
        }
        let mut ids = std::collections::HashSet::new();
        for client in &self.clients {
            if client.client_id.is_empty() || !ids.insert(&client.client_id) {
                bail!("client_id {:?} is empty or repeated", client.client_id);
            }
            for url in client.callback_urls.iter().chain(&client.logout_urls) {
                if !redirect_allowed(url, self.allow_http_loopback_ip) {
                    bail!(
                        "client {}: URL {url:?} must be https:// (or http://localhost)",
                        client.client_id
                    );
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for user in &self.users {
            if user.username.is_empty() || !names.insert(&user.username) {
                bail!("username {:?} is empty or repeated", user.username);
            }
        }
        Ok(())
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&MockClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub(crate) fn user(&self, username: &str) -> Option<&MockUser> {
        self.users.iter().find(|u| u.username == username)
    }
}

/// Cognito's rule for callback and sign-out URLs: absolute, no fragment, HTTPS
/// except `http://localhost`; custom app schemes are allowed.
pub(crate) fn redirect_allowed(url: &str, allow_loopback_ip: bool) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.fragment().is_some() || url.contains('#') {
        return false;
    }
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => match parsed.host_str() {
            Some("localhost") => true,
            Some("127.0.0.1") => allow_loopback_ip,
            _ => false,
        },
        "javascript" | "data" | "file" | "vbscript" => false,
        _ => true,
    }
}

/// Durations as whole seconds in config files.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_valid_and_has_the_awkward_cases() {
        let demo = MockConfig::demo();
        demo.validate().unwrap();
        let alice = demo.user("alice").unwrap();
        assert!(alice.groups.iter().any(|g| g.contains(',')));
        assert!(!alice.name.as_deref().unwrap().is_ascii());
        assert!(demo.client(DEMO_CLIENT_ID).unwrap().client_secret.is_some());
    }

    #[test]
    fn redirect_rules_follow_cognito() {
        assert!(redirect_allowed("https://app.example.com/cb", false));
        assert!(redirect_allowed("http://localhost:8080/cb", false));
        assert!(redirect_allowed("myapp://callback", false));
        assert!(!redirect_allowed("http://127.0.0.1:8080/cb", false));
        assert!(redirect_allowed("http://127.0.0.1:8080/cb", true));
        assert!(!redirect_allowed("http://app.example.com/cb", true));
        assert!(!redirect_allowed("https://app.example.com/cb#x", false));
        assert!(!redirect_allowed("/relative", false));
    }

    #[test]
    fn reads_toml_and_json_files() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("pool.toml");
        std::fs::write(
            &toml_path,
            "pool_id = \"eu-west-1_Abc\"\nregion = \"eu-west-1\"\nid_token_ttl_secs = 300\n\
             [[clients]]\nclient_id = \"c1\"\ncallback_urls = [\"https://a.example/cb\"]\n\
             [[users]]\nusername = \"u\"\npassword = \"p\"\ngroups = [\"g\"]\n",
        )
        .unwrap();
        let cfg = MockConfig::from_file(&toml_path).unwrap();
        assert_eq!(cfg.id_token_ttl, Duration::from_secs(300));
        assert_eq!(cfg.clients[0].scopes, ["openid", "email", "profile"]);
        let json_path = dir.path().join("pool.json");
        std::fs::write(
            &json_path,
            r#"{"clients":[{"client_id":"c","callback_urls":["http://evil.example/"]}]}"#,
        )
        .unwrap();
        assert!(MockConfig::from_file(&json_path).is_err());
    }
}
