//! Sealing cookies: AES-256-GCM (the `cookie` crate's private jar) with keys
//! derived from the cookie secrets by HKDF. The first secret seals, all of them
//! open, so secrets rotate without signing everyone out. The cookie name is
//! bound into the seal, so one cookie's value cannot be replayed as another's.
//! Sealing and opening are both the private jar's: one format, one crate.

use cookie::{Cookie, CookieJar, Key, SameSite};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::config::CookieConfig;

/// Longer sealed values are refused before any decoding: no cookie the
/// sidecar sets comes near it, and garbage costs no more than a lookup.
const MAX_SEALED_LEN: usize = 8192;

/// What an opened cookie says, and whether it should be re-sealed with the
/// current key.
pub struct Opened {
    pub value: String,
    pub stale_key: bool,
}

/// Attributes shared by every cookie the sidecar sets.
#[derive(Clone)]
pub struct CookieCodec {
    keys: Vec<Key>,
    base_name: String,
    /// The session cookie's full name, looked for on every request.
    session_name: String,
    secure: bool,
    domain: Option<String>,
}

impl std::fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieCodec")
            .field("base_name", &self.base_name)
            .finish_non_exhaustive()
    }
}

fn derive_key(secret: &[u8]) -> Option<Key> {
    let mut okm = [0u8; 64];
    Hkdf::<Sha256>::new(Some(b"cognito-sidecar cookie v1"), secret)
        .expand(b"aes-256-gcm + hmac-sha256", &mut okm)
        .ok()?;
    Key::try_from(&okm[..]).ok()
}

impl CookieCodec {
    pub fn new(config: &CookieConfig) -> Self {
        let keys: Vec<Key> = config
            .secrets
            .iter()
            .filter_map(|s| derive_key(s.expose()))
            .collect();
        let mut codec = Self {
            keys,
            base_name: config.name.clone(),
            session_name: String::new(),
            secure: config.secure,
            domain: config.domain.clone(),
        };
        codec.session_name = codec.name("");
        codec
    }

    /// The session cookie's name: [`CookieCodec::name`] without a suffix.
    pub fn session_name(&self) -> &str {
        &self.session_name
    }

    /// `__Host-` binds the cookie to this exact host; only possible when secure
    /// and no domain is set.
    pub fn name(&self, suffix: &str) -> String {
        let prefix = if self.secure && self.domain.is_none() {
            "__Host-"
        } else {
            ""
        };
        format!("{prefix}{}{suffix}", self.base_name)
    }

    pub fn seal(&self, name: &str, value: &str) -> Option<String> {
        let key = self.keys.first()?;
        let mut jar = CookieJar::new();
        jar.private_mut(key)
            .add(Cookie::new(name.to_string(), value.to_string()));
        jar.get(name).map(|c| c.value().to_string())
    }

    /// Opens a sealed value with any configured key; `None` for anything forged,
    /// tampered with, sealed for another name, or sealed with a retired key.
    pub fn open(&self, name: &str, sealed: &str) -> Option<Opened> {
        if sealed.len() > MAX_SEALED_LEN {
            return None;
        }
        let jar = CookieJar::new();
        self.keys.iter().enumerate().find_map(|(i, key)| {
            let cookie = Cookie::new(name.to_string(), sealed.to_string());
            let opened = jar.private(key).decrypt(cookie)?;
            Some(Opened {
                value: opened.value().to_string(),
                stale_key: i > 0,
            })
        })
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure unless configured off.
    pub fn set_cookie(&self, name: &str, sealed: String, max_age_secs: i64) -> String {
        let mut c = Cookie::build((name.to_string(), sealed))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age_secs));
        if let Some(domain) = &self.domain {
            c = c.domain(domain.clone());
        }
        c.build().to_string()
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub fn clear_cookie(&self, name: &str) -> String {
        self.set_cookie(name, String::new(), 0)
    }
}

/// The `name=value` pairs of `Cookie` header values, trimmed, bytes as sent;
/// empty pairs skipped. The one place a `Cookie` header is split: the flow
/// reads cookies through it and the proxy filters them through it.
pub fn cookie_pairs<'a>(
    values: impl IntoIterator<Item = &'a http::HeaderValue>,
) -> impl Iterator<Item = &'a [u8]> {
    values
        .into_iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty())
}

/// The cookies of a request as (name, value) pairs; pairs that are not
/// printable ASCII `name=value` are skipped.
pub fn request_cookies(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> + '_ {
    cookie_pairs(headers.get_all(http::header::COOKIE)).filter_map(|pair| {
        let printable = pair
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
        let pair = std::str::from_utf8(pair).ok().filter(|_| printable)?;
        let (name, value) = pair.split_once('=')?;
        Some((name.trim(), value.trim().trim_matches('"')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn codec(secrets: &[&str], secure: bool) -> CookieCodec {
        CookieCodec::new(&CookieConfig {
            name: "_cs".into(),
            secrets: secrets
                .iter()
                .map(|s| Secret::new(s.as_bytes().to_vec()))
                .collect(),
            secure,
            domain: None,
        })
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210-new";

    #[test]
    fn seal_open_round_trip_and_name_binding() {
        let c = codec(&[A], true);
        let sealed = c.seal("n1", "hello").unwrap();
        assert!(!sealed.contains("hello"));
        assert_eq!(c.open("n1", &sealed).unwrap().value, "hello");
        assert!(c.open("n2", &sealed).is_none(), "bound to its name");
    }

    #[test]
    fn tampered_or_garbage_values_do_not_open() {
        let c = codec(&[A], true);
        let sealed = c.seal("n", "hello").unwrap();
        // In the nonce, the ciphertext and the tag.
        for at in [10, 17, sealed.len() - 4] {
            let mut bytes = sealed.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(c.open("n", &tampered).is_none(), "flipped at {at}");
        }
        assert!(c.open("n", &format!("{sealed}AAAA")).is_none(), "extended");
        assert!(c.open("n", &sealed[..sealed.len() - 4]).is_none(), "cut");
        assert!(c.open("n", &format!("\"{sealed}\"")).is_none(), "quoted");
        for junk in ["", "x", "====", "%00", &"A".repeat(10_000)] {
            assert!(c.open("n", junk).is_none());
        }
    }

    #[test]
    fn rotation_opens_old_seals_and_flags_them() {
        let old = codec(&[A], true).seal("n", "v").unwrap();
        let rotated = codec(&[B, A], true);
        let opened = rotated.open("n", &old).unwrap();
        assert_eq!(opened.value, "v");
        assert!(opened.stale_key);
        let fresh = rotated.seal("n", "v").unwrap();
        assert!(!rotated.open("n", &fresh).unwrap().stale_key);
        assert!(
            codec(&[B], true).open("n", &old).is_none(),
            "a retired key opens nothing"
        );
    }

    #[test]
    fn default_cookie_attributes() {
        let c = codec(&[A], true);
        assert_eq!(c.name(""), "__Host-_cs");
        let set = c.set_cookie(&c.name(""), "v".into(), 60);
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(set.contains(attr), "{set} lacks {attr}");
        }
        assert_eq!(codec(&[A], false).name(""), "_cs");
    }
}
