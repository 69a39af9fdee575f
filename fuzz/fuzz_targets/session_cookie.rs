//! Session cookies as a browser (or an attacker) sends them: the `Cookie`
//! header split into pairs, the sealed value opened, the session id parsed.
//!
//! Keys are random per process, so no input can hold a value sealed by them:
//! a value opens only if it is one this target sealed itself.
#![no_main]

use std::sync::OnceLock;

#[path = "../common/sealed_here.rs"]
mod sealed_here;
use sealed_here::{remember, was_sealed_here};

use cognito_sidecar::config::CookieConfig;
use cognito_sidecar::secret::{random_token, Secret};
use cognito_sidecar::session::cookie::{request_cookies, CookieCodec};
use cognito_sidecar::session::SessionId;
use http::header::{HeaderMap, HeaderValue, COOKIE};
use libfuzzer_sys::fuzz_target;

#[path = "../common/input.rs"]
mod input;
use input::{fields, text};

/// `CookieCodec::open` refuses longer values before any crypto.
const MAX_SEALED: usize = 8192;

struct Codecs {
    /// Seals with the new key, opens with both.
    rotated: CookieCodec,
    /// Only the old key: what was sealed before the rotation.
    old: CookieCodec,
    /// Only the new key: the old one retired.
    new_only: CookieCodec,
}

fn codec(secrets: &[&Secret<String>]) -> CookieCodec {
    CookieCodec::new(&CookieConfig {
        name: "_cs".into(),
        secrets: secrets
            .iter()
            .map(|s| Secret::new(s.expose().as_bytes().to_vec()))
            .collect(),
        secure: true,
        domain: None,
    })
}

fn codecs() -> &'static Codecs {
    static CODECS: OnceLock<Codecs> = OnceLock::new();
    CODECS.get_or_init(|| {
        let (old, new) = (random_token(32), random_token(32));
        Codecs {
            rotated: codec(&[&new, &old]),
            old: codec(&[&old]),
            new_only: codec(&[&new]),
        }
    })
}

/// The shape `SessionId::parse` promises to accept, checked independently.
fn session_id_shape(raw: &str) -> bool {
    raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_session_id(raw: &str) {
    let parsed = SessionId::parse(raw);
    assert_eq!(
        parsed.is_some(),
        session_id_shape(raw),
        "SessionId::parse({raw:?})"
    );
    if let Some(id) = parsed {
        assert_eq!(id.expose(), raw);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut f = fields(data);
    let (name, raw, plain) = (
        text(f.next().unwrap()),
        text(f.next().unwrap()),
        text(f.next().unwrap()),
    );
    let (name, raw, plain, header) = (
        name.as_str(),
        raw.as_str(),
        plain.as_str(),
        f.next().unwrap(),
    );
    let c = codecs();

    // Arbitrary values never open: nothing outside this process knows the keys.
    for codec in [&c.rotated, &c.old, &c.new_only] {
        let opened = codec.open(name, raw).is_some();
        assert!(!opened || was_sealed_here(raw), "forged value opened");
    }
    check_session_id(raw);
    check_session_id(plain);

    // A value sealed here opens under its name only, and only with a live key.
    let Some(sealed) = c.rotated.seal(name, plain).inspect(|v| remember(v)) else {
        panic!("sealing failed");
    };
    let Some(opened) = c.rotated.open(name, &sealed) else {
        // `open` refuses anything longer than a cookie can be, sealed here or not.
        assert!(
            sealed.len() > MAX_SEALED,
            "own seal of {} bytes refused",
            sealed.len()
        );
        return;
    };
    assert_eq!(opened.value, plain);
    assert!(!opened.stale_key);
    assert!(
        c.old.open(name, &sealed).is_none(),
        "old key opened a new seal"
    );
    if raw != name {
        assert!(
            c.rotated.open(raw, &sealed).is_none(),
            "seal replayed under another name"
        );
    }
    if raw != sealed {
        // An earlier input's seal, fed back by comparison tracing, may open.
        assert!(c.rotated.open(name, raw).is_none() || was_sealed_here(raw));
    }
    let before = c.old.seal(name, plain).expect("old key seals");
    remember(&before);
    let stale = c
        .rotated
        .open(name, &before)
        .expect("rotated codec opens old seals");
    assert!(stale.stale_key && stale.value == plain);
    assert!(
        c.new_only.open(name, &before).is_none(),
        "retired key still opens"
    );

    // The Cookie header: every pair parses without panicking, and our own pair
    // is found intact among hostile neighbours.
    let session = c.rotated.name("");
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(header) {
        headers.append(COOKIE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{raw}; {session}={sealed}")) {
        headers.append(COOKIE, value);
    }
    let session_sealed = c.rotated.seal(&session, plain).expect("seal");
    remember(&session_sealed);
    let ours = HeaderValue::from_str(&format!("{session}={session_sealed}")).expect("ascii");
    headers.append(COOKIE, ours);
    let mut found = false;
    for (n, v) in request_cookies(&headers) {
        match c.rotated.open(&n, &v) {
            // A seal from an earlier input (see above): nothing to compare.
            Some(_) if v != sealed && v != session_sealed => {
                assert!(was_sealed_here(&v), "opened a value not sealed here")
            }
            Some(o) => {
                assert_eq!(n, session, "only the session cookie was sealed");
                assert!(
                    v == sealed || v == session_sealed,
                    "opened a value not sealed here"
                );
                assert_eq!(o.value, plain);
                found |= v == session_sealed;
                check_session_id(&o.value);
            }
            None => assert!(v != session_sealed || n != session),
        }
    }
    assert!(found, "the session cookie was lost among the others");
});
