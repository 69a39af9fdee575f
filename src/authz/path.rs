//! Request paths as authorization sees them.
//!
//! The sidecar forwards the path exactly as the client sent it, and the
//! upstream may read it in ways we cannot know (resolve `..`, decode `%2F`,
//! treat `\` as `/`, merge `//`, drop `;params` like Tomcat). So a path is
//! either *canonical*, where every reasonable reading agrees (only
//! percent-encoded unreserved characters are decoded), or *ambiguous*, where
//! authorization must hold for every reading and skip-auth never applies.
//!
//! Independently, many frameworks match routes without case (Express,
//! ASP.NET) or drop a format suffix (Rails' `.json`), and some file systems
//! trailing dots, spaces and `~`. So restricting rules are also checked
//! against the [`fold`]ed reading of a path; skip-auth never is.

/// How authorization reads one request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathView {
    /// Unreserved characters decoded, other escapes with upper-case hex; no dot
    /// segments, no `//`, no encoded slash or backslash, no `;`, no `%25`.
    Canonical(String),
    /// Readers may disagree. `resolved` is the most decoded reading (escapes
    /// decoded, `\` as `/`, `;params` dropped, `//` merged, dot segments
    /// resolved like a browser, clamped at the root); `raw` is the path as sent.
    Ambiguous { resolved: String, raw: String },
}

impl PathView {
    /// Reads the path part of a request target; a query or fragment is cut off.
    pub fn of(target: &str) -> Self {
        let raw = target
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string();
        match canonical(&raw) {
            Some(path) => PathView::Canonical(path),
            None => PathView::Ambiguous {
                resolved: resolve(&raw),
                raw,
            },
        }
    }
}

impl PathView {
    /// The readings restricting rules are checked against, each once: the
    /// path (both readings of an ambiguous one), and their folded forms.
    pub fn readings(&self) -> Vec<Reading> {
        let exact: Vec<&String> = match self {
            PathView::Canonical(p) => vec![p],
            PathView::Ambiguous { resolved, raw } => vec![resolved, raw],
        };
        let mut out: Vec<Reading> = Vec::with_capacity(exact.len() * 2);
        for path in exact {
            for reading in [Reading::Exact(path.clone()), Reading::Folded(fold(path))] {
                if !out.contains(&reading) {
                    out.push(reading);
                }
            }
        }
        out
    }
}

/// One way an application may read a request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// As sent (or resolved): compared with configured prefixes as written.
    Exact(String),
    /// [`fold`]ed: compared with the folded configured prefixes.
    Folded(String),
}

impl Reading {
    /// Whether a configured path prefix matches this reading.
    pub fn under(&self, prefix: &str) -> bool {
        match self {
            Reading::Exact(path) => super::prefix_matches(prefix, path),
            Reading::Folded(path) => super::prefix_matches(&fold(prefix), path),
        }
    }
}

/// Matches exactly or folded: what a restricted provider's prefix claims.
pub fn loosely_under(prefix: &str, path: &str) -> bool {
    super::prefix_matches(prefix, path) || super::prefix_matches(&fold(prefix), &fold(path))
}

/// The path as a case-insensitive, suffix-dropping router may see it; for
/// matching only. Each segment: percent-escapes decoded, lower-cased (with
/// the non-ASCII letters whose case mapping is an ASCII letter, like the
/// Kelvin sign, mapped to it), trailing dots, spaces, tabs and `~` trimmed,
/// and everything from the first `.` after its first character dropped
/// (`admin.json`, `admin.tar.gz` -> `admin`). A segment that would become
/// empty keeps its lower-cased form.
pub fn fold(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match escape_at(bytes, i) {
            Some(b) if b != b'/' => {
                decoded.push(b);
                i += 3;
            }
            _ => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    let text: String = String::from_utf8_lossy(&decoded)
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(fold_char)
        .collect();
    let segments: Vec<&str> = text.split('/').map(fold_segment).collect();
    segments.join("/")
}

/// Non-ASCII letters that case-insensitive comparisons equate with ASCII ones.
fn fold_char(c: char) -> Option<char> {
    match c {
        // to_lowercase already maps the Kelvin sign to `k`; these are the rest.
        '\u{017F}' => Some('s'), // LONG S: its upper case is S
        '\u{0131}' => Some('i'), // DOTLESS I: its upper case is I
        '\u{0307}' => None,      // the dot to_lowercase adds to U+0130 (I with a dot)
        other => Some(other),
    }
}

fn fold_segment(segment: &str) -> &str {
    let trimmed = segment.trim_end_matches(['.', ' ', '\t', '~']);
    let stem = match trimmed.char_indices().skip(1).find(|(_, c)| *c == '.') {
        Some((at, _)) => &trimmed[..at],
        None => trimmed,
    };
    if stem.is_empty() {
        segment
    } else {
        stem
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `%XY` at `i`, as a byte.
fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    match bytes.get(i..i + 3) {
        Some([b'%', h, l]) => Some(hex(*h)? << 4 | hex(*l)?),
        _ => None,
    }
}

/// The canonical form, or `None` when readers could disagree.
fn canonical(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let decoded = escape_at(bytes, i)?;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else if matches!(decoded, b'/' | b'\\' | b'%' | b';') {
                return None;
            } else {
                out.push_str(&format!("%{decoded:02X}"));
            }
            i += 3;
            continue;
        }
        if matches!(b, b'\\' | b';') || !b.is_ascii() {
            return None;
        }
        out.push(char::from(b));
        i += 1;
    }
    let segments: Vec<&str> = out.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let bad = segments
        .iter()
        .enumerate()
        .any(|(n, s)| *s == "." || *s == ".." || (s.is_empty() && n != last));
    (!bad).then_some(out)
}

