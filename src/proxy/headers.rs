//! Header hygiene on the way to and from the upstream.
//!
//! The upstream trusts the identity headers, so a client must never be able to
//! send one: [`strip_identity_headers`] removes every name of every identity
//! family the product can emit (after lower-casing and mapping `_` to `-`,
//! because some servers, e.g. WSGI, treat `X_User` and `X-User` alike), and only
//! then [`set_identity_headers`] inserts the user's values.
//!
//! # Value encoding
//!
//! Identity values come from the IdP and may hold anything. Each one is sent
//! faithfully, never shortened or cleaned, so that no value can arrive as
//! another user's (`admin\x7f` must not become `admin`): control characters
//! (C0 incl. CR, LF, NUL, TAB; DEL; C1), `%`, `,`, every non-ASCII character
//! and spaces at either end (HTTP parsers trim those) are percent-encoded as
//! UTF-8 (`José` -> `Jos%C3%A9`, `a,b` -> `a%2Cb`, `100%` -> `100%25`,
//! `admin\x7f` -> `admin%7F`); every other printable ASCII character, inner
//! spaces included, is sent as is.
//!
//! So plain ASCII names stay readable and one `urllib.parse.unquote(value)`
//! (Python) or `decodeURIComponent` gives the original text back. The groups
//! header is the encoded group names joined with `,` (no space): split on `,`
//! first, then unquote each part. Empty group names are skipped.
//!
//! Each value is capped at [`MAX_VALUE_BYTES`] after encoding. An over-long
//! groups list loses whole groups from its end (one `warn!`, and
//! [`GROUPS_TRUNCATED`] counts it); any other over-long value is not sent at
//! all rather than cut, so a cut email or `sub` can never name someone else.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use tracing::debug;

use crate::config::IdentityHeaders;
use crate::identity::Identity;
pub use crate::identity_values::{encode_value, GROUPS_TRUNCATED, MAX_VALUE_BYTES};
use crate::identity_values::{IdentityValues, Slot};
use crate::session::cookie::cookie_pairs;

/// Name prefixes of identity families (ours, oauth2-proxy, ALB, Authelia's
/// `Remote-User/-Groups/-Email/-Name`, Apache's `X-Remote-*`, Grafana's
/// `X-WEBAUTH-*`).
const IDENTITY_PREFIXES: [&str; 6] = [
    "x-user-",
    "x-auth-request-",
    "x-amzn-oidc-",
    "remote-",
    "x-remote-",
    "x-webauth-",
];

/// Exact identity names of other products and of the signed header.
const IDENTITY_NAMES: [&str; 8] = [
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-sidecar-identity",
    "x-authenticated-user",
    "x-auth-user",
];

/// Headers apps and frameworks read as the request's URL, method, scheme,
/// port, path prefix, host or client address (IIS and Symfony's
/// `X-Original-URL`/`X-Rewrite-URL`, method overrides, Spring's
/// `X-Forwarded-Prefix`, CDN client-address headers, RFC 7239 `Forwarded`).
/// Only a `trusted-proxies` peer may send them; from anyone else they are
/// removed (`X-Forwarded-For/-Proto/-Host` are then set by the sidecar).
pub const ROUTING_NAMES: [&str; 32] = [
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-original-method",
    "x-original-host",
    "x-original-forwarded-for",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-method",
    "x-forwarded-client-cert",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "forwarded",
    "front-end-https",
    "x-url-scheme",
    "x-host",
    "x-proxyuser-ip",
];

