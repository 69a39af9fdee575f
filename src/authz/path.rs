//! Request paths as authorization sees them.
//!
//! The sidecar forwards the path exactly as the client sent it, and the
//! upstream may read it in ways we cannot know (resolve `..`, decode `%2F`,
//! treat `\` as `/`, merge `//`, drop `;params` like Tomcat). So a path is
//! either *canonical*, where every reasonable reading agrees (only
//! percent-encoded unreserved characters are decoded), or *ambiguous*, where
//! authorization must hold for every reading and skip-auth never applies.

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
}
