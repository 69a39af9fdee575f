//! The callback's query string, as the IdP (or anyone) sends it: never a
//! panic, and values encoded by a real form encoder come back unchanged, the
//! first of a repeated parameter winning.
#![no_main]

use cognito_sidecar::flow::CallbackQuery;
use libfuzzer_sys::fuzz_target;

#[path = "../common/input.rs"]
mod input;
use input::{fields, text};
use url::form_urlencoded::Serializer;

/// `flow::callback::MAX_QUERY_LEN`.
const MAX_QUERY_LEN: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut f = fields(data);
    let raw = f.next().unwrap();
    let (code, state, junk) = (
        text(f.next().unwrap()),
        text(f.next().unwrap()),
        text(f.next().unwrap()),
    );
    let (code, state, junk) = (code.as_str(), state.as_str(), junk.as_str());
    let _ = CallbackQuery::parse(&String::from_utf8_lossy(raw));
    if let Ok(raw) = std::str::from_utf8(raw) {
        let q = CallbackQuery::parse(raw);
        if raw.len() > MAX_QUERY_LEN {
            assert_eq!(q, CallbackQuery::default());
        }
    }

    let query = Serializer::new(String::new())
        .append_pair(junk, junk)
        .append_pair("code", code)
        .append_pair("state", state)
        .append_pair("code", junk)
        .append_pair("error_description", state)
        .finish();
    let q = CallbackQuery::parse(&query);
    if query.len() > MAX_QUERY_LEN {
        assert_eq!(q, CallbackQuery::default(), "over-long query read");
        return;
    }
    // The leading junk pair may itself be named like one of ours.
    let first = |name: &str, ours: &str| {
        if junk == name {
            junk.to_owned()
        } else {
            ours.to_owned()
        }
    };
    assert_eq!(q.code, Some(first("code", code)));
    assert_eq!(q.state, Some(first("state", state)));
    assert_eq!(q.error_description, Some(first("error_description", state)));
    assert_eq!(q.error, (junk == "error").then(|| junk.to_owned()));
});
