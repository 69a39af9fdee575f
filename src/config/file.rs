//! The TOML config file: its top-level keys are settings, `[[provider]]` and
//! `[[route]]` are tables of their own. Each key is checked on its own, so a
//! bad value or unknown key is one problem and the rest of the file still counts.

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::problem::Problem;
use super::settings::{ProviderTable, RouteSettings, Settings};

/// What the file gives: top-level settings, provider and route tables.
#[derive(Default)]
pub(crate) struct FileLayer {
    pub settings: Table,
    pub providers: Option<Vec<ProviderTable>>,
    pub routes: Option<Vec<RouteSettings>>,
}

/// Reads the file; `None` when it cannot be read or parsed at all (the problem is recorded).
pub(crate) fn read(
    path: &Path,
    names: &[String],
    problems: &mut Vec<Problem>,
) -> Option<FileLayer> {
    let shown = Some(path.display().to_string());
    let text = std::fs::read_to_string(path)
        .map_err(|e| {
            problems.push(Problem::new(
                "config",
                format!("cannot read the file: {e}"),
                shown.clone(),
            ))
        })
        .ok()?;
    let mut table = match text.parse::<Table>() {
        Ok(table) => table,
        Err(e) => {
            // Only the parser's message and a line number: the snippet could hold a secret.
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            let message = format!("not valid TOML{at}: {}", e.message().trim());
            problems.push(Problem::new("config", message, shown));
            return None;
        }
    };
    let mut layer = FileLayer::default();
    if let Some(value) = table.remove("route") {
        layer.routes = Some(tables("route", value, problems));
    }
    if let Some(value) = table.remove("provider") {
        match value {
            Value::Array(_) => layer.providers = Some(tables("provider", value, problems)),
            value => drop(table.insert("provider".into(), value)),
        }
    }
    for (key, value) in table {
        if !names.contains(&key) {
            let message = "unknown key in the config file";
            problems.push(Problem::new("config", message, Some(key)));
            continue;
        }
        let setting = key.replace('_', "-");
        let value = match text_values(value) {
            Ok(value) => value,
            Err(message) => {
                problems.push(Problem::new(
                    &setting,
                    format!("{message} in the config file"),
                    None,
                ));
                continue;
            }
        };
        let one = Table::from_iter([(key.clone(), value.clone())]);
        if Value::Table(one).try_into::<Settings>().is_err() {
            let message = "expected one value, not a list in the config file";
            problems.push(Problem::new(&setting, message, None));
            continue;
        }
        layer.settings.insert(key, value);
    }
    Some(layer)
}

