//! `[[provider]]` tables (config file only): more user pools or OpenID
//! providers beside the one the flat settings describe, each chosen per request
//! by host and/or path prefix. A table holds the provider settings under their
//! TOML keys (`issuer_url`, `client_id`, `client_secret_file`, ...) and
//! `name`, `display_name`, `hosts`, `path_prefixes`; the redirect and sign-out
//! URLs default to the main provider's (one callback serves all).

use super::file::toml_values;
use super::reader::{Problem, Reader};
use super::source::{setting, toml_key, Raw};
use super::ProviderConfig;

/// Setting names a provider table may use, besides its own keys.
const PROVIDER_SETTINGS: &[&str] = &[
    "issuer-url",
    "discovery-url",
    "provider",
    "client-id",
    "client-secret",
    "client-secret-file",
    "redirect-url",
    "sign-out-url",
    "scope",
    "identity-provider",
    "allow-unverified-email",
    "groups-claim",
    "bearer-tokens",
    "api-client-ids",
    "api-scopes",
];

/// The main provider's name; sessions made by it carry this.
pub const DEFAULT_PROVIDER: &str = "default";

/// Checks each table and builds its provider with the main validator.
pub(crate) fn read(
    tables: &[toml::Table],
    main: &Raw,
    proxy_prefix: &str,
    problems: &mut Vec<Problem>,
    build: fn(&mut Reader, &str) -> Option<ProviderConfig>,
) -> Vec<ProviderConfig> {
    let mut out: Vec<ProviderConfig> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let label = format!("provider[{}]", i + 1);
        let mut raw = Raw::default();
        let mut local = Vec::new();
        let (mut name, mut display, mut hosts, mut prefixes) = (None, None, Vec::new(), Vec::new());
        for (key, value) in table {
            match key.as_str() {
                "name" => name = value.as_str().map(str::to_string),
                "display_name" => display = value.as_str().map(str::to_string),
                "hosts" => hosts = strings(value),
                "path_prefixes" => prefixes = strings(value),
                _ => match PROVIDER_SETTINGS
                    .iter()
                    .find(|s| toml_key(s) == *key)
                    .and_then(|s| setting(s))
                {
                    Some(s) => match toml_values(s.kind, value.clone()) {
                        Ok(values) => raw.set(s.name, values),
                        Err(message) => {
                            local.push(Problem::new(&label, format!("{key}: {message}"), None))
                        }
                    },
                    None => local.push(Problem::new(
                        &label,
                        "unknown key".into(),
                        Some(key.clone()),
                    )),
                },
            }
        }
        for inherited in ["redirect-url", "sign-out-url"] {
            if raw.get(inherited).is_none() {
                if let (Some(values), Some(s)) = (main.get(inherited), setting(inherited)) {
                    raw.set(s.name, values.to_vec());
                }
            }
        }
        let Some(name) = name.filter(|n| valid_name(n)) else {
            let message = "needs a name of letters, digits, - or _".to_string();
            local.push(Problem::new(&label, message, None));
            problems.extend(local);
            continue;
        };
        if name == DEFAULT_PROVIDER || out.iter().any(|p| p.name == name) {
            local.push(Problem::new(
                &label,
                "name is already taken".into(),
                Some(name.clone()),
            ));
        }
        let mut reader = Reader::new(&raw, Vec::new());
        let built = build(&mut reader, proxy_prefix);
        for mut p in reader.problems {
            p.setting = format!("{label}.{}", toml_key(&p.setting));
            local.push(p);
        }
        match built {
            Some(mut config) if local.is_empty() => {
                config.display_name = display.unwrap_or_else(|| name.clone());
                config.name = name;
                config.hosts = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
                config.path_prefixes = prefixes;
                out.push(config);
            }
            _ => problems.extend(local),
        }
    }
    out
}

fn strings(value: &toml::Value) -> Vec<String> {
    match value {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
