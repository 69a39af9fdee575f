//! `rd` sanitizing: whatever comes in, what goes out, resolved the way a
//! browser resolves a `Location` (WHATWG, which the `url` crate implements)
//! against the sidecar's origin, lands on that origin or an allow-listed host.
//! The allow-list is checked here independently of `RedirectPolicy`.
#![no_main]

use std::sync::OnceLock;

use cognito_sidecar::flow::redirect::RedirectPolicy;
use libfuzzer_sys::fuzz_target;
use url::{Host, Url};

/// One policy and the facts to check its output against.
struct Case {
    policy: RedirectPolicy,
    own: Url,
    /// (host, port, subdomains only)
    allowed: Vec<(&'static str, Option<u16>, bool)>,
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let case = |own: &str, entries: &[&str], allowed| {
            let own = Url::parse(own).expect("own origin");
            let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
            Case {
                policy: RedirectPolicy::new(&own, &entries),
                own,
                allowed,
            }
        };
        vec![
            case(
                "https://auth.example.com/oauth2/callback",
                &[
                    "app.example.com",
                    ".corp.example.net",
                    "ports.example.org:8443",
                ],
                vec![
                    ("app.example.com", None, false),
                    ("corp.example.net", None, true),
                    ("ports.example.org", Some(8443), false),
                ],
            ),
            case(
                "http://localhost:4180/oauth2/callback",
                &["app.localtest.me"],
                vec![("app.localtest.me", None, false)],
            ),
        ]
    })
}

fn host_allowed(case: &Case, url: &Url) -> bool {
    let Some(Host::Domain(host)) = url.host() else {
        return false;
    };
    case.allowed.iter().any(|&(name, port, subdomains)| {
        // `.domain` entries cover its subdomains only, not the apex.
        let host_ok = if subdomains {
            host.len() > name.len() && host.ends_with(&format!(".{name}"))
        } else {
            host == name
        };
        host_ok && url.port() == port
    })
}

fn check(case: &Case, rd: &str) {
    let out = case.policy.sanitize(rd);
    assert!(
        !out.is_empty() && out.bytes().all(|b| b.is_ascii_graphic()),
        "{rd:?} -> unprintable {out:?}"
    );
    let resolved = case
        .own
        .join(&out)
        .unwrap_or_else(|e| panic!("{rd:?} -> {out:?}: {e}"));
    assert!(
        resolved.fragment().is_none(),
        "{rd:?} -> {out:?} keeps a fragment"
    );
    assert!(
        resolved.username().is_empty() && resolved.password().is_none(),
        "{rd:?} -> {out:?} carries credentials"
    );
    if out.starts_with('/') {
        assert!(
            !out.starts_with("//") && !out.starts_with("/\\"),
            "{rd:?} -> protocol-relative {out:?}"
        );
        assert_eq!(
            resolved.origin(),
            case.own.origin(),
            "{rd:?} -> {out:?} left the origin"
        );
    } else {
        assert_eq!(
            Url::parse(&out).ok().as_ref(),
            Some(&resolved),
            "{rd:?} -> {out:?}"
        );
        let scheme_ok = resolved.scheme() == "https" || resolved.scheme() == case.own.scheme();
        let place_ok = resolved.origin() == case.own.origin() || host_allowed(case, &resolved);
        assert!(scheme_ok && place_ok, "{rd:?} -> {out:?} is not allowed");
    }
    // What was accepted is accepted again as it is.
    assert_eq!(
        case.policy.sanitize(&out),
        out,
        "{rd:?} -> {out:?} is not stable"
    );
}

fuzz_target!(|rd: &str| {
    for case in cases() {
        check(case, rd);
        // Attackers often put `rd` inside their own URL or behind a slash.
        check(case, &format!("/{rd}"));
        check(case, &format!("https://app.example.com/{rd}"));
    }
});
