//! Secrets in a box: redacted `Debug`, no `Display`, constant-time comparison.
//!
//! `expose()` is the only way in, so `grep expose(` finds every place a secret
//! leaves its box.

use std::fmt;

use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// A value that must never reach a log line. No `PartialEq`: `==` would not be
/// constant-time, so comparisons go through [`Secret::ct_eq`].
#[derive(Clone, serde::Serialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

/// Like the inner type's, but an error never shows the value (serde's
/// "invalid type: integer `42`" would).
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("a secret of the wrong type (not shown)"))
    }
}

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value itself; every caller is a place a secret can leak.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<T: AsRef<[u8]>> Secret<T> {
    /// Compares in time independent of where the first difference is.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq(self.0.as_ref(), other)
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `bytes` random bytes from the OS generator, base64url without padding.
pub fn random_token(bytes: usize) -> Secret<String> {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    Secret(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }

    #[test]
    fn random_tokens_are_distinct_and_long() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
    }
}