/// Hop-by-hop headers of RFC 9110 section 7.6.1, plus legacy ones.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// One byte of a header name as app servers compare them: `_` and `-` are
/// the same to many (WSGI, CGI), and case never matters.
fn fold(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

/// `name` starts with `prefix`, after folding both (no allocation: this runs
/// for every header of every request).
fn starts_with_folded(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len() && name.iter().zip(prefix).all(|(&a, &b)| fold(a) == fold(b))
}

fn same_folded(name: &[u8], other: &[u8]) -> bool {
    name.len() == other.len() && starts_with_folded(name, other)
}

fn is_identity_header(name: &str, names: &IdentityHeaders) -> bool {
    let name = name.as_bytes();
    let configured = [
        &names.email,
        &names.name,
        &names.sub,
        &names.groups,
        &names.username,
        &names.jwt,
    ];
    IDENTITY_NAMES
        .iter()
        .any(|n| same_folded(name, n.as_bytes()))
        || IDENTITY_PREFIXES
            .iter()
            .any(|p| starts_with_folded(name, p.as_bytes()))
        || configured
            .iter()
            .any(|c| same_folded(name, c.as_str().as_bytes()))
}

/// Removes every header that looks like an identity header, whoever sent it.
pub fn strip_identity_headers(headers: &mut HeaderMap, names: &IdentityHeaders) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_identity_header(n.as_str(), names))
        .cloned()
        .collect();
    // No allocation when nothing is doomed, the usual case.
    for name in doomed {
        debug!(header = %name, "dropped a client-sent identity header");
        headers.remove(&name);
    }
}

/// Removes the [`ROUTING_NAMES`] (in any spelling, `_` for `-` too), for a
/// peer that is not a trusted proxy.
pub fn strip_routing_headers(headers: &mut HeaderMap) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| {
            ROUTING_NAMES
                .iter()
                .any(|r| same_folded(n.as_str().as_bytes(), r.as_bytes()))
        })
        .cloned()
        .collect();
    for name in doomed {
        debug!(header = %name, "dropped a routing header from an untrusted peer");
        headers.remove(&name);
    }
}

/// The provider that verified the identity (two IdPs' `sub` may collide).
/// Not configurable; in the `x-user-` family, so stripped from clients.
pub const PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-user-provider");

/// Inserts (never appends) the identity headers; `email` only when known,
/// `X-User-Provider` only when the identity names one. Encodes the identity
/// first; a session's identity has its values encoded already
/// ([`crate::session::Session::identity_values`]), see [`set_identity_values`].
pub fn set_identity_headers(headers: &mut HeaderMap, identity: &Identity, names: &IdentityHeaders) {
    set_identity_values(headers, &IdentityValues::encode(identity), names);
}

/// [`set_identity_headers`] with values encoded before: slices of one
/// buffer, no copy. A value not to be sent removes its header.
pub fn set_identity_values(
    headers: &mut HeaderMap,
    values: &IdentityValues,
    names: &IdentityHeaders,
) {
    let slots = [
        (&names.email, Slot::Email),
        (&names.name, Slot::Name),
        (&names.sub, Slot::Sub),
        (&names.username, Slot::Username),
        (&names.groups, Slot::Groups),
        (&PROVIDER_HEADER, Slot::Provider),
    ];
    for (name, slot) in slots {
        match values.get(slot) {
            Some(value) => {
                headers.insert(name.clone(), value);
            }
            None => {
                headers.remove(name);
            }
        }
    }
}

