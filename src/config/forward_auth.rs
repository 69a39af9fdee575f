//! Forward-auth settings: which ingress calls `/oauth2/auth`, and what a
//! success looks like to it. The ingress decides the defaults, so each
//! documented setup needs one setting.

use http::{HeaderName, StatusCode};

use super::check::{check, Checker};
use super::parse;
use super::settings::Settings;
use super::{ForwardAuthConfig, ForwardAuthIngress, OriginalHeaders};

pub(crate) fn read(c: &mut Checker, s: &Settings) -> ForwardAuthConfig {
    let given = &s.forward_auth_ingress;
    let ingress = match given.trim().to_ascii_lowercase().as_str() {
        "traefik" => ForwardAuthIngress::Traefik,
        "envoy" => ForwardAuthIngress::Envoy,
        "generic" => ForwardAuthIngress::Generic(generic(c, s)),
        "nginx" => ForwardAuthIngress::Nginx,
        _ => {
            let message = "must be nginx, traefik, envoy or generic";
            c.problem("forward_auth_ingress", message, Some(given));
            ForwardAuthIngress::Nginx
        }
    };
    if !matches!(ingress, ForwardAuthIngress::Generic(_)) {
        let generic_headers = [
            ("forward_auth_method_header", &s.forward_auth_method_header),
            ("forward_auth_url_header", &s.forward_auth_url_header),
            ("forward_auth_host_header", &s.forward_auth_host_header),
        ];
        for (name, value) in generic_headers {
            if let Some(v) = value {
                let message = "only applies with forward-auth-ingress = generic";
                c.problem(name, message, Some(v));
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
        ok_status: check!(c.optional(s.forward_auth_status, parse::ok_status)).unwrap_or(status),
        redirect_browsers: check!(c.optional(s.forward_auth_redirect, parse::boolean))
            .unwrap_or(redirect),
        ingress,
    }
}

fn generic(c: &mut Checker, s: &Settings) -> OriginalHeaders {
    let url = check!(c.optional(s.forward_auth_url_header, parse::header_name));
    if s.forward_auth_url_header.is_none() {
        c.problem(
            "forward_auth_url_header",
            "is required with forward-auth-ingress = generic (the header your ingress puts the original URL in)",
            None,
        );
    }
    OriginalHeaders {
        method: check!(c.optional(s.forward_auth_method_header, parse::header_name)),
        url: url.unwrap_or(HeaderName::from_static("x-original-url")),
        host: check!(c.optional(s.forward_auth_host_header, parse::header_name)),
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
