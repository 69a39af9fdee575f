//! Problems, and the reader that records them while turning raw values into types.

use std::fmt;

use super::parse;
use super::source::{setting, Kind, Raw};

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The setting's flag name (`client-id`), or `config` for the file itself.
    pub setting: String,
    /// What is wrong.
    pub message: String,
    /// The offending value, already `[redacted]` for secrets.
    pub got: Option<String>,
}

impl Problem {
    pub fn new(setting: &str, message: String, got: Option<String>) -> Self {
        Self {
            setting: setting.to_string(),
            message,
            got,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)?;
        match &self.got {
            Some(got) => write!(f, " (got {got:?})"),
            None => Ok(()),
        }
    }
}

/// Every problem found, one per line when displayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads settings out of the merged layers, recording problems.
pub(crate) struct Reader<'a> {
    raw: &'a Raw,
    pub problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    pub fn new(raw: &'a Raw, problems: Vec<Problem>) -> Self {
        Self { raw, problems }
    }

    /// The single value of a setting (the last, should a list arrive).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.raw
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub fn problem(&mut self, name: &str, message: impl Into<String>, got: Option<&str>) {
        let secret = setting(name).is_some_and(|s| s.secret);
        let got = got.map(|g| {
            if secret {
                "[redacted]".to_string()
            } else {
                g.to_string()
            }
        });
        self.problems.push(Problem::new(name, message.into(), got));
    }

    pub fn check<T>(
        &mut self,
        name: &str,
        value: &str,
        parse: fn(&str) -> parse::Parsed<T>,
    ) -> Option<T> {
        parse(value)
            .map_err(|message| self.problem(name, message, Some(value)))
            .ok()
    }

    /// A required setting; unset or empty is a problem.
    pub fn required<T>(&mut self, name: &str, parse: fn(&str) -> parse::Parsed<T>) -> Option<T> {
        match self.value(name).map(str::to_string) {
            Some(v) if !v.trim().is_empty() => self.check(name, &v, parse),
            _ => {
                self.problem(name, "is required but not set", None);
                None
            }
        }
    }

    /// An optional setting; an empty value means unset (so a higher layer can clear it).
    pub fn optional<T>(&mut self, name: &str, parse: fn(&str) -> parse::Parsed<T>) -> Option<T> {
        let v = self.value(name)?.to_string();
        if v.trim().is_empty() {
            return None;
        }
        self.check(name, &v, parse)
    }

    /// A setting with a default, used when unset, empty or invalid (the last is a problem).
    pub fn or<T>(&mut self, name: &str, default: T, parse: fn(&str) -> parse::Parsed<T>) -> T {
        self.optional(name, parse).unwrap_or(default)
    }

    /// The items of a list setting: each value split on commas, blanks dropped.
    pub fn items(&self, name: &str) -> Option<Vec<String>> {
        debug_assert!(setting(name).is_some_and(|s| s.kind == Kind::List));
        let values = self.raw.get(name)?;
        let split = values.iter().flat_map(|v| v.split(',')).map(str::trim);
        Some(
            split
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// A list setting; when set (even to empty) it replaces the default.
    pub fn list<T>(
        &mut self,
        name: &str,
        default: Vec<T>,
        parse: fn(&str) -> parse::Parsed<T>,
    ) -> Vec<T> {
        match self.items(name) {
            None => default,
            Some(items) => items
                .iter()
                .filter_map(|i| self.check(name, i, parse))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_lines_have_the_agreed_shape() {
        let p = Problem::new(
            "session-ttl",
            "must be more than zero".into(),
            Some("0".into()),
        );
        assert_eq!(
            p.to_string(),
            r#"session-ttl: must be more than zero (got "0")"#
        );
        let e = ConfigError(vec![
            p.clone(),
            Problem::new("client-id", "is required but not set".into(), None),
        ]);
        assert_eq!(
            e.to_string(),
            "session-ttl: must be more than zero (got \"0\")\nclient-id: is required but not set"
        );
    }

    #[test]
    fn reader_redacts_secret_settings_only() {
        let raw = Raw::from_pairs(&[("client-secret", "hunter2"), ("scope", "x")]);
        let mut r = Reader::new(&raw, Vec::new());
        assert_eq!(r.required("client-secret", parse::count), None);
        assert_eq!(r.or("scope", String::new(), parse::scope), "");
        let got: Vec<String> = r.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                r#"client-secret: must be a whole number (got "[redacted]")"#,
                r#"scope: must contain openid (got "x")"#
            ]
        );
    }
}
