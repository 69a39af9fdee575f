//! The layering documented in `lib.rs`, checked: every `crate::` path in the
//! library's code (test modules aside) must point down the stack, or along one
//! of the few sideways edges listed here. A new module must be placed here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module's layer, as `lib.rs` documents it.
const LAYERS: &[(&str, u8)] = &[
    ("secret", 0),
    ("body", 0),
    ("identity", 0),
    ("identity_values", 0),
    ("authz", 0),
    ("pem", 0),
    ("metrics", 0),
    ("tokens", 0),
    ("clock", 0),
    ("config", 1),
    ("provider", 2),
    ("session", 2),
    ("identity_jwt", 2),
    ("logging", 2),
    ("flow", 3),
    ("http", 4),
    ("proxy", 4),
    ("forward_auth", 4),
    ("server", 5),
    ("check", 5),
    ("healthcheck", 5),
];

/// Imports within one layer that the documentation allows.
const SIDEWAYS: &[(&str, &str)] = &[
    ("authz", "identity"),
    ("identity_values", "identity"),
    ("tokens", "secret"),
    ("http", "proxy"),
    ("forward_auth", "http"),
    ("forward_auth", "proxy"),
    ("server", "check"),
];

/// Beside the stack: they may use all of it, and nothing in it uses them.
const BESIDE: &[&str] = &["demo", "bench_seed"];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Whether `from` may import `to` under the documented layering.
fn allowed(from: &str, to: &str) -> Result<bool, String> {
    if from == to || BESIDE.contains(&from) {
        return Ok(true);
    }
    if BESIDE.contains(&to) {
        return Ok(false);
    }
    let unplaced = |m: &str| format!("module `{m}` has no layer: add it to LAYERS and lib.rs");
    let f = layer(from).ok_or_else(|| unplaced(from))?;
    let t = layer(to).ok_or_else(|| unplaced(to))?;
    Ok(t < f || (t == f && SIDEWAYS.contains(&(from, to))))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code lines of a file, without comments and without the trailing
/// `#[cfg(test)] mod tests` (test code may reach anywhere).
fn code_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|l| l.trim_start()).unwrap_or("");
            if next.contains("mod tests") {
                break;
            }
            lines.next(); // the one test-only item, e.g. a `use`
            continue;
        }
        if !t.starts_with("//") {
            out.push(line);
        }
    }
    out
}

/// The top-level modules a piece of code names through `crate::`, including
/// each branch of `crate::{a::X, b}`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(group.split(',').map(ident).filter(|m| !m.is_empty()));
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

#[test]
fn every_crate_import_follows_the_documented_layering() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let from = first.to_str().unwrap().trim_end_matches(".rs");
        // The crate roots and this test are not layers; `tests.rs` files are test modules.
        if ["lib", "main", "layering"].contains(&from) || file.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let code = code_lines(&text).join("\n");
        for to in crate_modules(&code) {
            match allowed(from, &to) {
                Ok(true) => {}
                Ok(false) => wrong.push(format!("{}: {from} imports {to}", relative.display())),
                Err(unplaced) => wrong.push(format!("{}: {unplaced}", relative.display())),
            }
        }
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    assert!(
        wrong.is_empty(),
        "imports against lib.rs's layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_upward_and_grouped_imports() {
    let code = code_lines(
        "use crate::{provider::X, session};\n// use crate::server;\nlet x = crate::flow::f();\n\
         #[cfg(test)]\nuse crate::proxy;\n#[cfg(test)]\nmod tests {\nuse crate::check;\n}",
    )
    .join("\n");
    let found: Vec<String> = crate_modules(&code).into_iter().collect();
    assert_eq!(found, ["flow", "provider", "session"]);
    assert_eq!(allowed("session", "provider"), Ok(false));
    assert_eq!(allowed("flow", "http"), Ok(false));
    assert_eq!(allowed("http", "flow"), Ok(true));
    assert_eq!(allowed("authz", "identity"), Ok(true));
    assert!(allowed("nowhere", "flow").is_err());
}