/// Lower-cased, trimmed comma-separated tokens of every `name` header.
pub(crate) fn tokens(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Headers a `Connection` option may not remove (RFC 9110 section 7.6.1 lets a
/// proxy refuse such options): the sidecar authorizes, frames or reports the
/// request with them, so removing one after the decision would change what
/// the app sees (`Connection: close, host` would swap in the upstream's own
/// host). Identity headers need no entry: they are set after this runs.
fn is_end_to_end(name: &str) -> bool {
    const KEPT: [&str; 7] = [
        "host",
        "content-length",
        "cookie",
        "authorization",
        "forwarded",
        "x-real-ip",
        "x-request-id",
    ];
    KEPT.iter()
        .any(|k| same_folded(name.as_bytes(), k.as_bytes()))
        || starts_with_folded(name.as_bytes(), b"x-forwarded-")
}

/// Removes hop-by-hop headers (RFC 9110 section 7.6.1) and every header
/// `Connection` names. Keeps `TE: trailers`; re-adds `Connection: upgrade` and
/// `Upgrade` when `upgrade` is the protocol being passed through.
pub fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: Option<&HeaderValue>) {
    let te_trailers = tokens(headers, &header::TE).iter().any(|t| t == "trailers");
    for token in tokens(headers, &header::CONNECTION) {
        if is_end_to_end(&token) {
            debug!(option = %token, "ignored a Connection option naming an end-to-end header");
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
}

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
    use super::*;
    use crate::identity_values::encode_groups;
    use crate::proxy::tests::test_config;
    use std::sync::atomic::Ordering;

    fn names() -> IdentityHeaders {
        test_config().headers
    }

    fn identity() -> Identity {
        Identity {
            sub: "0b1c-42".into(),
            email: Some("jose@example.com".into()),
            email_verified: true,
            name: "José Núñez".into(),
            username: "jose".into(),
            groups: vec!["admins".into(), "r&d, east".into()],
            provider: "staff".into(),
            issuer: "https://idp.example/staff".into(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn encoding_keeps_ascii_and_escapes_the_rest() {
        assert_eq!(encode_value("Jane Doe-O'Neil"), "Jane Doe-O'Neil");
        assert_eq!(encode_value("José"), "Jos%C3%A9");
        assert_eq!(encode_value("a,b 100%"), "a%2Cb 100%25");
        assert_eq!(
            encode_value("ev\r\nil\0\x7f\u{85}\tx"),
            "ev%0D%0Ail%00%7F%C2%85%09x"
        );
    }

    #[test]
    fn no_value_collapses_into_another() {
        for (raw, not) in [
            ("admin\x7f", "admin"),
            ("admins\0", "admins"),
            ("\tadmin", "admin"),
            (" admin ", "admin"),
            ("  ", ""),
        ] {
            let encoded = encode_value(raw);
            assert_ne!(encoded, not, "{raw:?}");
            assert_eq!(
                percent_encoding::percent_decode_str(&encoded)
                    .decode_utf8()
                    .unwrap(),
                raw,
                "decoding gives the value back"
            );
        }
        assert_eq!(encode_value(" a b "), "%20a b%20");
        assert_eq!(
            encode_groups(&["admins\0".into(), "ops".into()]),
            "admins%00,ops"
        );
    }

    #[test]
    fn identity_family_spoofs_are_removed_in_any_spelling() {
        let spoofed = [
            "x-user-email",
            "X_User_Email",
            "x-user_sub",
            "x-auth-request-user",
            "X-Amzn-Oidc-Data",
            "x_amzn_oidc_identity",
            "x-forwarded-user",
            "x-forwarded-email",
            "x-forwarded-groups",
            "x-forwarded-preferred-username",
            "x-forwarded-access-token",
            "x-sidecar-identity",
            "remote-user",
            "REMOTE_USER",
            "x-remote-user",
            "Remote-Groups",
            "Remote-Email",
            "Remote-Name",
            "X-Remote-Group",
            "X-WEBAUTH-USER",
            "X-Authenticated-User",
            "X-Auth-User",
            "x-user-provider",
        ];
        let mut headers = map(&spoofed.map(|n| (n, "admin@evil")));
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        headers.insert("x-user", HeaderValue::from_static("kept: not in a family"));
        strip_identity_headers(&mut headers, &names());
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["x-forwarded-for", "x-user"]);
    }

    #[test]
    fn routing_headers_go_in_any_spelling() {
        let sent = [
            "X-Original-URL",
            "X-Rewrite-URL",
            "X-HTTP-Method-Override",
            "X-Forwarded-Port",
            "X-Forwarded-Prefix",
            "True-Client-IP",
            "X-Forwarded-Server",
            "X-Real-IP",
            "X-Client-IP",
            "Forwarded",
            "X_Forwarded_For",
            "x_original_url",
        ];
        let mut headers = map(&sent.map(|n| (n, "/admin")));
        headers.insert("x-forwarded-thing", HeaderValue::from_static("kept"));
        headers.insert("accept", HeaderValue::from_static("kept"));
        strip_routing_headers(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-forwarded-thing"]);
    }

    #[test]
    fn configured_names_are_stripped_too() {
        let mut cfg = names();
        cfg.email = HeaderName::from_static("x-company-mail");
        cfg.jwt = HeaderName::from_static("x-signed-who");
        let mut headers = map(&[
            ("X_Company_Mail", "a@evil"),
            ("x-company-mail", "b@evil"),
            ("X_Signed_Who", "forged.jwt.x"),
            ("x-sidecar-identity", "forged.jwt.y"),
        ]);
        strip_identity_headers(&mut headers, &cfg);
        assert!(headers.is_empty());
    }

    #[test]
    fn set_inserts_and_encodes() {
        let n = names();
        let mut headers = map(&[(n.name.as_str(), "old"), (n.name.as_str(), "older")]);
        set_identity_headers(&mut headers, &identity(), &n);
        assert_eq!(headers.get_all(&n.name).iter().count(), 1);
        assert_eq!(headers[&n.name], "Jos%C3%A9 N%C3%BA%C3%B1ez");
        assert_eq!(headers[&n.email], "jose@example.com");
        assert_eq!(headers[&n.groups], "admins,r&d%2C east");
        assert_eq!(headers[&n.sub], "0b1c-42");
        assert_eq!(headers[&n.username], "jose");
        assert_eq!(headers[PROVIDER_HEADER], "staff");
    }

    #[test]
    fn email_is_absent_when_unknown_and_groups_may_be_empty() {
        let n = names();
        let mut who = identity();
        who.email = None;
        who.groups = vec![];
        let mut headers = HeaderMap::new();
        set_identity_headers(&mut headers, &who, &n);
        assert!(headers.get(&n.email).is_none());
        assert_eq!(headers[&n.groups], "");
    }

    #[test]
    fn groups_over_the_cap_lose_whole_groups_from_the_end() {
        let group = "g".repeat(1000);
        let groups: Vec<String> = (0..20).map(|i| format!("{group}{i:02}")).collect();
        let before = GROUPS_TRUNCATED.load(Ordering::Relaxed);
        let value = encode_groups(&groups);
        assert!(value.len() <= MAX_VALUE_BYTES);
        let parts: Vec<&str> = value.split(',').collect();
        assert_eq!(
            parts.len(),
            8,
            "8 groups of 1002 bytes + commas fit in 8 KiB"
        );
        assert_eq!(
            parts,
            groups[..8].iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert!(GROUPS_TRUNCATED.load(Ordering::Relaxed) > before);
    }

    #[test]
    fn an_over_long_scalar_is_not_sent() {
        let n = names();
        let mut who = identity();
        who.name = "é".repeat(MAX_VALUE_BYTES);
        let mut headers = map(&[(n.name.as_str(), "spoof")]);
        set_identity_headers(&mut headers, &who, &n);
        assert!(headers.get(&n.name).is_none());
        assert_eq!(headers[&n.sub], "0b1c-42");
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "5"),
            ("proxy-connection", "x"),
            ("te", "gzip, trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("proxy-authenticate", "Basic"),
            ("authorization", "Bearer kept"),
            ("x-app", "kept"),
        ]);
        remove_hop_by_hop(&mut headers, None);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "te", "x-app"]);
        assert_eq!(headers["te"], "trailers");
    }

    #[test]
    fn connection_cannot_remove_what_the_sidecar_relies_on() {
        let mut headers = map(&[
            (
                "connection",
                "close, Host, content-length, Cookie, X-Forwarded-Host, x_forwarded_for, x-request-id, x-gone",
            ),
            ("host", "public.example.com"),
            ("content-length", "3"),
            ("cookie", "a=1"),
            ("x-forwarded-host", "public.example.com"),
            ("x_forwarded_for", "1.2.3.4"),
            ("x-request-id", "r"),
            ("x-gone", "1"),
        ]);
        remove_hop_by_hop(&mut headers, None);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            [
                "content-length",
                "cookie",
                "host",
                "x-forwarded-host",
                "x-request-id",
                "x_forwarded_for"
            ]
        );
    }

    #[test]
    fn a_passed_through_upgrade_is_re_added() {
        let mut headers = map(&[
            ("connection", "Upgrade, x-gone"),
            ("upgrade", "websocket"),
            ("x-gone", "1"),
        ]);
        remove_hop_by_hop(&mut headers, Some(&HeaderValue::from_static("websocket")));
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
        assert!(headers.get("x-gone").is_none());
    }

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
