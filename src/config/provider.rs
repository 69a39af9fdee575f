//! Identity providers: the flat settings' own (named `default`) and one per
//! `[[provider]]` table, all checked by the same code.

use super::check::{check, Checker};
use super::parse;
use super::problem::Problem;
use super::settings::{ProviderSettings, ProviderTable};
use super::{secret_files, BearerConfig, ClientAuth, ProviderConfig, ProviderKind};
use crate::secret::Secret;

/// The main provider's name; sessions made by it carry this.
pub const DEFAULT_PROVIDER: &str = "default";

/// One provider's settings, checked; `None` when something required is missing or bad.
pub(crate) fn provider(
    c: &mut Checker,
    p: &ProviderSettings,
    proxy_prefix: &str,
) -> Option<ProviderConfig> {
    let issuer = check!(c.required(p.issuer_url, parse::issuer));
    let discovery_url = check!(c.optional(p.discovery_url, parse::http_url));
    let kind = check!(c.optional(p.provider, parse::provider));
    let client_id = check!(c.required(p.client_id, parse::text));
    let client_auth = client_auth(c, p);
    let redirect_url = check!(c.required(p.redirect_url, parse::http_url));
    let sign_out_url = check!(c.optional(p.sign_out_url, parse::http_url));
    let scope = c.parse("scope", &p.scope.join(" "), parse::scope);
    let identity_provider = check!(c.optional(p.identity_provider, parse::text));
    let allow_unverified_email = check!(c.parse(p.allow_unverified_email, parse::boolean));
    let groups_claim = check!(c.optional(p.groups_claim, parse::text));
    let bearer_enabled = check!(c.parse(p.bearer_tokens, parse::boolean));
    let api_client_ids = check!(c.list(p.api_client_ids, parse::text));
    let api_scopes = check!(c.list(p.api_scopes, parse::text));
    let (issuer, client_id, redirect_url) = (issuer?, client_id?, redirect_url?);
    // Respect a path in the issuer (Cognito's pool id, Keycloak's realm); no double slash.
    let discovery_default = format!(
        "{}/.well-known/openid-configuration",
        issuer.as_str().trim_end_matches('/')
    );
    let discovery_url =
        discovery_url.or_else(|| c.parse("discovery_url", &discovery_default, parse::http_url))?;
    let origin = redirect_url.origin().ascii_serialization();
    let sign_out_default = format!("{origin}{proxy_prefix}/signed_out");
    let sign_out_url =
        sign_out_url.or_else(|| c.parse("sign_out_url", &sign_out_default, parse::http_url))?;
    let kind = kind.unwrap_or_else(|| parse::detect_provider(&issuer));
    let groups_claim = groups_claim.unwrap_or_else(|| match kind {
        ProviderKind::Cognito => "cognito:groups".into(),
        ProviderKind::Oidc => "groups".into(),
    });
    Some(ProviderConfig {
        name: DEFAULT_PROVIDER.into(),
        display_name: "Sign in".into(),
        hosts: Vec::new(),
        path_prefixes: Vec::new(),
        kind,
        groups_claim,
        issuer,
        discovery_url,
        client_auth: client_auth?,
        redirect_url,
        sign_out_url,
        scope: scope?,
        identity_provider,
        allow_unverified_email: allow_unverified_email?,
        bearer: BearerConfig {
            enabled: bearer_enabled?,
            client_ids: if api_client_ids.is_empty() {
                vec![client_id.clone()]
            } else {
                api_client_ids
            },
            scopes: api_scopes,
        },
        client_id,
    })
}

/// The client secret, inline or from its file; neither means a public client.
fn client_auth(c: &mut Checker, p: &ProviderSettings) -> Option<ClientAuth> {
    if let Some(secret) = &p.client_secret {
        return Some(ClientAuth::Secret(Secret::new(
            secret.expose().trim().to_string(),
        )));
    }
    if p.client_secret_file.is_none() {
        return Some(ClientAuth::None);
    }
    let secret = check!(c.file(p.client_secret_file, secret_files::read_text))?;
    Some(ClientAuth::Secret(Secret::new(secret)))
}

/// The `[[provider]]` tables; the redirect and sign-out URLs default to the main provider's.
pub(crate) fn tables(
    problems: &mut Vec<Problem>,
    tables: &[ProviderTable],
    main: &ProviderSettings,
    proxy_prefix: &str,
) -> Vec<ProviderConfig> {
    let mut out: Vec<ProviderConfig> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let label = format!("provider[{}]", i + 1);
        let Some(name) = table.name.clone().filter(|n| valid_name(n)) else {
            let message = "needs a name of letters, digits, - or _";
            problems.push(Problem::new(&label, message, None));
            continue;
        };
        let mut c = Checker::for_table(label.clone(), ".");
        if name == DEFAULT_PROVIDER || out.iter().any(|p| p.name == name) {
            let problem = Problem::new(&label, "name is already taken", Some(name.clone()));
            c.problems.push(problem);
        }
        let mut settings = table.settings.clone();
        settings.redirect_url = settings.redirect_url.or_else(|| main.redirect_url.clone());
        settings.sign_out_url = settings.sign_out_url.or_else(|| main.sign_out_url.clone());
        match provider(&mut c, &settings, proxy_prefix) {
            Some(mut config) if c.problems.is_empty() => {
                config.display_name = table.display_name.clone().unwrap_or_else(|| name.clone());
                config.name = name;
                config.hosts = table.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
                config.path_prefixes = table.path_prefixes.clone();
                out.push(config);
            }
            _ => problems.append(&mut c.problems),
        }
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
