//! Files: the TOML config file (one layer) and secret files (`*-file` settings).

use std::path::Path;

use super::reader::Problem;
use super::source::{toml_key, Kind, Layer, SETTINGS};

/// Reads the TOML config file into a layer. `None` when it cannot be read or
/// parsed at all (the problem is recorded); unknown keys and values of the wrong
/// type are recorded too, and the rest of the file still counts.
pub(crate) fn read_toml(path: &Path, problems: &mut Vec<Problem>) -> Option<Layer> {
    let shown = Some(path.display().to_string());
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem::new(
                "config",
                format!("cannot read the file: {e}"),
                shown,
            ));
            return None;
        }
    };
    match text.parse::<toml::Table>() {
        Ok(table) => Some(table_layer(table, problems)),
        Err(e) => {
            // Only the parser's message and a line number: the snippet could hold a secret.
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            problems.push(Problem::new(
                "config",
                format!("not valid TOML{at}: {}", e.message().trim()),
                shown,
            ));
            None
        }
    }
}

fn table_layer(table: toml::Table, problems: &mut Vec<Problem>) -> Layer {
    let mut layer = Layer::new("the config file");
    for (key, value) in table {
        if key == "provider" {
            if let toml::Value::Array(items) = &value {
                let tables = items
                    .iter()
                    .filter_map(|v| v.as_table().cloned())
                    .collect::<Vec<_>>();
                if tables.len() != items.len() {
                    let message = "[[provider]] entries must be tables".to_string();
                    problems.push(Problem::new("provider", message, None));
                }
                layer.providers = Some(tables);
                continue;
            }
        }
        if key == "route" {
            layer.routes = Some(super::routes::read_routes(value, problems));
            continue;
        }
        let Some(s) = SETTINGS.iter().find(|s| toml_key(s.name) == key) else {
            problems.push(Problem::new(
                "config",
                "unknown key in the config file".into(),
                Some(key),
            ));
            continue;
        };
        match toml_values(s.kind, value) {
            Ok(values) => {
                layer.values.insert(s.name, values);
            }
            Err(message) => problems.push(Problem::new(
                s.name,
                format!("{message} in the config file"),
                None,
            )),
        }
    }
    layer
}

/// A TOML value as raw strings: scalars as written, arrays only for list settings.
pub(crate) fn toml_values(kind: Kind, value: toml::Value) -> Result<Vec<String>, String> {
    match (kind, value) {
        (Kind::List, toml::Value::Array(items)) => items.into_iter().map(scalar).collect(),
        (Kind::One, toml::Value::Array(_)) => Err("expected one value, not a list".into()),
        (_, v) => Ok(vec![scalar(v)?]),
    }
}

fn scalar(value: toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a string, integer or boolean, not a {}",
            other.type_str()
        )),
    }
}

/// A secret file's bytes with trailing line breaks removed (editors and
/// `echo` add them; Kubernetes secrets often keep them).
pub(crate) fn read_secret(path: &str) -> Result<Vec<u8>, String> {
    let mut bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    Ok(bytes)
}

/// The cookie secrets in one file: one per line, blank lines ignored.
pub(crate) fn read_secret_lines(path: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = read_secret(path)?;
    Ok(bytes
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
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

    #[test]
    fn toml_keys_are_snake_case_and_values_become_strings() {
        let f = write("client_id = \"abc\"\ncookie_secure = false\nsessions_per_user = 3\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
        let mut problems = Vec::new();
        let layer = read_toml(f.path(), &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(layer.values["client-id"], vec!["abc"]);
        assert_eq!(layer.values["cookie-secure"], vec!["false"]);
        assert_eq!(layer.values["sessions-per-user"], vec!["3"]);
        assert_eq!(layer.values["listen"], vec!["127.0.0.1:1", "127.0.0.1:2"]);
    }

    #[test]
    fn unknown_keys_kebab_keys_and_wrong_types_are_problems() {
        let f = write("clientid = \"x\"\n\"client-id\" = \"y\"\nupstream = [\"a\"]\nscope = 1.5\n");
        let mut problems = Vec::new();
        let layer = read_toml(f.path(), &mut problems).unwrap();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{text:?}");
        assert!(
            text.contains(&"config: unknown key in the config file (got \"clientid\")".to_string())
        );
        assert!(text
            .contains(&"config: unknown key in the config file (got \"client-id\")".to_string()));
        assert!(text
            .contains(&"upstream: expected one value, not a list in the config file".to_string()));
        assert!(text
            .iter()
            .any(|t| t.starts_with("scope: expected a string, integer or boolean")));
        assert!(layer.values.is_empty());
    }

    #[test]
    fn bad_toml_names_the_line_but_not_the_text() {
        let f = write("client_id = \"a\"\ncookie_secret = \"hunter2hunter2\n");
        let mut problems = Vec::new();
        assert!(read_toml(f.path(), &mut problems).is_none());
        let line = problems[0].to_string();
        assert!(
            line.starts_with("config: not valid TOML at line 2"),
            "{line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
    }

    #[test]
    fn missing_file_is_a_problem() {
        let mut problems = Vec::new();
        assert!(read_toml(Path::new("/nonexistent/sidecar.toml"), &mut problems).is_none());
        assert!(problems[0].to_string().contains("cannot read the file"));
    }

    #[test]
    fn secret_files_lose_trailing_newlines_only() {
        let f = write("  s3cret \r\n\n");
        assert_eq!(
            read_secret(f.path().to_str().unwrap()).unwrap(),
            b"  s3cret "
        );
        let empty = write("\n");
        assert_eq!(
            read_secret(empty.path().to_str().unwrap()).unwrap_err(),
            "the file is empty"
        );
        let lines = write("first\r\n\nsecond\n");
        let got = read_secret_lines(lines.path().to_str().unwrap()).unwrap();
        assert_eq!(got, vec![b"first".to_vec(), b"second".to_vec()]);
    }
}