/// Scalars as text, as the environment and flags give them; lists of them.
fn text_values(value: Value) -> Result<Value, String> {
    match value {
        Value::String(_) => Ok(value),
        Value::Integer(i) => Ok(Value::String(i.to_string())),
        Value::Boolean(b) => Ok(Value::String(b.to_string())),
        Value::Array(items) => {
            let scalar = |v: Value| match v {
                Value::Array(_) => {
                    Err("expected a list of values, not a list of lists".to_string())
                }
                v => text_values(v),
            };
            items
                .into_iter()
                .map(scalar)
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        other => Err(format!(
            "expected a string, integer or boolean, not a {}",
            other.type_str()
        )),
    }
}

/// `[[name]]` tables, each read key by key (bad keys left out, so the rest is still checked).
fn tables<T: DeserializeOwned + Default + Unknown>(
    name: &str,
    value: Value,
    problems: &mut Vec<Problem>,
) -> Vec<T> {
    let Value::Array(items) = value else {
        let message = format!("must be an array of tables, written [[{name}]]");
        problems.push(Problem::new(name, message, None));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let label = format!("{name}[{}]", i + 1);
        let Value::Table(table) = item else {
            problems.push(Problem::new(&label, "must be a table", None));
            continue;
        };
        out.push(table_keys::<T>(&label, table, problems));
    }
    out
}

/// Types whose unknown keys land in a catch-all table.
pub(crate) trait Unknown {
    fn unknown(&self) -> &Table;
}

impl Unknown for ProviderTable {
    fn unknown(&self) -> &Table {
        &self.unknown
    }
}

impl Unknown for RouteSettings {
    fn unknown(&self) -> &Table {
        &self.unknown
    }
}

fn table_keys<T: DeserializeOwned + Default + Unknown>(
    label: &str,
    table: Table,
    problems: &mut Vec<Problem>,
) -> T {
    let mut good = Table::new();
    for (key, value) in table {
        let value = match text_values(value) {
            Ok(value) => value,
            Err(message) => {
                problems.push(Problem::new(label, format!("{key}: {message}"), None));
                continue;
            }
        };
        if value.as_str().is_some_and(|s| s.trim().is_empty()) {
            continue; // blank means unset, as in every layer
        }
        let one = Table::from_iter([(key.clone(), value.clone())]);
        match Value::Table(one).try_into::<T>() {
            Ok(t) if t.unknown().is_empty() => drop(good.insert(key, value)),
            Ok(_) => problems.push(Problem::new(label, "unknown key", Some(key))),
            // Scalars are text by now: only a list given for one value fails.
            Err(_) => {
                let message = format!("{key}: expected one value, not a list");
                problems.push(Problem::new(label, message, None));
            }
        }
    }
    Value::Table(good).try_into().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn names() -> Vec<String> {
        super::super::args::setting_names()
    }

    fn lines(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn scalars_become_text_and_lists_stay_lists() {
        let f = write("client_id = \"abc\"\ncookie_secure = false\nsessions_per_user = 3\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
        let mut problems = Vec::new();
        let layer = read(f.path(), &names(), &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let s = &layer.settings;
        assert_eq!(s["client_id"].as_str(), Some("abc"));
        assert_eq!(s["cookie_secure"].as_str(), Some("false"));
        assert_eq!(s["sessions_per_user"].as_str(), Some("3"));
        assert_eq!(s["listen"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn unknown_keys_kebab_keys_and_wrong_types_are_problems() {
        let f = write("clientid = \"x\"\n\"client-id\" = \"y\"\nupstream = [\"a\"]\nscope = 1.5\n");
        let mut problems = Vec::new();
        let layer = read(f.path(), &names(), &mut problems).unwrap();
        let text = lines(&problems);
        assert_eq!(
            text,
            [
                r#"config: unknown key in the config file (got "client-id")"#,
                r#"config: unknown key in the config file (got "clientid")"#,
                "scope: expected a string, integer or boolean, not a float in the config file",
                "upstream: expected one value, not a list in the config file",
            ]
        );
        assert!(layer.settings.is_empty());
    }

    #[test]
    fn bad_toml_names_the_line_but_not_the_text() {
        let f = write("client_id = \"a\"\ncookie_secret = \"hunter2hunter2\n");
        let mut problems = Vec::new();
        assert!(read(f.path(), &names(), &mut problems).is_none());
        let line = problems[0].to_string();
        assert!(
            line.starts_with("config: not valid TOML at line 2"),
            "{line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
        assert!(read(
            Path::new("/nonexistent/sidecar.toml"),
            &names(),
            &mut problems
        )
        .is_none());
        assert!(problems[1].to_string().contains("cannot read the file"));
    }

    #[test]
    fn every_bad_table_key_is_one_line() {
        let f = write(
            r#"
            [[route]]
            hosts = "x"
            methods = [["GET"]]
            [[route]]
            path_prefix = "/fine"
            [[provider]]
            name = "a"
            client_id = ["x", "y"]
            colour = 1
            "#,
        );
        let mut problems = Vec::new();
        let layer = read(f.path(), &names(), &mut problems).unwrap();
        assert_eq!(
            lines(&problems),
            [
                r#"route[1]: unknown key (got "hosts")"#,
                "route[1]: methods: expected a list of values, not a list of lists",
                "provider[1]: client_id: expected one value, not a list",
                r#"provider[1]: unknown key (got "colour")"#,
            ]
        );
        let routes = layer.routes.unwrap();
        assert_eq!(routes.len(), 2, "the rest of a table is still checked");
        assert_eq!(routes[1].path_prefix.as_deref(), Some("/fine"));
        assert_eq!(layer.providers.unwrap()[0].name.as_deref(), Some("a"));
        let f = write("provider = \"oidc\"\n");
        let layer = read(f.path(), &names(), &mut problems).unwrap();
        assert_eq!(layer.settings["provider"].as_str(), Some("oidc"));
    }

    #[test]
    fn route_must_be_an_array_of_tables() {
        let f = write("route = \"x\"\n");
        let mut problems = Vec::new();
        read(f.path(), &names(), &mut problems).unwrap();
        let f = write("route = [1]\n");
        read(f.path(), &names(), &mut problems).unwrap();
        assert_eq!(
            lines(&problems),
            [
                "route: must be an array of tables, written [[route]]",
                "route[1]: must be a table"
            ]
        );
    }
}
