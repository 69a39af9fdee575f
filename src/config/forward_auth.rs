//! Forward-auth settings: which ingress calls `/oauth2/auth`, and what a
//! success looks like to it. The ingress decides the defaults, so each
//! documented setup needs one setting.

use http::{HeaderName, StatusCode};

use super::parse::{self, Parsed};
use super::reader::Reader;
use super::{ForwardAuthConfig, ForwardAuthIngress, OriginalHeaders};

const GENERIC_HEADERS: [&str; 3] = [
    "forward-auth-method-header",
    "forward-auth-url-header",
    "forward-auth-host-header",
];

pub(crate) fn read(r: &mut Reader) -> ForwardAuthConfig {
    let ingress = r.or("forward-auth-ingress", Kind::Nginx, kind);
    let ingress = match ingress {
        Kind::Nginx => ForwardAuthIngress::Nginx,
        Kind::Traefik => ForwardAuthIngress::Traefik,
        Kind::Envoy => ForwardAuthIngress::Envoy,
        Kind::Generic => ForwardAuthIngress::Generic(generic(r)),
    };
    if !matches!(ingress, ForwardAuthIngress::Generic(_)) {
        for name in GENERIC_HEADERS {
            if let Some(v) = r.value(name).filter(|v| !v.trim().is_empty()) {
                let v = v.to_string();
                r.problem(
                    name,
                    "only applies with forward-auth-ingress = generic",
                    Some(&v),
                );
            }
        }
    }
    // Envoy lets a request through only on 200; Traefik hands any other
    // answer to the browser as it is, so navigations need a redirect.
    let (status, redirect) = match ingress {
        ForwardAuthIngress::Envoy => (StatusCode::OK, false),
        ForwardAuthIngress::Traefik => (StatusCode::ACCEPTED, true),
        _ => (StatusCode::ACCEPTED, false),
    };
    ForwardAuthConfig {
        ok_status: r.or("forward-auth-status", status, parse::ok_status),
        redirect_browsers: r.or("forward-auth-redirect", redirect, parse::boolean),
        ingress,
    }
}

fn generic(r: &mut Reader) -> OriginalHeaders {
    let url = r.optional("forward-auth-url-header", parse::header_name);
    let unset = r
        .value("forward-auth-url-header")
        .is_none_or(|v| v.trim().is_empty());
    if unset {
        r.problem(
            "forward-auth-url-header",
            "is required with forward-auth-ingress = generic (the header your ingress puts the original URL in)",
            None,
        );
    }
    OriginalHeaders {
        method: r.optional("forward-auth-method-header", parse::header_name),
        url: url.unwrap_or(HeaderName::from_static("x-original-url")),
        host: r.optional("forward-auth-host-header", parse::header_name),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Nginx,
    Traefik,
    Envoy,
    Generic,
}

fn kind(s: &str) -> Parsed<Kind> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nginx" => Ok(Kind::Nginx),
        "traefik" => Ok(Kind::Traefik),
        "envoy" => Ok(Kind::Envoy),
        "generic" => Ok(Kind::Generic),
        _ => Err("must be nginx, traefik, envoy or generic".into()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ForwardAuthIngress, RunArgs};

    fn load(extra: &[(&str, &str)]) -> Result<Config, String> {
        let mut env = crate::proxy::tests::test_env();
        for (k, v) in extra {
            env.0.insert((*k).into(), (*v).into());
        }
        Config::load(&RunArgs::default(), &env).map_err(|e| e.to_string())
    }

    #[test]
    fn the_ingress_sets_the_defaults_and_generic_needs_its_headers() {
        let nginx = load(&[]).unwrap().forward_auth;
        assert_eq!(
            (nginx.ingress, nginx.ok_status.as_u16()),
            (ForwardAuthIngress::Nginx, 202)
        );
        let envoy = load(&[("SIDECAR_FORWARD_AUTH_INGRESS", "envoy")]).unwrap();
        assert_eq!(envoy.forward_auth.ok_status.as_u16(), 200);
        let traefik = load(&[("SIDECAR_FORWARD_AUTH_INGRESS", "Traefik")]).unwrap();
        assert!(traefik.forward_auth.redirect_browsers);
        let generic = load(&[("SIDECAR_FORWARD_AUTH_INGRESS", "generic")]).unwrap_err();
        assert!(generic.contains("forward-auth-url-header"), "{generic}");
        let stray = load(&[("SIDECAR_FORWARD_AUTH_URL_HEADER", "x-url")]).unwrap_err();
        assert!(
            stray.contains("only applies with forward-auth-ingress = generic"),
            "{stray}"
        );
        let bad = load(&[("SIDECAR_FORWARD_AUTH_INGRESS", "haproxy")]).unwrap_err();
        assert!(
            bad.contains("must be nginx, traefik, envoy or generic"),
            "{bad}"
        );
        let ok = load(&[
            ("SIDECAR_FORWARD_AUTH_INGRESS", "generic"),
            ("SIDECAR_FORWARD_AUTH_URL_HEADER", "X-Auth-Url"),
            ("SIDECAR_FORWARD_AUTH_METHOD_HEADER", "X-Auth-Method"),
        ])
        .unwrap();
        let ForwardAuthIngress::Generic(h) = ok.forward_auth.ingress else {
            panic!("generic");
        };
        assert_eq!(h.url, "x-auth-url");
        assert_eq!(h.method.unwrap(), "x-auth-method");
        assert!(h.host.is_none());
    }
}
