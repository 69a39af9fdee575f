//! Request headers on their way upstream: a client-built `HeaderMap` (invalid
//! names and values skipped, as hyper would refuse them) plus spoofed
//! identity headers in random case and `-`/`_` mixes, through the forwarder's
//! header preparation. Afterwards no identity header remains but the ones the
//! sidecar set, `X-Forwarded-*` is ours unless the peer is trusted, hop-by-hop
//! headers and the sidecar's cookies are gone. Every rule is re-read here.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use cognito_sidecar::config::{Config, MapSource, RunArgs};
use cognito_sidecar::identity::Identity;
use cognito_sidecar::proxy::headers::{encode_value, MAX_VALUE_BYTES};
use cognito_sidecar::proxy::{ForwardContext, Upstream};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Uri;
use libfuzzer_sys::fuzz_target;

/// The configured email header: outside every identity family on purpose.
const EMAIL: &str = "x-company-mail";
const SET: [&str; 6] = [
    EMAIL,
    "x-user-name",
    "x-user-sub",
    "x-user-groups",
    "x-user-username",
    "x-user-provider",
];
const PROTECTED: [&str; 12] = [
    "x-user-email",
    "x-user-anything",
    "x-auth-request-user",
    "x-amzn-oidc-data",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-sidecar-identity",
    "remote-user",
    "x-remote-user",
];
const HOP_BY_HOP: [&str; 6] = [
    "keep-alive",
    "proxy-connection",
    "trailer",
    "transfer-encoding",
    "proxy-authorization",
    "proxy-authenticate",
];
const COOKIE_NAME: &str = "_cognito_sidecar";

/// One fuzz input. The bytes are fields separated by 0xFF (no UTF-8 text
/// contains it, so seeds stay readable): a control field (peer, TLS, then
/// three bytes per spoofed name: which name, and a 16-bit spelling), a header
/// block `Name: value` one per line, then sub, email, name, username and
/// groups (one per line); no identity fields means an anonymous request.
struct Input {
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Which protected names to spoof, and how to spell them.
    spoofs: Vec<(u8, u64)>,
    identity: Option<Identity>,
    peer: u8,
    tls: bool,
}

impl Input {
    fn parse(data: &[u8]) -> Self {
        let mut f = data.split(|&b| b == 0xff);
        let control = f.next().unwrap_or_default();
        let byte = |i: usize| control.get(i).copied().unwrap_or(0);
        let spoofs = control
            .get(2..)
            .unwrap_or_default()
            .chunks(3)
            .map(|c| {
                let mix = u64::from(c.get(1).copied().unwrap_or(0)) << 8
                    | u64::from(c.get(2).copied().unwrap_or(0));
                (c[0], mix * 0x0001_0001_0001_0001)
            })
            .collect();
        let headers = f
            .next()
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let colon = line.iter().position(|&b| b == b':')?;
                Some((
                    line[..colon].to_vec(),
                    line[colon + 1..].trim_ascii().to_vec(),
                ))
            })
            .collect();
        let text: Vec<String> = f.map(|p| String::from_utf8_lossy(p).into_owned()).collect();
        let at = |i: usize| text.get(i).cloned().unwrap_or_default();
        let identity = (!text.is_empty()).then(|| Identity {
            sub: at(0),
            email: text.get(1).filter(|e| !e.is_empty()).cloned(),
            email_verified: true,
            name: at(2),
            username: at(3),
            groups: text
                .get(4)
                .map_or(Vec::new(), |g| g.split('\n').map(str::to_owned).collect()),
            provider: at(5),
            issuer: at(6),
        });
        Self {
            headers,
            spoofs,
            identity,
            peer: byte(0),
            tls: byte(1) & 1 == 1,
        }
    }
}

fn upstream() -> &'static Upstream {
    static UPSTREAM: OnceLock<Upstream> = OnceLock::new();
    UPSTREAM.get_or_init(|| {
        let env: HashMap<String, String> = [
            ("SIDECAR_UPSTREAM", "http://127.0.0.1:9"),
            (
                "SIDECAR_ISSUER_URL",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Fuzz",
            ),
            ("SIDECAR_PROVIDER", "cognito"),
            ("SIDECAR_CLIENT_ID", "fuzz-client"),
            (
                "SIDECAR_REDIRECT_URL",
                "https://auth.example.com/oauth2/callback",
            ),
            ("SIDECAR_SIGN_OUT_URL", "https://auth.example.com/"),
            (
                "SIDECAR_COOKIE_SECRET",
                "fuzz-cookie-secret-0123456789abcdef-0123456789",
            ),
            ("SIDECAR_TRUSTED_PROXIES", "10.0.0.0/8,::1/128"),
            ("SIDECAR_HEADER_EMAIL", EMAIL),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config: Config =
            Config::load(&RunArgs::default(), &MapSource(env)).expect("fuzz config");
        Upstream::new(&config)
    })
}

/// `name` with each letter's case and each `-` chosen by the bits of `mix`.
fn spelled(name: &str, mix: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let bit = mix >> (i % 64) & 1 == 1;
            match c {
                '-' if bit => '_',
                c if bit => c.to_ascii_uppercase(),
                c => c,
            }
        })
        .collect()
}

