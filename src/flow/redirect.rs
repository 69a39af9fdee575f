//! Return-to (`rd`) validation: after sign-in the browser may only be sent to
//! a local path on the sidecar's own origin or to an allow-listed host.
//!
//! Browsers and URL parsers disagree about odd input (backslashes, tabs,
//! full-width slashes, userinfo), so anything unusual is refused before the
//! `url` crate parses it, and the parsed result is checked again afterwards.
//! Every refusal becomes `"/"`: the user lands on the app's home page.

use percent_encoding::percent_decode_str;
use url::{Host, Origin, Position, Url};

use crate::authz::{domain_matches, parse_domain};

/// Longest `rd` we consider; longer values are refused, not truncated.
const MAX_LEN: usize = 4096;
/// How many rounds of percent-decoding we look through (`%252F` -> `%2F` -> `/`).
const DECODE_ROUNDS: usize = 3;
/// Where a refused `rd` sends the user.
const FALLBACK: &str = "/";
/// Unicode look-alikes of `/` and `\` that some software folds to ASCII.
const SLASH_LOOKALIKES: &[char] = &[
    '\u{FF0F}', '\u{FF3C}', '\u{2215}', '\u{2044}', '\u{29F8}', '\u{29F9}', '\u{FE68}', '\u{2216}',
];

/// One entry of `allowed_redirect_domains`: a host or a `.domain`, read and
/// matched exactly as every other domain setting is ([`parse_domain`],
/// [`domain_matches`]: `.example.com` covers its subdomains, not the apex).
#[derive(Clone, Debug, PartialEq, Eq)]
struct AllowedHost {
    name: String,
    port: Option<u16>,
}

impl AllowedHost {
    /// Parses `host`, `host:port`, `.domain` or `.domain:port`; anything else is ignored.
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => (name, Some(port.parse::<u16>().ok()?)),
            None => (entry, None),
        };
        let name = parse_domain(name).ok()?;
        Some(Self { name, port })
    }

    /// Whether `host` (lowercase, from the `url` crate) on `port` is covered.
    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        domain_matches(&self.name, host) && self.port == port
    }
}

/// Decides where the browser may go after sign-in.
#[derive(Clone, Debug)]
pub struct RedirectPolicy {
    /// The sidecar's origin as a URL with an empty path, used to resolve local paths.
    own: Url,
    own_origin: Origin,
    allowed: Vec<AllowedHost>,
}

impl RedirectPolicy {
    /// `own_origin`: the sidecar's public origin (scheme://host[:port]), taken from the redirect URL;
    /// `allowed_domains`: `config.allowed_redirect_domains` (exact hosts like `app.example.com`, or
    /// `.example.com` meaning that domain and any subdomain). Unparseable entries allow nothing.
    pub fn new(own_origin: &Url, allowed_domains: &[String]) -> Self {
        let mut own = own_origin.clone();
        own.set_path("/");
        own.set_query(None);
        own.set_fragment(None);
        // A URL with a host always accepts empty credentials; the result is ignored on purpose.
        let _ = own.set_username("");
        let _ = own.set_password(None);
        Self {
            own_origin: own.origin(),
            own,
            allowed: allowed_domains
                .iter()
                .filter_map(|d| AllowedHost::parse(d))
                .collect(),
        }
    }

    /// Returns a safe target: a local path-and-query starting with a single `/`, or an absolute
    /// URL on the own origin or an allowed host (https, or the own origin's scheme). The fragment is
    /// dropped. Anything else becomes `"/"`.
    pub fn sanitize(&self, rd: &str) -> String {
        self.check(rd).unwrap_or_else(|| FALLBACK.to_owned())
    }

    fn check(&self, rd: &str) -> Option<String> {
        if !plain_ascii(rd) || !decoded_forms_safe(rd) {
            return None;
        }
        let out = if rd.starts_with('/') {
            self.local(rd)
        } else {
            self.absolute(rd)
        }?;
        // Normalising can make what the input checks refuse (`/%2e/%20/x` -> `/%20/x`).
        (plain_ascii(&out) && decoded_forms_safe(&out)).then_some(out)
    }

