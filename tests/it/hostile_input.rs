//! Property tests for everything that parses what a browser, an IdP or a
//! client in front of the proxy sends: session cookies, the callback query,
//! client-sent identity headers and the encoding of identity values.
//! The fuzz targets under `fuzz/` push the same code harder; these run in
//! every `cargo test`.

use cognito_sidecar::config::{CookieConfig, IdentityHeaders};
use cognito_sidecar::flow::CallbackQuery;
use cognito_sidecar::proxy::headers::{encode_value, strip_identity_headers};
use cognito_sidecar::secret::Secret;
use cognito_sidecar::session::cookie::CookieCodec;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use url::form_urlencoded::Serializer;

fn codec(secrets: &[&[u8]]) -> CookieCodec {
    CookieCodec::new(&CookieConfig {
        name: "_cs".into(),
        secrets: secrets.iter().map(|s| Secret::new(s.to_vec())).collect(),
        secure: true,
        domain: None,
    })
}

const KEY_A: &[u8] = b"proptest-cookie-secret-A-0123456789abcdef";
const KEY_B: &[u8] = b"proptest-cookie-secret-B-0123456789abcdef";

/// Strings shaped like sealed cookies (base64 of plausible length) and anything else.
fn cookie_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9+/]{40,120}={0,2}",
        "[A-Za-z0-9_-]{0,200}",
        any::<String>(),
    ]
}

fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 32..64)
}

fn identity_names() -> IdentityHeaders {
    let name = HeaderName::from_static;
    IdentityHeaders {
        email: name("x-user-email"),
        name: name("x-user-name"),
        sub: name("x-user-sub"),
        groups: name("x-user-groups"),
        username: name("x-user-username"),
        jwt: name("x-sidecar-identity"),
    }
}

/// Every name the sidecar promises to strip, in its canonical spelling.
const PROTECTED: &[&str] = &[
    "x-user-email",
    "x-user-name",
    "x-user-sub",
    "x-user-groups",
    "x-user-username",
    "x-user-anything-else",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-amzn-oidc-data",
    "x-amzn-oidc-identity",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-sidecar-identity",
    "remote-user",
    "x-remote-user",
];

/// `name` with each letter's case and each separator (`-` or `_`) drawn from `mix`.
fn spell(name: &str, mix: &[bool]) -> String {
    name.chars()
        .zip(mix.iter().cycle())
        .map(|(c, &flip)| match c {
            '-' if flip => '_',
            c if flip => c.to_ascii_uppercase(),
            c => c,
        })
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_cookie_values_never_open(name in "[ -~]{0,40}", value in cookie_like()) {
        let c = codec(&[KEY_A, KEY_B]);
        prop_assert!(c.open(&name, &value).is_none());
    }

    #[test]
    fn a_sealed_value_with_any_single_byte_changed_never_opens(
        plain in any::<String>(),
        index in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let c = codec(&[KEY_A]);
        let sealed = c.seal("_cs", &plain).expect("sealing");
        prop_assert_eq!(c.open("_cs", &sealed).expect("own seal opens").value, plain);
        let mut bytes = sealed.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(c.open("_cs", &tampered).is_none(), "byte {} changed still opens", i);
    }

    #[test]
    fn rotated_keys_open_old_seals_flagged_stale_and_retired_keys_open_nothing(
        a in secret(),
        b in secret(),
        plain in any::<String>(),
    ) {
        prop_assume!(a != b);
        let old = codec(&[&a]).seal("_cs", &plain).expect("sealing");
        let rotated = codec(&[&b, &a]);
        let opened = rotated.open("_cs", &old).expect("the old key still opens");
        prop_assert_eq!(&opened.value, &plain);
        prop_assert!(opened.stale_key);
        prop_assert!(codec(&[&b]).open("_cs", &old).is_none());
        let fresh = rotated.seal("_cs", &plain).expect("sealing");
        prop_assert!(!rotated.open("_cs", &fresh).expect("fresh seal opens").stale_key);
    }

    #[test]
    fn callback_query_parsing_never_panics(query in any::<String>(), bytes in any::<Vec<u8>>()) {
        let _ = CallbackQuery::parse(&query);
        let _ = CallbackQuery::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn callback_query_round_trips_generated_code_and_state(
        code in any::<String>(),
        state in any::<String>(),
        other in "[a-z_]{1,12}",
    ) {
        prop_assume!(!["code", "state", "error", "error_description"].contains(&other.as_str()));
        let query = Serializer::new(String::new())
            .append_pair(&other, "ignored")
            .append_pair("state", &state)
            .append_pair("code", &code)
            .append_pair("code", "second-code-ignored")
            .finish();
        prop_assume!(query.len() <= 16 * 1024);
        let q = CallbackQuery::parse(&query);
        prop_assert_eq!(q.code, Some(code));
        prop_assert_eq!(q.state, Some(state));
        prop_assert_eq!(q.error, None);
    }

    #[test]
    fn stripping_removes_every_case_and_underscore_spelling_of_identity_names(
        picks in prop::collection::vec(
            (prop::sample::select(PROTECTED), prop::collection::vec(any::<bool>(), 1..40)),
            1..12,
        ),
    ) {
        let mut headers = HeaderMap::new();
        let mut spellings = Vec::new();
        for (name, mix) in &picks {
            let spelled = spell(name, mix);
            let header = HeaderName::from_bytes(spelled.as_bytes()).expect("valid name");
            headers.append(header, HeaderValue::from_static("admin@evil.example"));
            spellings.push(spelled);
        }
        headers.insert("x-request-id", HeaderValue::from_static("kept"));
        headers.insert("x-user", HeaderValue::from_static("kept: no family"));
        strip_identity_headers(&mut headers, &identity_names());
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        prop_assert_eq!(left, ["x-request-id", "x-user"], "spelled as {:?}", spellings);
    }

    #[test]
    fn encoded_identity_values_are_valid_headers_that_decode_to_the_input(
        raw in prop_oneof![any::<String>(), "[ -~\t\r\n\u{0}\u{7f}\u{85}é,%]{0,60}"],
    ) {
        let encoded = encode_value(&raw);
        let value = HeaderValue::from_str(&encoded);
        prop_assert!(value.is_ok(), "{:?} encoded to invalid {:?}", raw, encoded);
        prop_assert!(encoded.bytes().all(|b| (b' '..=b'~').contains(&b)));
        prop_assert!(!encoded.contains(','), "a raw comma would split the groups list");
        prop_assert!(
            !encoded.starts_with(' ') && !encoded.ends_with(' '),
            "parsers trim spaces at either end"
        );
        // Faithful: nothing dropped, so no value can arrive as another's.
        let decoded = percent_decode_str(&encoded).decode_utf8().expect("UTF-8");
        prop_assert_eq!(decoded.as_ref(), raw.as_str());
    }
}

#[test]
fn spelling_helper_reaches_upper_case_and_underscores() {
    assert_eq!(spell("x-user-email", &[true]), "X_USER_EMAIL");
    assert_eq!(spell("x-user-email", &[false]), "x-user-email");
    assert_eq!(spell("remote-user", &[false, true]), "rEmOtE-UsEr");
}
