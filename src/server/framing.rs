//! Requests whose target host is ambiguous are refused before routing, so the
//! sidecar and the upstream can never disagree on which site was asked for.
//! hyper already refuses bad framing (conflicting lengths, bad
//! `Transfer-Encoding`, odd header names, obsolete line folding). Public for
//! the fuzz targets.

use http::{header, HeaderValue, Method, Request, Version};

use crate::http::authority;
use crate::http::respond::Reject;

/// `Err` for: CONNECT (nothing is tunnelled); several `Host` fields; a `Host`
/// or target authority that is not `host[:port]`; a target authority (HTTP/1
/// absolute form, HTTP/2 `:authority`) naming another host than `Host` (RFC
/// 9112 §3.2, RFC 9113 §8.3.1); and an HTTP/1.1 request without `Host`.
pub fn check<B>(req: &Request<B>) -> Result<(), Reject> {
    if req.method() == Method::CONNECT {
        return Err(Reject::BadRequest("CONNECT is not supported."));
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let (host, another) = (hosts.next(), hosts.next());
    if another.is_some() {
        return Err(Reject::BadRequest("More than one Host header."));
    }
    let target = req.uri().authority().map(|a| a.as_str().as_bytes());
    let valid = |v: &[u8]| authority::is_valid(v);
    if !host.map(HeaderValue::as_bytes).is_none_or(valid) || !target.is_none_or(valid) {
        return Err(Reject::BadRequest("The Host is not a valid host[:port]."));
    }
    match (host, target) {
        (None, None) if req.version() == Version::HTTP_11 => {
            Err(Reject::BadRequest("The Host header is missing."))
        }
        (Some(host), Some(target)) if !host.as_bytes().eq_ignore_ascii_case(target) => {
            Err(Reject::BadRequest("The request target names another host."))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, version: Version, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder()
            .method(method)
            .uri(target)
            .version(version);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn only_unambiguous_targets_pass() {
        const HTTP_10: Version = Version::HTTP_10;
        const HTTP_11: Version = Version::HTTP_11;
        const HTTP_2: Version = Version::HTTP_2;
        let ok = [
            req("GET", "/a", HTTP_11, &["app.example"]),
            req("GET", "http://App.Example/a", HTTP_11, &["app.example"]),
            req("GET", "/a", HTTP_10, &[]),
            req("GET", "https://app.example/a", HTTP_2, &[]),
            req("GET", "https://app.example/a", HTTP_2, &["App.example"]),
            req("GET", "/a", HTTP_2, &["app.example"]),
        ];
        for r in &ok {
            assert!(check(r).is_ok(), "{r:?}");
        }
        let refused = [
            req("GET", "/a", HTTP_11, &[]),
            req("GET", "/a", HTTP_11, &["app.example", "evil.example"]),
            req("GET", "http://evil.example/a", HTTP_11, &["app.example"]),
            req(
                "GET",
                "http://app.example:8080/a",
                HTTP_11,
                &["app.example"],
            ),
            req("CONNECT", "app.example:443", HTTP_11, &["app.example:443"]),
            req("CONNECT", "app.example:443", HTTP_2, &[]),
            req(
                "GET",
                "https://public.example/a",
                HTTP_2,
                &["admin.example"],
            ),
            req(
                "GET",
                "https://app.example/a",
                HTTP_2,
                &["app.example", "app.example"],
            ),
            req("GET", "/a", HTTP_2, &["a.example", "b.example"]),
            req("GET", "/a", HTTP_11, &["admin.example@public.example"]),
            req("GET", "/a", HTTP_10, &["admin.example@public.example"]),
            req("GET", "https://admin.example@public.example/a", HTTP_2, &[]),
            req(
                "GET",
                "http://admin.example@public.example/a",
                HTTP_11,
                &["admin.example@public.example"],
            ),
        ];
        for r in &refused {
            assert!(check(r).is_err(), "{r:?}");
        }
    }
}
