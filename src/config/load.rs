//! Stacking the layers: defaults < TOML file < `SIDECAR_*` environment < flags.
//! Each layer is a TOML table keyed by setting; the merged table becomes one
//! [`Settings`] (what no layer gives comes from `Settings::default()`), then
//! `validate` checks it.

use std::path::Path;

use toml::{Table, Value};

use super::args::{setting_names, RunArgs};
use super::problem::{ConfigError, Problem};
use super::settings::Settings;
use super::source::{self, Source, CONFIG_ENV};
use super::{file, validate, Config};

/// A secret and its file form count as one setting: a higher layer giving
/// either replaces both below it, and one layer must not give both.
const PAIRS: [(&str, &str); 3] = [
    ("client_secret", "client_secret_file"),
    ("cookie_secret", "cookie_secret_file"),
    ("redis_url", "redis_url_file"),
];

impl Config {
    /// Loads defaults < TOML file (`--config`, `SIDECAR_CONFIG`) < environment <
    /// flags, then validates everything, reporting every problem at once.
    /// Unknown `SIDECAR_*` variables end up in [`Config::warnings`], or as
    /// `warning:` lines after the problems when the configuration is invalid.
    pub fn load(args: &RunArgs, env: &dyn Source) -> Result<Config, ConfigError> {
        let names = setting_names();
        let mut problems = Vec::new();
        let path = args.config.clone().or_else(|| {
            let path = env.get(CONFIG_ENV).filter(|p| !p.is_empty());
            path.map(Into::into)
        });
        let (env_table, warnings) = source::read(env, &names);
        let flags = args.flags.clone();
        let problems = match layered(path.as_deref(), &names, env_table, flags, &mut problems) {
            Err(ConfigError(problems)) => problems,
            Ok(settings) => match validate::validate(&settings) {
                Ok(config) if problems.is_empty() => return Ok(Config { warnings, ..config }),
                Ok(_) => problems,
                Err(more) => problems.into_iter().chain(more).collect(),
            },
        };
        // A misspelt variable is most often why a setting is missing: say so
        // beside the problems instead of after a start that never comes.
        let warnings = warnings
            .into_iter()
            .map(|w| Problem::new("warning", w, None));
        Err(ConfigError(problems.into_iter().chain(warnings).collect()))
    }
}

impl Settings {
    /// The TOML file at `path` over the defaults, checked like `--config`
    /// (unknown keys, bad values): for programs and tests that then set more
    /// in code before [`validate`](super::validate).
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let mut problems = Vec::new();
        let (env, flags) = (Table::new(), Table::new());
        let settings = layered(Some(path), &setting_names(), env, flags, &mut problems)?;
        match problems.is_empty() {
            true => Ok(settings),
            false => Err(ConfigError(problems)),
        }
    }
}

/// The file (if any) < the environment < the flags, as one [`Settings`];
/// `Err` only when no settings can be made at all.
fn layered(
    path: Option<&Path>,
    names: &[String],
    env: Table,
    flags: Table,
    problems: &mut Vec<Problem>,
) -> Result<Settings, ConfigError> {
    let file = match path {
        // An unreadable file would make every setting in it look missing: stop here.
        Some(path) => {
            file::read(path, names, problems).ok_or_else(|| ConfigError(problems.clone()))?
        }
        None => file::FileLayer::default(),
    };
    let layers = [
        ("the config file", file.settings),
        ("the environment", env),
        ("the command line", flags),
    ];
    let merged = merge(layers, problems);
    let settings: Settings = Value::Table(merged).try_into().map_err(|e| {
        problems.push(Problem::new("config", e.message().to_string(), None));
        ConfigError(problems.clone())
    })?;
    Ok(Settings {
        providers: file.providers.unwrap_or_default(),
        routes: file.routes.unwrap_or_default(),
        ..settings
    })
}

