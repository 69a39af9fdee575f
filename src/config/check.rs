//! Records problems while text becomes typed values, naming each setting the
//! way the operator wrote it: `session-ttl` for flat settings, or
//! `provider[2].client_id` inside a table.

use std::path::Path;

use super::parse::{self, Parsed};
use super::problem::Problem;

/// `check!(c.optional(s.cookie_domain, parse::domain))`: the field's name is the setting's.
macro_rules! check {
    ($c:ident.$how:ident($s:ident.$field:ident, $parse:expr)) => {
        $c.$how(stringify!($field), &$s.$field, $parse)
    };
}
pub(crate) use check;

/// How one text value becomes a `T`, or what is wrong with it.
type Parser<T> = fn(&str) -> Parsed<T>;

pub(crate) struct Checker {
    pub problems: Vec<Problem>,
    /// Inside a table: its label (`provider[2]`) and what joins it to a key.
    table: Option<(String, &'static str)>,
}

impl Checker {
    pub fn new(problems: Vec<Problem>) -> Self {
        Self {
            problems,
            table: None,
        }
    }

    /// Inside a table, naming keys `{label}{joint}{key}` (`provider[2].client_id`, `route[1]: methods`).
    pub fn for_table(label: String, joint: &'static str) -> Self {
        Self {
            problems: Vec::new(),
            table: Some((label, joint)),
        }
    }

    /// A field (`client_id`) as a setting name: `client-id`, or the key inside a table.
    pub fn name(&self, field: &str) -> String {
        match &self.table {
            Some((label, joint)) => format!("{label}{joint}{field}"),
            None => field.replace('_', "-"),
        }
    }

    pub fn problem(&mut self, field: &str, message: impl Into<String>, got: Option<&str>) {
        let problem = Problem::new(&self.name(field), message, got.map(str::to_string));
        self.problems.push(problem);
    }

    /// A problem with a secret: the value is never shown.
    pub fn secret_problem(&mut self, field: &str, message: impl Into<String>) {
        self.problem(field, message, Some("[redacted]"));
    }

    /// A value that has a default, so it is always there.
    pub fn parse<T>(&mut self, field: &str, text: &str, parse: Parser<T>) -> Option<T> {
        parse(text)
            .map_err(|message| self.problem(field, message, Some(text)))
            .ok()
    }

    /// A setting with a default: a bad value is a problem and leaves `T`'s
    /// default, so the checks after it still run.
    pub fn value<T: Default>(&mut self, field: &str, text: &str, parse: Parser<T>) -> T {
        self.parse(field, text, parse).unwrap_or_default()
    }

    /// A value without a default; unset is fine.
    pub fn optional<T>(
        &mut self,
        field: &str,
        text: &Option<String>,
        parse: Parser<T>,
    ) -> Option<T> {
        self.parse(field, text.as_deref()?, parse)
    }

    /// A value without a default that must be set.
    pub fn required<T>(
        &mut self,
        field: &str,
        text: &Option<String>,
        parse: Parser<T>,
    ) -> Option<T> {
        if text.is_none() {
            self.problem(field, "is required but not set", None);
        }
        self.optional(field, text, parse)
    }

    /// A file a setting names, loaded at start: one that cannot be is a problem.
    pub fn file<T>(
        &mut self,
        field: &str,
        path: &Option<String>,
        load: impl FnOnce(&Path) -> Result<T, String>,
    ) -> Option<T> {
        let path = self.optional(field, path, parse::text)?;
        load(Path::new(&path))
            .map_err(|message| self.problem(field, message, Some(&path)))
            .ok()
    }

    /// Every item of a list; each bad one is a problem.
    pub fn list<T>(&mut self, field: &str, items: &[String], parse: Parser<T>) -> Vec<T> {
        items
            .iter()
            .filter_map(|i| self.parse(field, i, parse))
            .collect()
    }
}