fn normalized(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

fn is_identity(name: &str) -> bool {
    let name = normalized(name);
    let families = ["x-user-", "x-auth-request-", "x-amzn-oidc-"];
    PROTECTED.contains(&name.as_str())
        || SET.contains(&name.as_str())
        || families.iter().any(|f| name.starts_with(f))
}

/// Printable ASCII; percent-decoded, exactly the input: nothing is dropped or
/// shortened, so no value can collapse into another user's.
fn check_encoded(value: &HeaderValue, raw: &str) {
    let text = value.to_str().expect("identity value is visible ASCII");
    assert!(text.bytes().all(|b| (b' '..=b'~').contains(&b)), "{text:?}");
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .expect("UTF-8");
    assert_eq!(decoded, raw);
}

fn build(input: &Input) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let spoofable: Vec<&str> = PROTECTED.iter().chain(SET.iter()).copied().collect();
    for &(which, mix) in &input.spoofs {
        let name = spelled(spoofable[usize::from(which) % spoofable.len()], mix);
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid spelling");
        headers.append(name, HeaderValue::from_static("admin@evil.example"));
    }
    headers
}

fn check_identity(headers: &HeaderMap, identity: Option<&Identity>) {
    for name in headers.keys() {
        if is_identity(name.as_str()) {
            assert!(
                identity.is_some() && SET.contains(&name.as_str()),
                "identity header {name} survived"
            );
            assert_eq!(headers.get_all(name).iter().count(), 1, "{name} set twice");
        }
    }
    let Some(who) = identity else { return };
    let fields = [
        (EMAIL, who.email.as_deref()),
        ("x-user-name", Some(who.name.as_str())),
        ("x-user-sub", Some(who.sub.as_str())),
        ("x-user-username", Some(who.username.as_str())),
    ];
    for (name, raw) in fields {
        match (headers.get(name), raw) {
            (Some(v), Some(raw)) => check_encoded(v, raw),
            (None, Some(raw)) => {
                assert!(encode_value(raw).len() > MAX_VALUE_BYTES, "{name} missing")
            }
            (Some(_), None) => panic!("{name} sent for a user without one"),
            (None, None) => {}
        }
    }
    let groups = headers
        .get("x-user-groups")
        .expect("groups header always set");
    let groups = groups.to_str().expect("visible ASCII");
    let sent: Vec<&str> = groups.split(',').filter(|g| !g.is_empty()).collect();
    // Each group decodes to exactly what the IdP sent (controls are encoded).
    let clean: Vec<&String> = who.groups.iter().filter(|g| !g.is_empty()).collect();
    assert!(sent.len() <= clean.len());
    for (part, want) in sent.iter().zip(&clean) {
        let part = percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .expect("UTF-8");
        assert_eq!(&part, *want, "groups {groups:?}");
    }
}

fn check_forwarded(headers: &HeaderMap, peer: IpAddr, trusted: bool, tls: bool) {
    let peer = peer.to_canonical().to_string();
    let xff = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    if trusted {
        let xff = xff.expect("X-Forwarded-For always set");
        assert!(
            xff == peer || xff.ends_with(&format!(", {peer}")),
            "{xff:?}"
        );
        return;
    }
    assert_eq!(xff, Some(peer.as_str()));
    assert!(headers.get("forwarded").is_none() && headers.get("x-real-ip").is_none());
    let proto = if tls { "https" } else { "http" };
    assert_eq!(
        headers
            .get_all("x-forwarded-proto")
            .iter()
            .collect::<Vec<_>>(),
        [proto]
    );
    assert_eq!(
        headers.get("x-forwarded-host"),
        headers.get(http::header::HOST)
    );
}

fn check_hygiene(headers: &HeaderMap) {
    for name in HOP_BY_HOP {
        assert!(headers.get(name).is_none(), "{name} kept");
    }
    if let Some(te) = headers.get(http::header::TE) {
        assert_eq!(te, "trailers");
    }
    // Only a WebSocket upgrade keeps `Connection`, and then only as `upgrade`.
    if let Some(connection) = headers.get(http::header::CONNECTION) {
        assert_eq!(connection, "upgrade");
        let upgrade = headers
            .get(http::header::UPGRADE)
            .expect("upgrade kept with connection");
        assert!(upgrade
            .to_str()
            .is_ok_and(|u| u.trim().eq_ignore_ascii_case("websocket")));
    } else {
        assert!(
            headers.get(http::header::UPGRADE).is_none(),
            "upgrade kept alone"
        );
    }
    for cookie in headers.get_all(http::header::COOKIE) {
        for pair in cookie.as_bytes().split(|&b| b == b';') {
            let name = pair
                .split(|&b| b == b'=')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let bare = [b"__host-".as_slice(), b"__secure-"]
                .iter()
                .find_map(|p| {
                    let head = name.get(..p.len())?;
                    head.eq_ignore_ascii_case(p).then(|| &name[p.len()..])
                })
                .unwrap_or(name);
            assert!(
                !bare.starts_with(COOKIE_NAME.as_bytes()),
                "sidecar cookie {pair:?} forwarded"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let mut headers = build(&input);
    let peers = [
        (IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), true),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), true),
        (
            IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()),
            true,
        ),
        (IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)), false),
        (
            IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()),
            false,
        ),
    ];
    let (peer, trusted) = peers[usize::from(input.peer) % peers.len()];
    let identity = input.identity.as_ref();
    let ctx = ForwardContext {
        client_addr: SocketAddr::new(peer, 40000),
        identity,
        session: None,
        tls: input.tls,
    };
    let original = Uri::from_static("http://auth.example.com/app?x=1");
    upstream().prepare_headers(&mut headers, &original, &ctx);
    check_identity(&headers, identity);
    check_forwarded(&headers, peer, trusted, input.tls);
    check_hygiene(&headers);
});
