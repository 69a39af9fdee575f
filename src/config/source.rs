//! The environment layer: `SIDECAR_*` variables, read through [`Source`] so
//! tests never touch the process environment. A `SIDECAR_*` variable that is
//! no setting is a warning naming the closest one: a typo would otherwise
//! silently leave the default in place.

use std::collections::HashMap;

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "SIDECAR_CONFIG";

/// `SIDECAR_*` variables read elsewhere (logging, healthcheck, bench builds).
const OTHER_VARIABLES: &[&str] = &[
    CONFIG_ENV,
    "SIDECAR_LOG",
    "SIDECAR_HEALTHCHECK_URL",
    "SIDECAR_BENCH_SEED",
    "SIDECAR_BENCH_SEED_FILE",
];

/// Reads environment-style variables.
pub trait Source {
    fn get(&self, key: &str) -> Option<String>;
    /// The names of every variable set.
    fn names(&self) -> Vec<String>;
}

/// The real process environment. A value that is not UTF-8 is passed on with
/// replacement characters, so validation reports it instead of ignoring it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
    }

    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    }
}

/// An in-memory environment for tests and embedding.
#[derive(Clone, Default)]
pub struct MapSource(pub HashMap<String, String>);

impl MapSource {
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let pairs = pairs.into_iter().map(|(k, v)| (k.into(), v.into()));
        Self(pairs.collect())
    }
}

impl Source for MapSource {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

/// `client_secret_file` -> `SIDECAR_CLIENT_SECRET_FILE`.
pub fn env_key(setting: &str) -> String {
    format!("SIDECAR_{}", setting.to_ascii_uppercase().replace('-', "_"))
}

/// The `SIDECAR_*` variables that are settings (by TOML key), and a warning
/// for every other one.
pub(crate) fn read(env: &dyn Source, settings: &[String]) -> (toml::Table, Vec<String>) {
    let mut table = toml::Table::new();
    for name in settings {
        if let Some(value) = env.get(&env_key(name)) {
            table.insert(name.clone(), toml::Value::String(value));
        }
    }
    let mut unknown: Vec<String> = env
        .names()
        .into_iter()
        .filter(|v| v.starts_with("SIDECAR_") && !OTHER_VARIABLES.contains(&v.as_str()))
        .filter(|v| !settings.iter().any(|s| env_key(s) == *v))
        .collect();
    unknown.sort();
    let warnings = unknown.iter().map(|v| unknown_variable(v, settings));
    (table, warnings.collect())
}

fn unknown_variable(var: &str, settings: &[String]) -> String {
    let closest = settings
        .iter()
        .map(|s| (strsim::damerau_levenshtein(&env_key(s), var), s))
        .min();
    match closest {
        Some((distance, s)) if distance <= 2 + var.len() / 8 => format!(
            "{var} is not a setting and is ignored; did you mean {} ({})?",
            env_key(s),
            s.replace('_', "-")
        ),
        _ => format!("{var} is not a setting and is ignored (see --help for every setting)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["client_id", "cookie_domain", "cookie_name"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn reads_only_settings_and_warns_about_other_sidecar_variables() {
        let env = MapSource::new([
            ("SIDECAR_CLIENT_ID", "abc"),
            ("CLIENT_ID", "no"),
            ("SIDECAR_LOG", "debug"),
            ("SIDECAR_COOKIE_DOMIAN", "x"),
            ("SIDECAR_NOPE", "x"),
        ]);
        let (table, warnings) = read(&env, &names());
        assert_eq!(table.len(), 1);
        assert_eq!(table["client_id"].as_str(), Some("abc"));
        assert_eq!(
            warnings,
            [
                "SIDECAR_COOKIE_DOMIAN is not a setting and is ignored; did you mean SIDECAR_COOKIE_DOMAIN (cookie-domain)?",
                "SIDECAR_NOPE is not a setting and is ignored (see --help for every setting)",
            ]
        );
    }

    #[test]
    fn names_map_to_env_keys() {
        assert_eq!(env_key("client_secret_file"), "SIDECAR_CLIENT_SECRET_FILE");
        assert_eq!(env_key("client-secret-file"), "SIDECAR_CLIENT_SECRET_FILE");
    }
}
