//! Where raw settings come from, and how the layers stack.
//!
//! Every setting has one name (the kebab-case flag name). From it follow the
//! environment variable (`SIDECAR_` + upper snake case) and the TOML key (snake
//! case). Layers are merged defaults < file < environment < flags; a secret and
//! its `*-file` form count as one setting, so a higher layer giving either one
//! replaces both below it.

use std::collections::{BTreeMap, HashMap};

use super::args::RunArgs;
use super::reader::{ConfigError, Problem};
use super::validate;
use super::{file, Config};
use crate::authz::Route;

/// Reads one environment-style variable; a parameter so tests never touch the
/// process environment.
pub trait Source {
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment. A value that is not UTF-8 is passed on with
/// replacement characters, so validation reports it instead of ignoring it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
    }
}

/// An in-memory environment for tests and embedding.
#[derive(Clone, Default)]
pub struct MapSource(pub HashMap<String, String>);

impl MapSource {
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Source for MapSource {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

/// Whether a setting takes one value or a list (repeated flag, comma list, TOML array).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    One,
    List,
}

/// One known setting.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    /// Values are shown as `[redacted]` in problems.
    pub secret: bool,
}

const fn one(name: &'static str) -> Setting {
    Setting {
        name,
        kind: Kind::One,
        secret: false,
    }
}

const fn list(name: &'static str) -> Setting {
    Setting {
        name,
        kind: Kind::List,
        secret: false,
    }
}

/// Every setting, by flag name. `config` itself is not here: it only names the file.
pub(crate) const SETTINGS: &[Setting] = &[
    list("listen"),
    one("upstream"),
    one("issuer-url"),
    one("discovery-url"),
    one("provider"),
    one("client-id"),
    Setting {
        name: "client-secret",
        kind: Kind::One,
        secret: true,
    },
    one("client-secret-file"),
    one("redirect-url"),
    one("sign-out-url"),
    Setting {
        name: "cookie-secret",
        kind: Kind::List,
        secret: true,
    },
    list("cookie-secret-file"),
    one("cookie-secure"),
    one("cookie-name"),
    one("cookie-domain"),
    list("allowed-redirect-domains"),
    list("trusted-proxies"),
    one("scope"),
    one("session-ttl"),
    one("session-idle-timeout"),
    one("session-refresh-interval"),
    one("session-max-bytes"),
    one("sessions-per-user"),
    one("session-store"),
    Setting {
        name: "redis-url",
        kind: Kind::One,
        secret: true,
    },
    one("redis-url-file"),
    one("redis-prefix"),
    one("redis-ca-file"),
    one("identity-provider"),
    one("allow-unverified-email"),
    one("bearer-tokens"),
    list("api-client-ids"),
    list("api-scopes"),
    one("groups-claim"),
    list("allowed-email-domains"),
    list("allowed-emails"),
    list("allowed-groups"),
    list("skip-auth-routes"),
    one("skip-auth-preflight"),
    one("proxy-prefix"),
    one("ping-path"),
    one("ready-path"),
    one("header-email"),
    one("header-name"),
    one("header-sub"),
    one("header-groups"),
    one("header-username"),
    one("identity-jwt"),
    one("identity-jwt-header"),
    one("identity-jwt-audience"),
    one("identity-jwt-ttl"),
    one("identity-jwt-key-file"),
    one("alb-headers"),
    one("alb-signer"),
    one("alb-key-file"),
    one("forward-auth-status"),
    one("forward-auth-redirect"),
    one("forward-auth-ingress"),
    one("forward-auth-method-header"),
    one("forward-auth-url-header"),
    one("forward-auth-host-header"),
    one("h2c"),
    one("metrics-address"),
    one("log-format"),
    one("tls-cert-file"),
    one("tls-key-file"),
    one("upstream-ca-file"),
    one("pass-host-header"),
    one("idp-connect-timeout"),
    one("idp-timeout"),
    one("upstream-connect-timeout"),
    one("upstream-timeout"),
    one("client-header-timeout"),
    one("idle-timeout"),
    one("shutdown-grace"),
    one("max-header-bytes"),
    one("max-connections"),
    one("workers"),
    one("max-idp-body-bytes"),
    one("max-pending-logins"),
];

/// A secret and its file form: one logical setting.
const PAIRS: &[(&str, &str)] = &[
    ("client-secret", "client-secret-file"),
    ("cookie-secret", "cookie-secret-file"),
    ("redis-url", "redis-url-file"),
];

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "SIDECAR_CONFIG";

