//! Hop-by-hop headers (RFC 9110 section 7.6.1): removed on the way to and
//! from the upstream, with every header `Connection` names, except those the
//! sidecar relies on end to end.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use tracing::debug;

use super::{same_folded, starts_with_folded};

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

#[cfg(test)]
mod tests {
    use super::super::tests::map;
    use super::*;

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
}
