//! Header hygiene on the way to and from the upstream.
//!
//! The upstream trusts the identity headers, so a client must never be able to
//! send one: [`strip_identity_headers`] removes every name of every identity
//! family the product can emit (after lower-casing and mapping `_` to `-`,
//! because some servers, e.g. WSGI, treat `X_User` and `X-User` alike), and only
//! then [`set_identity_headers`] inserts the user's values. The hop-by-hop
//! headers and the sidecar's own cookies are removed by [`hop_by_hop`] and
//! [`cookies`].
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

use http::header::{HeaderMap, HeaderName};
use tracing::debug;

use crate::config::IdentityHeaders;
use crate::identity::Identity;
pub use crate::identity_values::{encode_value, GROUPS_TRUNCATED, MAX_VALUE_BYTES};
use crate::identity_values::{IdentityValues, Slot};

mod cookies;
mod hop_by_hop;

pub use cookies::{filter_cookies, filter_set_cookies};
pub use hop_by_hop::remove_hop_by_hop;
pub(crate) use hop_by_hop::tokens;

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

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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

    /// A header map of `pairs`, in order, repeated names appended.
    pub(super) fn map(pairs: &[(&str, &str)]) -> HeaderMap {
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
}
