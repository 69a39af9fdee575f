//! HTTP/2 (and HTTP/1) header lists as a hostile client builds them: an
//! `:authority`, any number of `host` fields and a version, through the
//! framing check that runs before routing. Whatever passes names exactly one
//! host, valid as `host[:port]`, and the same one in `host` and `:authority`,
//! so the host authorized is the host forwarded.
#![no_main]

use cognito_sidecar::http::authority;
use cognito_sidecar::server::framing;
use http::{HeaderValue, Request, Uri, Version};
use libfuzzer_sys::fuzz_target;

#[path = "../common/input.rs"]
mod input;

fuzz_target!(|data: &[u8]| {
    let mut fields = input::fields(data);
    let control = fields.next().unwrap_or_default();
    let version = match control.first().map(|b| b % 3) {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_2,
    };
    let hosts = usize::from(control.get(1).copied().unwrap_or(1) % 4);
    let authority = fields.next().unwrap_or_default();
    let uri = if authority.is_empty() {
        Uri::from_static("/x")
    } else {
        let text = format!("https://{}/x", input::text(authority));
        match text.parse::<Uri>() {
            Ok(uri) => uri,
            Err(_) => return,
        }
    };
    let mut builder = Request::get(uri).version(version);
    for _ in 0..hosts {
        match HeaderValue::from_bytes(fields.next().unwrap_or_default()) {
            Ok(v) => builder = builder.header("host", v),
            Err(_) => return,
        }
    }
    let Ok(req) = builder.body(()) else { return };
    if framing::check(&req).is_err() {
        return;
    }
    let all: Vec<&HeaderValue> = req.headers().get_all("host").iter().collect();
    assert!(all.len() <= 1, "two host fields passed");
    let target = req.uri().authority().map(|a| a.as_str().as_bytes());
    if let Some(target) = target {
        assert!(authority::is_valid(target), "an invalid :authority passed");
    }
    if let Some(host) = all.first() {
        assert!(
            authority::is_valid(host.as_bytes()),
            "an invalid host passed"
        );
        if let Some(target) = target {
            assert!(
                host.as_bytes().eq_ignore_ascii_case(target),
                ":authority and host differ"
            );
        }
    }
    // What passed reads the same to a URL parser: no userinfo, one host.
    if let Some(a) = req.uri().authority() {
        assert!(!a.as_str().contains('@'));
    }
});