/// The layers, lowest first, highest winning. A blank value means "unset":
/// it clears what lower layers gave, and the default applies.
fn merge(layers: [(&str, Table); 3], problems: &mut Vec<Problem>) -> Table {
    let mut merged = Table::new();
    for (origin, mut layer) in layers {
        for (a, b) in PAIRS {
            if layer.contains_key(a) && layer.contains_key(b) {
                let message = format!(
                    "set together with {} in {origin}; use one",
                    b.replace('_', "-")
                );
                problems.push(Problem::new(&a.replace('_', "-"), message, None));
                // Neither counts, so the conflict is the only line about them.
                layer.remove(a);
                layer.remove(b);
            }
        }
        for (key, value) in layer {
            for (a, b) in PAIRS {
                if key == a {
                    merged.remove(b);
                } else if key == b {
                    merged.remove(a);
                }
            }
            merged.insert(key, value);
        }
    }
    merged.retain(|_, v| !v.as_str().is_some_and(|s| s.trim().is_empty()));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> Table {
        let pairs = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())));
        pairs.collect()
    }

    #[test]
    fn higher_layer_wins_and_replaces_the_other_form_of_a_secret() {
        let mut problems = Vec::new();
        let file = table(&[
            ("client_secret_file", "/s"),
            ("scope", "openid a"),
            ("cookie_name", "c"),
        ]);
        let env = table(&[
            ("client_secret", "inline"),
            ("client_id", "e"),
            ("cookie_name", " "),
        ]);
        let flags = table(&[("client_id", "f")]);
        let merged = merge(
            [("file", file), ("env", env), ("flags", flags)],
            &mut problems,
        );
        assert!(problems.is_empty());
        assert_eq!(merged.get("client_secret_file"), None);
        assert_eq!(merged["client_secret"].as_str(), Some("inline"));
        assert_eq!(merged["client_id"].as_str(), Some("f"));
        assert_eq!(merged["scope"].as_str(), Some("openid a"));
        assert_eq!(merged.get("cookie_name"), None, "blank clears it");
    }

    #[test]
    fn secret_and_its_file_in_one_layer_is_a_problem() {
        let mut problems = Vec::new();
        let env = table(&[("cookie_secret", "x"), ("cookie_secret_file", "/f")]);
        let merged = merge(
            [
                ("", Table::new()),
                ("the environment", env),
                ("", Table::new()),
            ],
            &mut problems,
        );
        assert!(merged.is_empty());
        assert_eq!(
            problems[0].to_string(),
            "cookie-secret: set together with cookie-secret-file in the environment; use one"
        );
    }

    /// The modules of `src/config/` each file imports with `use super::..`
    /// (outside its tests); `mod.rs`, which only declares and re-exports, is left out.
    fn imports() -> Vec<(String, Vec<String>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let module = |p: &std::path::Path| p.file_stem().unwrap().to_str().unwrap().to_string();
        let modules: Vec<String> = files.iter().map(|p| module(p)).collect();
        let mut out = Vec::new();
        for path in files.iter().filter(|p| module(p) != "mod") {
            let text = std::fs::read_to_string(path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let mut used = Vec::new();
            for part in code.split("use super::").skip(1) {
                let names = match part.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap().split(',').collect(),
                    None => vec![part],
                };
                for name in names {
                    let name = name
                        .trim()
                        .split(|c: char| !c.is_alphanumeric() && c != '_');
                    let name = name.into_iter().next().unwrap().to_string();
                    if modules.contains(&name) && name != "mod" {
                        used.push(name);
                    }
                }
            }
            out.push((module(path), used));
        }
        out
    }

    #[test]
    fn config_modules_import_each_other_without_a_circle() {
        let graph = imports();
        assert!(graph
            .iter()
            .any(|(m, used)| m == "validate" && used.contains(&"store".into())));
        // Peel off modules that import nothing left; a circle would remain.
        let mut left = graph;
        while let Some(i) = left
            .iter()
            .position(|(_, used)| used.iter().all(|u| !left.iter().any(|(m, _)| m == u)))
        {
            left.remove(i);
        }
        assert!(left.is_empty(), "modules in an import circle: {left:?}");
    }
}
