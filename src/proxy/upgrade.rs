//! WebSocket pass-through: HTTP/1.1 `Upgrade: websocket` only.
//!
//! The request keeps its `Connection: upgrade` and `Upgrade` headers; when the
//! upstream answers `101 Switching Protocols` with the same protocol, both
//! connections are taken over from hyper and spliced with
//! `copy_bidirectional` in a spawned task. The server serving the client must
//! enable upgrades (`http1::Builder::serve_connection(..).with_upgrades()`).
//! Other protocols (e.g. `h2c`) are not passed through: their `Upgrade` header
//! is dropped as hop-by-hop and the request goes on as plain HTTP.

use http::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tracing::debug;

use super::headers::tokens;

/// The `Upgrade` value to pass through, when the request asks for a WebSocket.
pub fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let wants_upgrade = tokens(headers, &header::CONNECTION)
        .iter()
        .any(|t| t == "upgrade");
    let mut upgrades = headers.get_all(header::UPGRADE).iter();
    let protocol = upgrades.next()?;
    let websocket = upgrades.next().is_none()
        && protocol
            .to_str()
            .is_ok_and(|p| p.trim().eq_ignore_ascii_case("websocket"));
    (wants_upgrade && websocket).then(|| protocol.clone())
}

/// True when a `101` answer switches to the protocol the client asked for.
pub fn accepted(response: &HeaderMap, protocol: &HeaderValue) -> bool {
    let upgrade = response.get(header::UPGRADE).and_then(|v| v.to_str().ok());
    let asked = protocol.to_str().ok();
    matches!((upgrade, asked), (Some(u), Some(a)) if u.trim().eq_ignore_ascii_case(a.trim()))
}

/// Splices the two upgraded connections once hyper hands them over.
pub fn splice(client: OnUpgrade, upstream: OnUpgrade) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(error) => {
                debug!(%error, "upgrade not completed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            Ok((sent, received)) => debug!(sent, received, "upgraded connection closed"),
            Err(error) => debug!(%error, "upgraded connection ended with an error"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn websocket_upgrade_is_recognised() {
        let h = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ]);
        assert_eq!(requested(&h), Some(HeaderValue::from_static("WebSocket")));
    }

    #[test]
    fn other_or_incomplete_upgrades_are_not() {
        assert_eq!(requested(&map(&[("upgrade", "websocket")])), None);
        assert_eq!(requested(&map(&[("connection", "upgrade")])), None);
        let h2c = map(&[("connection", "upgrade"), ("upgrade", "h2c")]);
        assert_eq!(requested(&h2c), None);
    }

    #[test]
    fn the_answer_must_switch_to_the_asked_protocol() {
        let asked = HeaderValue::from_static("websocket");
        assert!(accepted(&map(&[("upgrade", "WebSocket")]), &asked));
        assert!(!accepted(&map(&[("upgrade", "h2c")]), &asked));
        assert!(!accepted(&HeaderMap::new(), &asked));
    }
}