pub(crate) fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// `client-secret-file` -> `SIDECAR_CLIENT_SECRET_FILE`.
pub fn env_key(name: &str) -> String {
    format!("SIDECAR_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// `client-secret-file` -> `client_secret_file`.
pub fn toml_key(name: &str) -> String {
    name.replace('-', "_")
}

/// The raw values one layer gives, by setting name.
pub(crate) struct Layer {
    /// Where the values came from, for messages ("the environment").
    pub origin: &'static str,
    pub values: BTreeMap<&'static str, Vec<String>>,
    /// `[[route]]` tables, already checked; only the config file has them.
    pub routes: Option<Vec<Route>>,
    /// `[[provider]]` tables, checked when the whole config is validated.
    pub providers: Option<Vec<toml::Table>>,
}

impl Layer {
    pub fn new(origin: &'static str) -> Self {
        Self {
            origin,
            values: BTreeMap::new(),
            routes: None,
            providers: None,
        }
    }
}

/// The merged raw values, highest layer winning.
#[derive(Default)]
pub(crate) struct Raw {
    values: BTreeMap<&'static str, Vec<String>>,
    pub routes: Vec<Route>,
    pub providers: Vec<toml::Table>,
}

impl Raw {
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.values.get(name).map(Vec::as_slice)
    }

    pub fn set(&mut self, name: &'static str, values: Vec<String>) {
        self.values.insert(name, values);
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Self {
        let mut raw = Raw::default();
        for (name, value) in pairs {
            raw.values
                .entry(name)
                .or_default()
                .push((*value).to_string());
        }
        raw
    }
}

/// Every `SIDECAR_*` variable that is set.
pub(crate) fn env_layer(env: &dyn Source) -> Layer {
    let mut layer = Layer::new("the environment");
    for s in SETTINGS {
        if let Some(value) = env.get(&env_key(s.name)) {
            layer.values.insert(s.name, vec![value]);
        }
    }
    layer
}

/// Stacks the layers, lowest first. Giving a secret and its file in one layer is a problem.
pub(crate) fn merge(layers: Vec<Layer>, problems: &mut Vec<Problem>) -> Raw {
    let mut raw = Raw::default();
    for mut layer in layers {
        if let Some(routes) = layer.routes.take() {
            raw.routes = routes;
        }
        if let Some(providers) = layer.providers.take() {
            raw.providers = providers;
        }
        for (a, b) in PAIRS {
            if layer.values.contains_key(a) && layer.values.contains_key(b) {
                let message = format!("set together with {b} in {}; use one", layer.origin);
                problems.push(Problem::new(a, message, None));
                // Neither counts, so the conflict is the only line about them.
                layer.values.remove(a);
                layer.values.remove(b);
            }
        }
        for (name, value) in layer.values {
            for (a, b) in PAIRS {
                if name == *a {
                    raw.values.remove(b);
                } else if name == *b {
                    raw.values.remove(a);
                }
            }
            raw.values.insert(name, value);
        }
    }
    raw
}

impl Config {
    /// Loads defaults < TOML file (`--config`, `SIDECAR_CONFIG`) < environment <
    /// flags, then validates everything, reporting every problem at once.
    pub fn load(args: &RunArgs, env: &dyn Source) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut layers = Vec::new();
        let path = args.config.clone().or_else(|| {
            env.get(CONFIG_ENV)
                .filter(|p| !p.is_empty())
                .map(Into::into)
        });
        if let Some(path) = path {
            // An unreadable file would make every setting in it look missing: stop here.
            layers.push(
                file::read_toml(&path, &mut problems)
                    .ok_or_else(|| ConfigError(problems.clone()))?,
            );
        }
        layers.push(env_layer(env));
        layers.push(args.layer());
        let raw = merge(layers, &mut problems);
        validate::build(&raw, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(origin: &'static str, pairs: &[(&'static str, &str)]) -> Layer {
        let mut l = Layer::new(origin);
        for (k, v) in pairs {
            l.values.insert(k, vec![(*v).to_string()]);
        }
        l
    }

    #[test]
    fn names_map_to_env_and_toml_keys() {
        assert_eq!(env_key("client-secret-file"), "SIDECAR_CLIENT_SECRET_FILE");
        assert_eq!(env_key("listen"), "SIDECAR_LISTEN");
        assert_eq!(toml_key("client-secret-file"), "client_secret_file");
    }

    #[test]
    fn setting_names_are_unique_kebab_case() {
        let mut names: Vec<_> = SETTINGS.iter().map(|s| s.name).collect();
        assert!(names
            .iter()
            .all(|n| n.starts_with(|c: char| c.is_ascii_lowercase())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
    }

    #[test]
    fn env_layer_reads_only_sidecar_keys() {
        let env = MapSource::new([
            ("SIDECAR_CLIENT_ID", "abc"),
            ("CLIENT_ID", "no"),
            ("SIDECAR_NOPE", "x"),
        ]);
        let l = env_layer(&env);
        assert_eq!(l.values.len(), 1);
        assert_eq!(l.values["client-id"], vec!["abc".to_string()]);
    }

    #[test]
    fn higher_layer_wins_and_replaces_the_other_form_of_a_secret() {
        let mut problems = Vec::new();
        let file = layer(
            "the config file",
            &[("client-secret-file", "/s"), ("scope", "openid a")],
        );
        let env = layer(
            "the environment",
            &[("client-secret", "inline"), ("client-id", "e")],
        );
        let flags = layer("the command line", &[("client-id", "f")]);
        let raw = merge(vec![file, env, flags], &mut problems);
        assert!(problems.is_empty());
        assert_eq!(raw.get("client-secret-file"), None);
        assert_eq!(raw.get("client-secret"), Some(&["inline".to_string()][..]));
        assert_eq!(raw.get("client-id"), Some(&["f".to_string()][..]));
        assert_eq!(raw.get("scope"), Some(&["openid a".to_string()][..]));
    }

    #[test]
    fn secret_and_its_file_in_one_layer_is_a_problem() {
        let mut problems = Vec::new();
        let env = layer(
            "the environment",
            &[("cookie-secret", "x"), ("cookie-secret-file", "/f")],
        );
        merge(vec![env], &mut problems);
        assert_eq!(problems.len(), 1);
        let line = problems[0].to_string();
        assert!(
            line.starts_with(
                "cookie-secret: set together with cookie-secret-file in the environment"
            ),
            "{line}"
        );
    }
}
