//! The session cookie against the URLs it must work on: browsers drop Secure
//! cookies set over plain http (except on localhost), refuse a cookie whose
//! domain does not cover the host setting it, and send it only to hosts its
//! domain covers, so every host a sign-in can end on must be covered.

use url::{Host, Url};

use super::shape::is_localhost;
use super::Finding;
use crate::config::{Config, ProviderConfig};

/// The `cookie-secure` and `cookie-domain` lines.
pub(super) fn check<'a>(
    config: &Config,
    providers: impl Iterator<Item = &'a ProviderConfig>,
) -> Vec<Finding> {
    let providers: Vec<&ProviderConfig> = providers.collect();
    let mut redirects: Vec<&Url> = Vec::new();
    for p in &providers {
        if !redirects.contains(&&p.redirect_url) {
            redirects.push(&p.redirect_url);
        }
    }
    let mut out = secure(config, &redirects);
    out.extend(domain(config, &redirects, &providers));
    out
}

fn secure(config: &Config, redirects: &[&Url]) -> Vec<Finding> {
    let plain = |u: &&&Url| u.scheme() == "http" && !is_localhost(u);
    let problems: Vec<Finding> = redirects
        .iter()
        .filter(plain)
        .filter(|_| config.cookie.secure)
        .map(|url| {
            let host = url.host_str().unwrap_or_default();
            let message = format!(
                "cookies are Secure (cookie-secure) but redirect-url {url} is plain http on {host}, \
                 which is not localhost: browsers drop Secure cookies there, so every sign-in ends in \
                 \"This sign-in link is not for this browser\"; serve https (and change redirect-url) \
                 or set cookie-secure=false"
            );
            Finding::problem("cookie-secure", "cookie-secure", message).at(url.as_str())
        })
        .collect();
    if !problems.is_empty() {
        return problems;
    }
    let message = if config.cookie.secure {
        "Secure cookies, and every redirect-url is https or localhost"
    } else {
        "cookies are not Secure (cookie-secure=false): fine for plain http, send them over https in production"
    };
    vec![Finding::ok("cookie-secure", message)]
}

/// Whether a cookie for `domain` (leading `.` or not) is sent to `host`.
fn covers(domain: &str, host: &str) -> bool {
    let d = domain.trim_start_matches('.');
    host == d || host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.'))
}

/// The longest parent domain two hosts share (at least two labels), as `.parent`.
fn common_parent(a: &str, b: &str) -> Option<String> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.rsplit('.').collect(), b.rsplit('.').collect());
    let shared: Vec<&str> = la
        .iter()
        .zip(&lb)
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| *x)
        .collect();
    (shared.len() >= 2).then(|| {
        let mut labels = shared;
        labels.reverse();
        format!(".{}", labels.join("."))
    })
}

fn domain(config: &Config, redirects: &[&Url], providers: &[&ProviderConfig]) -> Vec<Finding> {
    let mut out = Vec::new();
    let cookie_domain = config.cookie.domain.as_deref();
    if let Some(d) = cookie_domain {
        for url in redirects {
            let host = url.host_str().unwrap_or_default();
            let ip = !matches!(url.host(), Some(Host::Domain(_)));
            if ip || !covers(d, host) {
                let message = format!(
                    "cookie-domain {d} does not cover {host}, the host of redirect-url {url}: browsers \
                     refuse the cookie, so sign-in never completes; set cookie-domain to a parent \
                     domain of {host} or leave it unset"
                );
                out.push(
                    Finding::problem("cookie-domain", "cookie-domain", message).at(url.as_str()),
                );
            }
        }
    }
    let home = redirects
        .first()
        .and_then(|u| u.host_str())
        .unwrap_or_default();
    for (host, source) in sign_in_targets(config, providers) {
        let reached = match cookie_domain {
            Some(d) => covers(d, &host),
            None => redirects
                .iter()
                .any(|u| u.host_str() == Some(host.as_str())),
        };
        if reached {
            continue;
        }
        let scope = cookie_domain.map_or(format!("host {home} only"), |d| {
            format!("cookie-domain {d}")
        });
        let fix = common_parent(home, &host).map_or(
            "serve them under one parent domain and set cookie-domain to it".to_string(),
            |parent| format!("set cookie-domain to {parent}"),
        );
        let message = format!(
            "the session cookie is set for {scope} and never reaches {host} ({source}): \
             a sign-in there starts over; {fix}"
        );
        out.push(Finding::problem("cookie-domain", "cookie-domain", message));
    }
    if out.is_empty() {
        let message = match cookie_domain {
            Some(d) => format!("cookie-domain {d} covers every host a sign-in can end on"),
            None => format!("host-only cookie for {home}, and no sign-in ends on another host"),
        };
        out.push(Finding::ok("cookie-domain", message));
    }
    out
}

/// Hosts a signed-in browser may be sent to, and which setting names them.
fn sign_in_targets(config: &Config, providers: &[&ProviderConfig]) -> Vec<(String, String)> {
    let mut targets = Vec::new();
    for entry in &config.allowed_redirect_domains {
        let host = entry.rsplit_once(':').map_or(entry.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('.').to_ascii_lowercase();
        targets.push((host, format!("allowed-redirect-domains {entry}")));
    }
    for p in providers {
        for entry in &p.hosts {
            let host = entry.trim_start_matches('.').to_string();
            targets.push((host, format!("hosts of [[provider]] {}", p.name)));
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_matching_follows_rfc_6265() {
        assert!(covers(".example.com", "example.com"));
        assert!(covers("example.com", "app.example.com"));
        assert!(!covers("example.com", "badexample.com"));
        assert!(!covers("app.example.com", "example.com"));
    }

    #[test]
    fn common_parent_needs_two_labels() {
        assert_eq!(
            common_parent("a.example.com", "b.example.com"),
            Some(".example.com".into())
        );
        assert_eq!(common_parent("a.example.com", "b.example.org"), None);
    }
}
