//! The sidecar's own cookies: never passed to the upstream in `Cookie`,
//! never set by the upstream's `Set-Cookie`.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use tracing::debug;

use crate::session::cookie::cookie_pairs;

/// Case-insensitive `strip_prefix` for the ASCII cookie-name prefixes.
fn strip_prefix_ci<'a>(name: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| name.get(prefix.len()..).unwrap_or_default())
}

fn without_cookie_prefix(name: &[u8]) -> &[u8] {
    strip_prefix_ci(name, "__Host-")
        .or_else(|| strip_prefix_ci(name, "__Secure-"))
        .unwrap_or(name)
}

/// True for the session cookie, its `__Host-` form and the `{name}_*` login cookies.
pub(crate) fn is_sidecar_cookie(name: &[u8], session: &str) -> bool {
    let session = without_cookie_prefix(session.as_bytes());
    !session.is_empty() && without_cookie_prefix(name.trim_ascii()).starts_with(session)
}

/// The cookie name of one `name=value` pair (or `Set-Cookie` value).
fn cookie_name(pair: &[u8]) -> &[u8] {
    let end = pair.iter().position(|&b| b == b'=' || b == b';');
    pair.get(..end.unwrap_or(pair.len()))
        .unwrap_or(pair)
        .trim_ascii()
}

/// Removes the sidecar's cookies from `Cookie`, keeping the others byte-for-byte
/// and merging several `Cookie` headers into one (RFC 9113 section 8.2.3).
pub fn filter_cookies(headers: &mut HeaderMap, session: &str) {
    let values: Vec<HeaderValue> = headers.get_all(header::COOKIE).iter().cloned().collect();
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut dropped = 0usize;
    for pair in cookie_pairs(&values) {
        if is_sidecar_cookie(cookie_name(pair), session) {
            dropped += 1;
        } else {
            kept.push(pair);
        }
    }
    if dropped == 0 && values.len() <= 1 {
        return;
    }
    headers.remove(header::COOKIE);
    if kept.is_empty() {
        return;
    }
    let mut joined = BytesMut::new();
    for (i, pair) in kept.iter().enumerate() {
        if i > 0 {
            joined.put_slice(b"; ");
        }
        joined.put_slice(pair);
    }
    if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(joined)) {
        headers.insert(header::COOKIE, value);
    }
}

/// Drops upstream `Set-Cookie` headers that would set one of the sidecar's cookies.
pub fn filter_set_cookies(headers: &mut HeaderMap, session: &str) {
    let values: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    let (kept, dropped): (Vec<_>, Vec<_>) = values
        .into_iter()
        .partition(|v| !is_sidecar_cookie(cookie_name(v.as_bytes()), session));
    if dropped.is_empty() {
        return;
    }
    debug!(
        count = dropped.len(),
        "dropped upstream Set-Cookie for sidecar cookies"
    );
    headers.remove(header::SET_COOKIE);
    for value in kept {
        headers.append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::map;
    use super::*;

    #[test]
    fn sidecar_cookies_are_recognised() {
        for name in [
            "_sc",
            "__Host-_sc",
            "__host-_sc",
            "__Secure-_sc",
            "_sc_login_ab",
            "_sc_rd",
        ] {
            assert!(is_sidecar_cookie(name.as_bytes(), "_sc"), "{name}");
        }
        for name in ["sc", "_s", "x_sc", "csrftoken", "__Host-other"] {
            assert!(!is_sidecar_cookie(name.as_bytes(), "_sc"), "{name}");
        }
        assert!(!is_sidecar_cookie(b"anything", ""));
    }

    #[test]
    fn cookie_header_keeps_others_byte_for_byte() {
        let mut headers = map(&[
            ("cookie", "a=1;_sc=secret; __Host-_sc=s2;b=\"x y\""),
            ("cookie", "_sc_rd=/; c=3"),
        ]);
        filter_cookies(&mut headers, "_sc");
        assert_eq!(headers.get_all("cookie").iter().count(), 1);
        assert_eq!(headers["cookie"], "a=1; b=\"x y\"; c=3");

        let mut only_ours = map(&[("cookie", "_sc=s; _sc_login_1=x")]);
        filter_cookies(&mut only_ours, "_sc");
        assert!(only_ours.get("cookie").is_none());

        let mut untouched = map(&[("cookie", "a=1;b=2")]);
        filter_cookies(&mut untouched, "_sc");
        assert_eq!(untouched["cookie"], "a=1;b=2");
    }

    #[test]
    fn upstream_cannot_set_sidecar_cookies() {
        let mut headers = map(&[
            ("set-cookie", "_sc=evil; Path=/"),
            ("set-cookie", "app=1; HttpOnly"),
            ("set-cookie", "__Host-_sc_login_x=1; Secure"),
            ("set-cookie", "other=2"),
        ]);
        filter_set_cookies(&mut headers, "_sc");
        let left: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(left, ["app=1; HttpOnly", "other=2"]);
    }
}
