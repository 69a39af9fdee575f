//! What a `Host` (or `:authority`) may be: `host[:port]` and nothing else.
//!
//! Parsers disagree on anything more (`a@b` is `b` to a URL parser and `a@b`
//! to a string compare; `a b`, `a,b` and `a/b` are split differently by each),
//! and the sidecar authorizes one reading while the app may act on another.
//! So the sidecar refuses every other form (RFC 9110 §7.2, RFC 3986 §3.2.2).

/// `name[:port]`, `IPv4[:port]` or `[IPv6][:port]`: a DNS-style name of
/// letters, digits, `-`, `_` and `.`; a port of 1 to 5 digits up to 65535.
pub fn is_valid(authority: &[u8]) -> bool {
    let (host, port) = match authority.strip_prefix(b"[") {
        Some(rest) => match rest.iter().position(|&b| b == b']') {
            Some(end) => {
                let (literal, after) = rest.split_at(end);
                let after = &after[1..];
                if !is_ipv6_literal(literal) {
                    return false;
                }
                match after.strip_prefix(b":") {
                    Some(port) => (None, Some(port)),
                    None if after.is_empty() => (None, None),
                    None => return false,
                }
            }
            None => return false,
        },
        None => match authority.iter().rposition(|&b| b == b':') {
            Some(colon) => (Some(&authority[..colon]), Some(&authority[colon + 1..])),
            None => (Some(authority), None),
        },
    };
    host.is_none_or(is_name) && port.is_none_or(is_port)
}

fn is_name(host: &[u8]) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_ipv6_literal(literal: &[u8]) -> bool {
    std::str::from_utf8(literal).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

fn is_port(port: &[u8]) -> bool {
    (1..=5).contains(&port.len())
        && port.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(port).is_ok_and(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn only_host_and_port_pass() {
        for ok in [
            "app.example.com",
            "App.Example.COM:8443",
            "localhost",
            "127.0.0.1:4180",
            "[::1]",
            "[::1]:4180",
        ] {
            assert!(is_valid(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "admin.example.com@public.example.com",
            "user:pw@app.example.com",
            "app.example.com:",
            "app.example.com:99999",
            "app.example.com:80:80",
            "app.example.com/admin",
            "app.example.com?x",
            "app.example.com#x",
            "app example.com",
            "app.example.com,evil.example",
            "app.example.com\\evil",
            "[::1",
            "[::1]x",
            "[evil.example]",
            "::1",
            "app.example.com:+80",
            "%61pp.example.com",
        ] {
            assert!(!is_valid(bad.as_bytes()), "{bad}");
        }
    }
}
