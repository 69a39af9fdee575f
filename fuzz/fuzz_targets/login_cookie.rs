//! The login cookie the callback opens: sealed value, then JSON, then age.
//!
//! Arbitrary values never open (the key is random per process). Arbitrary JSON
//! sealed here opens exactly when an independent mirror of the pending-login
//! shape accepts it and it is younger than the login TTL.
#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use cognito_sidecar::config::CookieConfig;
use cognito_sidecar::flow::open_login_cookie;
use cognito_sidecar::secret::{random_token, Secret};
use cognito_sidecar::session::cookie::{request_cookies, CookieCodec};
use http::header::{HeaderMap, HeaderValue, COOKIE};
use libfuzzer_sys::fuzz_target;

#[path = "../common/input.rs"]
mod input;
use input::{fields, text};

#[path = "../common/sealed_here.rs"]
mod sealed_here;
use sealed_here::{remember, was_sealed_here};
use serde::Deserialize;

/// Mirror of `flow::login::PendingLogin`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Mirror {
    state: String,
    nonce: String,
    verifier: String,
    rd: String,
    created_at: u64,
}

/// `CookieCodec::open` refuses longer values before any crypto.
const MAX_SEALED: usize = 8192;
/// `flow::login::LOGIN_TTL_SECS`.
const TTL: u64 = 600;

fn codec() -> &'static CookieCodec {
    static CODEC: OnceLock<CookieCodec> = OnceLock::new();
    CODEC.get_or_init(|| {
        CookieCodec::new(&CookieConfig {
            name: "_cs".into(),
            secrets: vec![Secret::new(random_token(32).expose().as_bytes().to_vec())],
            secure: true,
            domain: None,
        })
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check_sealed_json(codec: &CookieCodec, name: &str, json: &str) {
    let sealed = codec.seal(name, json).expect("seal");
    remember(&sealed);
    let opened = open_login_cookie(codec, name, &sealed);
    let mirror = serde_json::from_str::<Mirror>(json).ok();
    let age = mirror.as_ref().map(|m| now().saturating_sub(m.created_at));
    match (mirror, age) {
        // `open` refuses anything longer than a cookie can be.
        _ if sealed.len() > MAX_SEALED => assert!(opened.is_none()),
        // The clock may tick between the two reads: no verdict at the edge.
        (Some(_), Some(age)) if age.abs_diff(TTL) <= 2 => {}
        (Some(m), Some(age)) if age <= TTL => {
            assert_eq!(
                opened.as_deref(),
                Some(m.rd.as_str()),
                "fresh login refused"
            );
        }
        _ => assert!(opened.is_none(), "expired or malformed login opened"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut f = fields(data);
    let (name, raw, json) = (
        text(f.next().unwrap()),
        text(f.next().unwrap()),
        text(f.next().unwrap()),
    );
    let (name, raw, json, header) = (
        name.as_str(),
        raw.as_str(),
        json.as_str(),
        f.next().unwrap(),
    );
    let codec = codec();
    assert!(
        open_login_cookie(codec, name, raw).is_none() || was_sealed_here(raw),
        "forged login cookie opened"
    );
    check_sealed_json(codec, name, json);

    // A well-formed login around fuzzed fields, created a fuzzed time ago.
    let created_at = now().saturating_sub(u64::from(raw.len() as u16) % (2 * TTL));
    let login = serde_json::json!({
        "state": raw, "nonce": name, "verifier": json, "rd": raw, "created_at": created_at,
    });
    check_sealed_json(codec, name, &login.to_string());

    // Login cookies as the callback finds them in a hostile Cookie header.
    let prefix = codec.name("_login_");
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(header) {
        headers.append(COOKIE, value);
    }
    for (n, v) in request_cookies(&headers).filter(|(n, _)| n.starts_with(&prefix)) {
        assert!(
            open_login_cookie(codec, &n, &v).is_none() || was_sealed_here(&v),
            "forged login cookie opened"
        );
    }
});
