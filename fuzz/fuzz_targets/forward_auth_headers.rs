//! The headers an ingress sends with a forward-auth request, with a client's
//! look-alikes mixed in: for each `forward-auth-ingress`, the original request
//! read from them never depends on another ingress's headers (a client's
//! `X-Forwarded-Method` behind nginx, `X-Original-URL` behind Traefik), and a
//! host that comes out is always a valid `host[:port]`.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use cognito_sidecar::config::{Config, ForwardAuthIngress, MapSource, RunArgs};
use cognito_sidecar::forward_auth::{original, AuthRequest};
use cognito_sidecar::http::authority;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
use libfuzzer_sys::fuzz_target;

#[path = "../common/input.rs"]
mod input;

const NGINX: [&str; 2] = ["x-original-url", "x-original-method"];
const TRAEFIK: [&str; 4] = [
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-host",
    "x-forwarded-proto",
];

fn config(ingress: &str) -> Config {
    let env: HashMap<String, String> = [
        ("SIDECAR_UPSTREAM", "http://127.0.0.1:8000"),
        (
            "SIDECAR_ISSUER_URL",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Fuzz",
        ),
        ("SIDECAR_CLIENT_ID", "fuzz-client"),
        (
            "SIDECAR_REDIRECT_URL",
            "https://auth.example.com/oauth2/callback",
        ),
        (
            "SIDECAR_COOKIE_SECRET",
            "fuzz-cookie-secret-0123456789abcdef-0123456789",
        ),
        ("SIDECAR_TRUSTED_PROXIES", "10.0.0.0/8"),
        ("SIDECAR_FORWARD_AUTH_INGRESS", ingress),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::load(&RunArgs::default(), &MapSource(env)).expect("fuzz config")
}

fn configs() -> &'static [Config; 3] {
    static CONFIGS: OnceLock<[Config; 3]> = OnceLock::new();
    CONFIGS.get_or_init(|| [config("nginx"), config("traefik"), config("envoy")])
}

// Fields: control (which ingress), the auth path rest, then one
// `name: value` header per field.
fuzz_target!(|data: &[u8]| {
    let mut fields = input::fields(data);
    let control = fields.next().unwrap_or_default();
    let config = &configs()[usize::from(control.first().copied().unwrap_or(0) % 3)];
    let rest = input::text(fields.next().unwrap_or_default());
    let mut headers = HeaderMap::new();
    for field in fields.take(12) {
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            break;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&field[..colon]),
            HeaderValue::from_bytes(field[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let read = |headers: &HeaderMap| {
        let req = AuthRequest {
            method: &Method::GET,
            headers,
            rest: &rest,
            query: None,
            peer: "10.0.0.1:1".parse().expect("peer"),
        };
        original(config, &req)
    };
    let got = read(&headers);
    if let Ok(Some(o)) = &got {
        if let Some(host) = &o.host {
            assert!(authority::is_valid(host.as_bytes()), "host {host:?}");
        }
    }
    // Another ingress's headers change nothing.
    let foreign: &[&str] = match config.forward_auth.ingress {
        ForwardAuthIngress::Nginx => &TRAEFIK,
        ForwardAuthIngress::Traefik => &NGINX,
        _ => &[
            "x-original-url",
            "x-original-method",
            "x-forwarded-method",
            "x-forwarded-uri",
            "x-forwarded-host",
        ],
    };
    let mut without = headers.clone();
    for name in foreign {
        without.remove(*name);
    }
    let again = read(&without);
    assert_eq!(
        format!("{got:?}"),
        format!("{again:?}"),
        "a foreign header mattered"
    );
});
