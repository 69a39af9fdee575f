//! What the provider settings alone give away: a hosted-login domain given as
//! the issuer, a Cognito issuer that cannot be right, a callback Cognito refuses.

use url::{Host, Url};

use super::Finding;
use crate::config::{ProviderConfig, ProviderKind};

/// The region of a Cognito hosted-login domain (`PREFIX.auth.REGION.amazoncognito.com`).
pub(super) fn hosted_login_region(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    let rest = host.strip_suffix(".amazoncognito.com")?;
    let (_prefix, region) = rest.split_once(".auth.")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_string())
}

/// A Cognito issuer's region (from its host) and path after the first `/`.
pub(super) struct CognitoIssuer {
    pub region: String,
    pub pool: String,
}

pub(super) fn cognito_issuer(issuer: &str) -> Option<CognitoIssuer> {
    let url = Url::parse(issuer).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let rest = host
        .strip_prefix("cognito-idp.")
        .or_else(|| host.strip_prefix("issuer-cognito-idp."))?;
    let region = rest.strip_suffix(".amazonaws.com")?;
    Some(CognitoIssuer {
        region: region.to_string(),
        pool: url.path().trim_start_matches('/').to_string(),
    })
}

/// The issuer a pool's tokens carry, with what is known filled in.
pub(super) fn suggested_issuer(region: Option<&str>) -> String {
    format!(
        "https://cognito-idp.{}.amazonaws.com/<user pool id>",
        region.unwrap_or("<region>")
    )
}

/// The message for a hosted-login domain given as issuer.
pub(super) fn hosted_login_message(issuer: &str, region: Option<&str>) -> String {
    format!(
        "issuer-url {issuer} is the pool's hosted-login domain, not its issuer; \
         set issuer-url to {} (the user pool ID is on the pool's overview page)",
        suggested_issuer(region)
    )
}

/// Hosts a browser treats as secure over plain http (localhost and loopback addresses).
pub(super) fn is_localhost(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Cognito refuses an http:// callback unless it is on localhost.
pub(super) fn cognito_refuses_callback(provider: &ProviderConfig) -> bool {
    provider.kind == ProviderKind::Cognito
        && provider.redirect_url.scheme() == "http"
        && !is_localhost(&provider.redirect_url)
}

/// Problems visible in the provider's settings without asking anyone.
pub(super) fn check(provider: &ProviderConfig) -> Vec<Finding> {
    let mut found = Vec::new();
    let issuer = provider.issuer.as_str();
    if let Some(region) = hosted_login_region(&provider.issuer) {
        let message = hosted_login_message(issuer, Some(&region));
        found.push(Finding::problem("issuer", "issuer-url", message).at(issuer));
    }
    if let Some(found_issuer) = cognito_issuer(issuer) {
        found.extend(cognito_issuer_problem(issuer, &found_issuer));
    }
    if cognito_refuses_callback(provider) {
        let url = provider.redirect_url.as_str();
        let message = format!(
            "redirect-url {url} is plain http on a host that is not localhost; \
             Cognito accepts such callback URLs only for localhost: serve https and change redirect-url"
        );
        found.push(Finding::problem("callback-url", "redirect-url", message).at(url));
    }
    found
}

fn cognito_issuer_problem(issuer: &str, parsed: &CognitoIssuer) -> Option<Finding> {
    let pool = parsed.pool.trim_end_matches('/');
    let message = if pool.is_empty() {
        format!(
            "issuer-url {issuer} has no user pool ID; set issuer-url to {}",
            suggested_issuer(Some(&parsed.region))
        )
    } else if parsed.pool.ends_with('/') {
        let fixed = issuer.trim_end_matches('/');
        format!(
            "issuer-url {issuer} ends with a slash; a Cognito issuer has none, \
             and tokens are compared byte for byte: set issuer-url to {fixed}"
        )
    } else {
        let pool_region = pool.split_once('_').map(|(r, _)| r)?;
        if pool_region == parsed.region {
            return None;
        }
        format!(
            "issuer-url {issuer} names pool {pool} of region {pool_region} on the host of region {}; \
             set issuer-url to https://cognito-idp.{pool_region}.amazonaws.com/{pool}",
            parsed.region
        )
    };
    Some(Finding::problem("issuer", "issuer-url", message).at(issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosted_login_domains_are_recognised() {
        let url = |s| Url::parse(s).unwrap();
        assert_eq!(
            hosted_login_region(&url("https://my-app.auth.eu-west-1.amazoncognito.com")),
            Some("eu-west-1".into())
        );
        assert_eq!(
            hosted_login_region(&url("https://cognito-idp.eu-west-1.amazonaws.com/x")),
            None
        );
        assert_eq!(hosted_login_region(&url("https://auth.example.com")), None);
    }

    #[test]
    fn cognito_issuer_shapes() {
        let p = |s| cognito_issuer_problem(s, &cognito_issuer(s).unwrap());
        assert!(p("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab").is_none());
        let slash = p("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab/").unwrap();
        assert!(
            slash.message.contains("ends with a slash"),
            "{}",
            slash.message
        );
        let region = p("https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_Ab").unwrap();
        assert!(
            region
                .message
                .contains("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab"),
            "{}",
            region.message
        );
        assert!(p("https://cognito-idp.us-east-1.amazonaws.com").is_some());
    }

    #[test]
    fn localhost_is_loopback_or_localhost_names() {
        for yes in [
            "http://localhost:1",
            "http://a.localhost",
            "http://127.0.0.2",
            "http://[::1]",
        ] {
            assert!(is_localhost(&Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "http://app.test",
            "http://10.0.0.1",
            "http://localhost.example.com",
        ] {
            assert!(!is_localhost(&Url::parse(no).unwrap()), "{no}");
        }
    }
}
