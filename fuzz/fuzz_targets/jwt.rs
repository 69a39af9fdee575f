//! ID tokens: the `kid` peek, the full verification with a fixed RSA key, and
//! the claims JSON. A key pair is generated once per process, so arbitrary
//! strings never verify; tokens signed here with fuzzed headers and claims
//! verify only when an independent reading of them says they should.
#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_sidecar::config::ProviderKind;
use cognito_sidecar::provider::verify::{header_kid, verify, Claims, Expected, LEEWAY_SECS};
use jsonwebtoken::DecodingKey;
use libfuzzer_sys::fuzz_target;

#[path = "../common/input.rs"]
mod input;
use input::{fields, text};
use serde_json::{json, Value};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Fuzz";
const CLIENT: &str = "fuzz-client";
const NONCE: &str = "n0nce";

struct Keys {
    pair: KeyPair,
    public: DecodingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let public = pair.public_key();
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let public = DecodingKey::from_rsa_components(
            &b64(public.modulus().big_endian_without_leading_zero()),
            &b64(public.exponent().big_endian_without_leading_zero()),
        )
        .expect("JWK components");
        Keys { pair, public }
    })
}

fn expected() -> Expected<'static> {
    static AUDIENCES: OnceLock<[String; 1]> = OnceLock::new();
    Expected {
        issuer: ISSUER,
        audiences: AUDIENCES.get_or_init(|| [CLIENT.to_string()]),
        kind: ProviderKind::Cognito,
        nonce: Some(NONCE),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let pair = &keys().pair;
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("RSA signing");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// What an accepted token must say, read here without the crate's code.
fn assert_acceptable(header: &[u8], claims: &[u8], got: &Claims, before: u64, after: u64) {
    let header: Value = serde_json::from_slice(header).expect("accepted header is JSON");
    assert_eq!(header["alg"], "RS256", "accepted alg {}", header["alg"]);
    let c: Value = serde_json::from_slice(claims).expect("accepted claims are JSON");
    assert_eq!(c["iss"], ISSUER);
    let aud_ok = c["aud"] == CLIENT
        || c["aud"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == CLIENT));
    assert!(aud_ok, "accepted aud {}", c["aud"]);
    let exp = c["exp"].as_f64().expect("accepted exp is a number");
    assert!(
        exp + LEEWAY_SECS as f64 + 2.0 >= before as f64,
        "accepted expired token"
    );
    let iat = c["iat"].as_f64().expect("accepted iat is a number");
    assert!(
        iat <= (after + LEEWAY_SECS) as f64,
        "accepted token from the future"
    );
    assert_eq!(c["nonce"], NONCE);
    assert_eq!(c["token_use"], "id");
    assert!(
        c.get("azp").is_none_or(|azp| azp == CLIENT),
        "accepted azp {}",
        c["azp"]
    );
    assert_eq!(c["sub"], got.sub.as_str());
}

fn check_signed(header: &[u8], claims: &[u8]) -> Option<String> {
    let token = sign(header, claims);
    let at = now();
    let result = verify(&token, &keys().public, &expected(), at);
    if let Ok(got) = &result {
        assert_acceptable(header, claims, got, at, at);
    }
    result.is_ok().then_some(token)
}

fuzz_target!(|data: &[u8]| {
    let mut f = fields(data);
    let token = text(f.next().unwrap());
    let (header, claims) = (f.next().unwrap(), f.next().unwrap());
    let sub = text(f.next().unwrap());
    let (token, sub) = (token.as_str(), sub.as_str());
    let at = f
        .next()
        .unwrap()
        .iter()
        .fold(0u16, |a, &b| a.wrapping_mul(31).wrapping_add(u16::from(b)));

    // Peeking at the header never panics; a kid comes only with RS256.
    if let Ok(kid) = header_kid(token) {
        let first = token.split('.').next().unwrap_or_default();
        let raw = URL_SAFE_NO_PAD
            .decode(first)
            .expect("kid from undecodable header");
        let h: Value = serde_json::from_slice(&raw).expect("kid from non-JSON header");
        assert_eq!(h["alg"], "RS256");
        assert_eq!(h["kid"], kid.as_str());
    }
    // Nothing from outside carries our signature.
    assert!(
        verify(token, &keys().public, &expected(), now()).is_err(),
        "forged token verified"
    );
    let _ = serde_json::from_slice::<Claims>(claims);
    let _ = serde_json::from_slice::<Claims>(token.as_bytes());

    // Fuzzed header and claims, really signed.
    check_signed(header, claims);

    // A good token around a fuzzed subject; any one changed character breaks it.
    let t = now();
    let good_header = br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;
    let good = json!({
        "iss": ISSUER, "aud": CLIENT, "sub": sub, "exp": t + 3600, "iat": t,
        "nonce": NONCE, "token_use": "id", "cognito:groups": [sub],
    });
    let good = serde_json::to_vec(&good).expect("claims JSON");
    let Some(token) = check_signed(good_header, &good) else {
        // A blank `sub` names nobody and is refused; anything else must pass.
        assert!(sub.trim().is_empty(), "a well-formed token was refused");
        return;
    };
    let mut tampered = token.clone().into_bytes();
    let i = usize::from(at) % tampered.len();
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert!(
        verify(&tampered, &keys().public, &expected(), now()).is_err(),
        "a token with byte {i} changed still verified"
    );
});