/// The most decoded reading, for matching only (never forwarded).
fn resolve(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match escape_at(bytes, i) {
            Some(b) => {
                decoded.push(b);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&decoded).replace('\\', "/");
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing = false;
    for segment in text.split('/') {
        let segment = segment.split(';').next().unwrap_or_default();
        trailing = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let mut path = format!("/{}", stack.join("/"));
    if trailing && !stack.is_empty() {
        path.push('/');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(p: &str) -> PathView {
        PathView::Canonical(p.to_string())
    }

    fn ambiguous(resolved: &str, raw: &str) -> PathView {
        PathView::Ambiguous {
            resolved: resolved.into(),
            raw: raw.into(),
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_the_query_and_fragment_dropped() {
        assert_eq!(PathView::of("/st%61tic/x?a=/admin"), canon("/static/x"));
        assert_eq!(PathView::of("/healthz#/../admin"), canon("/healthz"));
        assert_eq!(PathView::of("/a%2fb%3f"), ambiguous("/a/b?", "/a%2fb%3f"));
        assert_eq!(PathView::of("/a%20b%3f"), canon("/a%20b%3F"));
        assert_eq!(PathView::of("/"), canon("/"));
        assert_eq!(PathView::of("/static/"), canon("/static/"));
        assert_eq!(PathView::of("/STATIC/"), canon("/STATIC/"));
    }

    #[test]
    fn dot_segments_encoded_slashes_and_backslashes_are_ambiguous() {
        let cases = [
            ("/static/../admin", "/admin"),
            ("/static/%2e%2e/admin", "/admin"),
            ("/static%2F..%2Fadmin", "/admin"),
            ("/static/..%2Fadmin", "/admin"),
            ("//static/../admin", "/admin"),
            ("/static/..\\admin", "/admin"),
            ("/static/%5c..%5cadmin", "/admin"),
            ("/static/..;/admin", "/admin"),
            ("/admin;x=1/", "/admin/"),
            ("/static//x", "/static/x"),
            ("/../../admin", "/admin"),
            ("/static/./x", "/static/x"),
            ("/static/%252e%252e/admin", "/static/%2e%2e/admin"),
            ("/static/%zz", "/static/%zz"),
            ("/a/b/..", "/a/"),
        ];
        for (raw, resolved) in cases {
            assert_eq!(PathView::of(raw), ambiguous(resolved, raw), "{raw}");
        }
        assert_eq!(PathView::of("*"), ambiguous("/*", "*"));
    }

    #[test]
    fn folding_drops_case_format_suffixes_and_trailing_dots_spaces_and_tildes() {
        for path in [
            "/ADMIN/x",
            "/Admin",
            "/admin.json",
            "/admin.",
            "/admin%20",
            "/admin~",
            "/admin%09",
            "/ad%6Din",
            "/admin.tar.gz",
            "/admin. ~",
            "/%E2%84%AAelvin",
        ] {
            let folded = fold(path);
            assert!(
                folded == "/admin" || folded == "/admin/x" || folded == "/kelvin",
                "{path} -> {folded}"
            );
        }
        assert_eq!(fold("/.well-known/x"), "/.well-known/x");
        assert_eq!(fold("/a/~/b"), "/a/~/b");
        assert_eq!(fold("/static/"), "/static/");
        assert_eq!(
            fold("/a%2Fb"),
            "/a%2fb",
            "an encoded slash stays one segment"
        );
        assert_eq!(fold("/administrator"), "/administrator");
    }

    #[test]
    fn readings_list_each_exact_and_folded_form_once() {
        assert_eq!(
            PathView::of("/Admin.json").readings(),
            vec![
                Reading::Exact("/Admin.json".into()),
                Reading::Folded("/admin".into())
            ]
        );
        assert_eq!(PathView::of("/a").readings().len(), 2);
        assert_eq!(PathView::of("/A/../b").readings().len(), 4);
        assert!(Reading::Folded(fold("/ADMIN/x")).under("/Admin"));
        assert!(!Reading::Exact("/ADMIN/x".into()).under("/admin"));
        assert!(loosely_under("/staff", "/STAFF.json"));
        assert!(!loosely_under("/staff", "/staffing"));
    }
}