    /// A local path: resolved against our origin, it must stay there and stay a single-slash path
    /// (`/.//evil.com` normalises to `//evil.com`, so the output is checked, not just the input).
    fn local(&self, rd: &str) -> Option<String> {
        let mut url = self.own.join(rd).ok()?;
        url.set_fragment(None);
        if url.origin() != self.own_origin {
            return None;
        }
        let out = &url[Position::BeforePath..Position::AfterQuery];
        let single_slash =
            out.starts_with('/') && !out.starts_with("//") && !out.starts_with("/\\");
        single_slash.then(|| out.to_owned())
    }

    /// An absolute URL: `scheme://authority` with no userinfo or escapes in the authority, whose
    /// origin is ours or whose host is allow-listed.
    fn absolute(&self, rd: &str) -> Option<String> {
        let (scheme, rest) = rd.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != self.own.scheme() {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains(['@', '%']) {
            return None;
        }
        let mut url = Url::parse(rd).ok()?;
        url.set_fragment(None);
        let clean = url.username().is_empty() && url.password().is_none();
        // `https://own//evil.com` is refused like `//evil.com`: the app there
        // may redirect to its path, which a browser reads as another host.
        let path = &url[Position::BeforePath..Position::AfterQuery];
        let single_slash = !path.starts_with("//") && decoded_forms_safe(path);
        let trusted = url.origin() == self.own_origin || self.allowed_host(&url);
        (clean && single_slash && trusted).then(|| url.into())
    }

    /// Whether the URL's host is a DNS name on the allow-list (never an IP literal).
    fn allowed_host(&self, url: &Url) -> bool {
        match url.host() {
            Some(Host::Domain(host)) => self.allowed.iter().any(|a| a.matches(host, url.port())),
            _ => false,
        }
    }
}

/// Only printable ASCII without spaces or backslashes: rules out control characters, leading and
/// trailing whitespace, full-width and other non-ASCII look-alikes, and `\` tricks.
fn plain_ascii(rd: &str) -> bool {
    !rd.is_empty() && rd.len() <= MAX_LEN && rd.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// Looks through a few rounds of percent-decoding: no decoded form may contain control characters
/// or slash look-alikes, or start with two slashes (ignoring whitespace between them).
fn decoded_forms_safe(rd: &str) -> bool {
    let mut current = rd.to_owned();
    for _ in 0..DECODE_ROUNDS {
        let decoded = percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == current {
            return true;
        }
        if !decoded_safe(&decoded) {
            return false;
        }
        current = decoded;
    }
    // Still changing after several rounds: not something a real app produces.
    false
}

fn decoded_safe(decoded: &str) -> bool {
    if decoded
        .chars()
        .any(|c| c.is_control() || SLASH_LOOKALIKES.contains(&c))
    {
        return false;
    }
    let Some(rest) = decoded.strip_prefix(['/', '\\']) else {
        return true;
    };
    !rest.trim_start().starts_with(['/', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        let own = Url::parse("https://auth.example.com/oauth2/callback").unwrap();
        let allowed = vec![
            "app.example.com".to_owned(),
            ".corp.example.net".to_owned(),
            "ports.example.org:8443".to_owned(),
        ];
        RedirectPolicy::new(&own, &allowed)
    }

    #[test]
    fn table() {
        let p = policy();
        let cases: &[(&str, &str)] = &[
            // accepted
            ("/", "/"),
            ("/a/b?x=1&y=%20", "/a/b?x=1&y=%20"),
            ("/a/b#frag", "/a/b"),
            ("/a/../b", "/b"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/?next=//evil.com", "/?next=//evil.com"),
            ("https://app.example.com/x?q", "https://app.example.com/x?q"),
            ("HTTPS://APP.example.com/x", "https://app.example.com/x"),
            ("https://corp.example.net/", "/"),
            (
                "https://a.b.corp.example.net/p#f",
                "https://a.b.corp.example.net/p",
            ),
            (
                "https://auth.example.com/own",
                "https://auth.example.com/own",
            ),
            (
                "https://auth.example.com:443/own",
                "https://auth.example.com/own",
            ),
            (
                "https://ports.example.org:8443/",
                "https://ports.example.org:8443/",
            ),
            // refused
            ("", "/"),
            ("//evil.com", "/"),
            ("/\\evil.com", "/"),
            ("\\\\evil.com", "/"),
            ("https:evil.com", "/"),
            ("http:/evil.com", "/"),
            ("https:app.example.com", "/"),
            ("javascript:alert(1)", "/"),
            ("data:text/html,<script>", "/"),
            ("/%2F%2Fevil.com", "/"),
            ("/%5Cevil.com", "/"),
            ("/%252F%252Fevil.com", "/"),
            ("/\t/evil.com", "/"),
            ("/ /evil.com", "/"),
            ("/%20/evil.com", "/"),
            ("/%09/evil.com", "/"),
            ("/a%0d%0aSet-Cookie:x=1", "/"),
            ("／／evil.com", "/"),
            ("/\u{FF0F}evil.com", "/"),
            ("/%EF%BC%8Fevil.com", "/"),
            (" /a", "/"),
            ("/a ", "/"),
            ("/.//evil.com", "/"),
            ("/a/..//evil.com", "/"),
            ("/%2e//evil.com", "/"),
            ("/%2e/%20/evil.com", "/"),
            ("/a/../%2F%2Fevil.com", "/"),
            ("/./%09/evil.com", "/"),
            ("https://evil.com", "/"),
            ("https://app.example.com.evil.com", "/"),
            ("https://evil.com\\@app.example.com", "/"),
            ("https://app.example.com@evil.com", "/"),
            ("https://user:pw@app.example.com/", "/"),
            ("https://@app.example.com/", "/"),
            ("https://app%2eexample.com/", "/"),
            ("https:///app.example.com/", "/"),
            ("http://app.example.com/", "/"),
            ("http://auth.example.com/", "/"),
            ("https://auth.example.com:8443/", "/"),
            ("https://app.example.com:444/", "/"),
            ("https://ports.example.org/", "/"),
            ("https://example.net/", "/"),
            ("https://evilcorp.example.net/", "/"),
            ("https://xn--pp-8ja.example.com/", "/"),
            ("https://app.example.com./", "/"),
            ("https://127.0.0.1/", "/"),
            ("https://auth.example.com//evil.com", "/"),
            ("https://auth.example.com/%2F%2Fevil.com", "/"),
            ("https://auth.example.com/%2F/evil.com", "/"),
            ("https://app.example.com//evil.com/x", "/"),
            ("https://auth.example.com/.//evil.com", "/"),
            ("https://auth.example.com/%5C%5Cevil.com", "/"),
            ("ftp://app.example.com/", "/"),
            ("evil.com", "/"),
            ("?x=1", "/"),
            ("#frag", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(p.sanitize(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn own_scheme_allowed_for_allowed_hosts_in_plain_http_dev() {
        let own = Url::parse("http://localhost:4180/").unwrap();
        let p = RedirectPolicy::new(&own, &["app.localtest.me".to_owned()]);
        assert_eq!(
            p.sanitize("http://app.localtest.me/x"),
            "http://app.localtest.me/x"
        );
        assert_eq!(
            p.sanitize("http://localhost:4180/x"),
            "http://localhost:4180/x"
        );
        assert_eq!(p.sanitize("http://localhost:4181/x"), "/");
        assert_eq!(p.sanitize("http://localhost/x"), "/");
    }

    #[test]
    fn bad_allow_list_entries_allow_nothing() {
        let own = Url::parse("https://auth.example.com/").unwrap();
        let entries: Vec<String> = [".", "", "*", ":443", "..example.com", "a b", "x:notaport"]
            .map(String::from)
            .to_vec();
        let p = RedirectPolicy::new(&own, &entries);
        assert!(p.allowed.is_empty());
        assert_eq!(p.sanitize("https://example.com/"), "/");
    }

    #[test]
    fn overlong_values_are_refused() {
        let long = format!("/{}", "a".repeat(MAX_LEN));
        assert_eq!(policy().sanitize(&long), "/");
    }
}
