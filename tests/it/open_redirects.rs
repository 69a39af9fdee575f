//! Open-redirect corpus and property tests for `flow::redirect`.
//!
//! Where a sanitized value lands is checked here with the `url` crate directly, not with the
//! validator, so a bug in the validator cannot hide itself.

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers outside #[test] fns

use cognito_sidecar::flow::redirect::RedirectPolicy;
use proptest::prelude::*;
use url::{Host, Url};

const CORPUS: &str = include_str!("../data/open_redirects.txt");
const ALLOWED: &[&str] = &["app.example.com", ".corp.example.net"];

fn policy(own: &str) -> (Url, RedirectPolicy) {
    let own = Url::parse(own).unwrap();
    let allowed: Vec<String> = ALLOWED.iter().map(|s| s.to_string()).collect();
    let policy = RedirectPolicy::new(&own, &allowed);
    (own, policy)
}

/// Independent check: `out`, resolved the way a browser resolves a `Location` header against the
/// sidecar's page, lands on the own origin or on an allowed host over https (or the own scheme).
fn lands_safely(own: &Url, out: &str) -> Result<(), String> {
    if out.is_empty() || !out.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(format!("output has unsafe characters: {out:?}"));
    }
    if out.starts_with('/') && out[1..].starts_with('/') {
        return Err(format!("output is protocol-relative: {out:?}"));
    }
    let target = own
        .join(out)
        .map_err(|e| format!("{out:?} does not resolve: {e}"))?;
    if target.path().starts_with("//") {
        return Err(format!(
            "{out:?} has a protocol-relative path, which the app may redirect to"
        ));
    }
    if target.origin() == own.origin() {
        return Ok(());
    }
    if !target.username().is_empty() || target.password().is_some() {
        return Err(format!("{out:?} carries userinfo"));
    }
    if target.scheme() != "https" && target.scheme() != own.scheme() {
        return Err(format!("{out:?} has scheme {}", target.scheme()));
    }
    let Some(Host::Domain(host)) = target.host() else {
        return Err(format!("{out:?} has no DNS host"));
    };
    let allowed = ALLOWED.iter().any(|a| match a.strip_prefix('.') {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == *a,
    });
    if !allowed || target.port().is_some() {
        return Err(format!("{out:?} leaves for {host}:{:?}", target.port()));
    }
    Ok(())
}

/// Expands the corpus escapes (`{TAB}`, `{U+FF0F}`, ...) into the characters they stand for.
fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).unwrap();
        let name = &rest[start + 1..end];
        let c = match name {
            "TAB" => '\t',
            "LF" => '\n',
            "CR" => '\r',
            "NUL" => '\0',
            "SP" => ' ',
            "VT" => '\u{0B}',
            "FF" => '\u{0C}',
            "DEL" => '\u{7F}',
            _ => {
                let hex = name
                    .strip_prefix("U+")
                    .unwrap_or_else(|| panic!("bad escape {name}"));
                char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// (value, must_be_root) for every corpus line.
fn corpus() -> Vec<(String, bool)> {
    CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix("~ ") {
            Some(tricky) => (unescape(tricky), false),
            None => (unescape(l), true),
        })
        .collect()
}

#[test]
fn corpus_is_large_enough() {
    let hostile = corpus().iter().filter(|(_, root)| *root).count();
    assert!(hostile >= 80, "only {hostile} hostile values");
}

#[test]
fn hostile_values_become_root() {
    let (_, p) = policy("https://auth.example.com");
    let escaped: Vec<String> = corpus()
        .into_iter()
        .filter(|(v, root)| *root && p.sanitize(v) != "/")
        .map(|(v, _)| format!("{v:?} -> {:?}", p.sanitize(&v)))
        .collect();
    assert!(escaped.is_empty(), "not refused:\n{}", escaped.join("\n"));
}

#[test]
fn every_value_lands_on_an_allowed_origin() {
    for own in ["https://auth.example.com", "http://127.0.0.1:4180"] {
        let (own_url, p) = policy(own);
        for (value, _) in corpus() {
            let out = p.sanitize(&value);
            if let Err(e) = lands_safely(&own_url, &out) {
                panic!("own {own}, input {value:?}: {e}");
            }
        }
    }
}

#[test]
fn tricky_but_legitimate_values_survive() {
    let (_, p) = policy("https://auth.example.com");
    assert_eq!(p.sanitize("/a/b?x=1&y=%20"), "/a/b?x=1&y=%20");
    assert_eq!(p.sanitize("/a/b#//evil.com"), "/a/b");
    assert_eq!(p.sanitize("/?rd=https://evil.com"), "/?rd=https://evil.com");
    assert_eq!(
        p.sanitize("https://deep.sub.corp.example.net/path"),
        "https://deep.sub.corp.example.net/path"
    );
}

/// Pieces that, glued together, make most known open-redirect payloads.
fn dangerous_fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "/",
        "\\",
        "//",
        "%2f",
        "%2F",
        "%5c",
        "%5C",
        "%252f",
        "@",
        ":",
        "\t",
        "\n",
        "\r",
        "\0",
        " ",
        "／",
        "＼",
        "。",
        "evil.com",
        "app.example.com",
        "corp.example.net",
        "auth.example.com",
        ".",
        "..",
        "%2e",
        "https:",
        "http:",
        "javascript:",
        "//",
        "?",
        "#",
        "%00",
        "%0a",
        ":443",
        ":8443",
        "xn--",
        "\u{200B}",
        "a",
    ])
}

fn assert_safe(input: &str) -> Result<(), TestCaseError> {
    for own in ["https://auth.example.com", "http://127.0.0.1:4180"] {
        let (own_url, p) = policy(own);
        let out = p.sanitize(input);
        prop_assert!(
            lands_safely(&own_url, &out).is_ok(),
            "own {own}, input {input:?} -> {out:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_land_safely(input in any::<String>()) {
        assert_safe(&input)?;
    }

    #[test]
    fn url_like_strings_land_safely(input in "(/|https?://)?[a-z./@:%0-9A-F\\\\?#-]{0,40}") {
        assert_safe(&input)?;
    }

    #[test]
    fn fragment_soup_lands_safely(parts in prop::collection::vec(dangerous_fragment(), 1..10)) {
        assert_safe(&parts.concat())?;
    }
}
