//! How list settings are read: a TOML array, repeated flags, or text split on
//! separators. Lists whose values never hold spaces take spaces or commas, so
//! `--scope "openid,email"` and `--scope "openid email"` mean the same.

use std::fmt;

use serde::de::{Deserializer, Error, SeqAccess, Visitor};

use crate::secret::Secret;

/// Each value split on commas; blanks dropped.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(Items(|c: char| c == ','))
}

/// Each value split on commas and white space; blanks dropped.
pub fn words<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(Items(|c: char| c == ',' || c.is_whitespace()))
}

/// Values as given, never split (`[[route]]` group names may hold commas).
pub fn list_items<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(Items(|_: char| false))
}

/// A [`list`] of secrets; an error never shows a value.
pub fn secret_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret<String>>, D::Error> {
    let items = list(d).map_err(|_| D::Error::custom("expected text or a list of text"))?;
    Ok(items.into_iter().map(Secret::new).collect())
}

/// One text value or a sequence of them, each split where `F` says.
struct Items<F>(F);

impl<F: Fn(char) -> bool> Items<F> {
    fn split(&self, text: &str, out: &mut Vec<String>) {
        let parts = text.split(&self.0).map(str::trim).filter(|s| !s.is_empty());
        out.extend(parts.map(str::to_string));
    }
}

impl<'de, F: Fn(char) -> bool> Visitor<'de> for Items<F> {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text or a list of text")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Vec<String>, E> {
        let mut out = Vec::new();
        self.split(text, &mut out);
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            self.split(&item, &mut out);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "list", default)]
        list: Vec<String>,
        #[serde(deserialize_with = "words", default)]
        words: Vec<String>,
        #[serde(deserialize_with = "list_items", default)]
        items: Vec<String>,
    }

    #[test]
    fn lists_split_text_and_arrays() {
        let t: T = toml::from_str(
            "list = 'a b, c,,'\nwords = ['openid,email profile', 'x']\nitems = ['a, b', 'c']",
        )
        .unwrap();
        assert_eq!(t.list, ["a b", "c"]);
        assert_eq!(t.words, ["openid", "email", "profile", "x"]);
        assert_eq!(t.items, ["a, b", "c"]);
    }
}
