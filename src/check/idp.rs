//! The identity provider's documents: discovery (and whether its issuer is the
//! configured one), the JWKS, and its clock against ours.

use std::time::SystemTime;

use serde::Deserialize;

use super::probe::{self, Answer};
use super::{client, shape, Finding};
use crate::config::ProviderConfig;
use crate::provider::verify::LEEWAY_SECS;
use crate::provider::{issuer_matches, issuer_string, Metadata};

/// The checks that need discovery, reported as open when it failed.
const NEED_DISCOVERY: [&str; 6] = [
    "jwks",
    "client-credentials",
    "callback-url",
    "scope",
    "identity-provider",
    "sign-out-url",
];

/// Every check of one provider, in order.
pub(super) async fn check(http: &reqwest::Client, provider: &ProviderConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    let metadata = if let Some(region) = shape::hosted_login_region(&provider.issuer) {
        let issuer = provider.issuer.as_str();
        let message = shape::hosted_login_message(issuer, Some(&region));
        out.push(Finding::problem("issuer", "issuer-url", message).at(issuer));
        out.push(Finding::unchecked(
            "discovery",
            "not fetched: issuer-url is not an issuer",
        ));
        None
    } else {
        discovery(http, provider, &mut out).await
    };
    let Some(metadata) = metadata else {
        let open = NEED_DISCOVERY
            .into_iter()
            .filter(|c| *c != "identity-provider" || provider.identity_provider.is_some());
        out.extend(open.map(|c| Finding::unchecked(c, "needs the discovery document")));
        if !out.iter().any(|f| f.check == "clock") {
            out.push(Finding::unchecked(
                "clock",
                "the identity provider did not answer",
            ));
        }
        return out;
    };
    out.push(jwks(http, provider, &metadata).await);
    client::check(http, provider, &metadata, &mut out).await;
    out
}

/// The setting that decides where discovery is fetched from.
pub(super) fn discovery_setting(provider: &ProviderConfig) -> &'static str {
    let derived = format!(
        "{}/.well-known/openid-configuration",
        provider.issuer.as_str().trim_end_matches('/')
    );
    if provider.discovery_url.as_str() == derived {
        "issuer-url"
    } else {
        "discovery-url"
    }
}

/// Fetches and judges the discovery document; also records `discovery`,
/// `issuer` and `clock` findings.
async fn discovery(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    out: &mut Vec<Finding>,
) -> Option<Metadata> {
    let url = provider.discovery_url.as_str();
    let setting = discovery_setting(provider);
    let answer = match probe::get(http, url).await {
        Ok(answer) => answer,
        Err(error) => {
            let mut message = format!("could not fetch {url}: {error}");
            if shape::cognito_issuer(provider.issuer.as_str()).is_some() && setting == "issuer-url"
            {
                message.push_str(
                    "; if this network cannot reach AWS's issuer host, set discovery-url to a copy it can reach",
                );
            }
            out.push(Finding::problem("discovery", setting, message).at(url));
            return None;
        }
    };
    let metadata = judge_document(http, provider, &answer, out).await;
    match &metadata {
        Some(metadata) => out.push(issuer(provider, metadata)),
        None if !out.iter().any(|f| f.check == "issuer") => {
            let shapes = shape::check(provider);
            let issuer = shapes.into_iter().find(|f| f.check == "issuer");
            out.push(
                issuer.unwrap_or_else(|| {
                    Finding::unchecked("issuer", "needs the discovery document")
                }),
            );
        }
        None => {}
    }
    out.push(clock(&answer, url));
    metadata
}

async fn judge_document(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    answer: &Answer,
    out: &mut Vec<Finding>,
) -> Option<Metadata> {
    let url = provider.discovery_url.as_str();
    let setting = discovery_setting(provider);
    if !answer.status.is_success() {
        if let Some(finding) = hosted_login_behind(http, provider).await {
            out.push(Finding::unchecked(
                "discovery",
                format!(
                    "{url} answered {}: issuer-url is not an issuer",
                    answer.summary()
                ),
            ));
            out.push(finding);
            return None;
        }
        let mut message = format!(
            "{url} answered {}, not a discovery document",
            answer.summary()
        );
        if let Some(cognito) = shape::cognito_issuer(provider.issuer.as_str()) {
            message.push_str(&format!(
                "; check the user pool ID ({}) and region ({}) in {setting}",
                cognito.pool, cognito.region
            ));
        } else {
            message.push_str(&format!("; check {setting}"));
        }
        out.push(Finding::problem("discovery", setting, message).at(url));
        return None;
    }
    match serde_json::from_slice::<Metadata>(&answer.body) {
        Ok(metadata) => {
            let message = format!("fetched {url} ({})", answer.summary());
            out.push(Finding::ok("discovery", message).at(url));
            Some(metadata)
        }
        Err(error) => {
            let message = format!(
                "{url} answered {} that is not a discovery document ({error}); check {setting}",
                answer.summary()
            );
            out.push(Finding::problem("discovery", setting, message).at(url));
            None
        }
    }
}

/// A Cognito hosted-login domain (custom or not) serves `/oauth2/authorize`
/// and sends a request without a client to its `/error` page.
async fn hosted_login_behind(http: &reqwest::Client, provider: &ProviderConfig) -> Option<Finding> {
    let issuer = provider.issuer.as_str();
    if provider.issuer.path() != "/" {
        return None;
    }
    let authorize = provider.issuer.join("/oauth2/authorize").ok()?;
    let answer = probe::get(http, authorize.as_str()).await.ok()?;
    let location = answer.location.as_deref()?;
    let target = authorize.join(location).ok()?;
    let cognito_error =
        target.path() == "/error" && target.query_pairs().any(|(k, _)| k == "error");
    if !(answer.status.is_redirection() && cognito_error) {
        return None;
    }
    let message = shape::hosted_login_message(issuer, None);
    Some(Finding::problem("issuer", "issuer-url", message).at(issuer))
}

/// The document's issuer against the configured one, naming the difference.
fn issuer(provider: &ProviderConfig, metadata: &Metadata) -> Finding {
    let configured = issuer_string(&provider.issuer);
    let found = metadata.issuer.as_str();
    let url = provider.discovery_url.as_str();
    if issuer_matches(found, &configured) {
        return Finding::ok(
            "issuer",
            format!("the document's issuer is issuer-url ({found})"),
        )
        .at(url);
    }
    let why = if configured.trim_end_matches('/') == found.trim_end_matches('/') {
        "they differ only by a trailing slash".to_string()
    } else {
        match (
            shape::cognito_issuer(&configured),
            shape::cognito_issuer(found),
        ) {
            (Some(a), Some(b)) if a.region != b.region => {
                format!(
                    "the region differs ({} here, {} in the document)",
                    a.region, b.region
                )
            }
            (Some(a), Some(b)) if a.pool != b.pool => {
                format!(
                    "the user pool ID differs ({} here, {} in the document)",
                    a.pool, b.pool
                )
            }
            _ => "they differ".to_string(),
        }
    };
    let message = format!(
        "issuer-url is {configured} but the document at {url} says {found}: {why}; \
         tokens are compared byte for byte, so set issuer-url to {found} \
         (or discovery-url to this issuer's document)"
    );
    Finding::problem("issuer", "issuer-url", message).at(url)
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
}

/// The JWKS answers and holds at least one RSA signing key for RS256.
async fn jwks(http: &reqwest::Client, provider: &ProviderConfig, metadata: &Metadata) -> Finding {
    let url = metadata.jwks_uri.as_str();
    let setting = discovery_setting(provider);
    let answer = match probe::get(http, url).await {
        Ok(answer) => answer,
        Err(error) => {
            let message =
                format!("could not fetch the JWKS {url} (jwks_uri of the document): {error}");
            return Finding::problem("jwks", setting, message).at(url);
        }
    };
    let parsed = answer
        .status
        .is_success()
        .then(|| serde_json::from_slice::<Jwks>(&answer.body).ok())
        .flatten();
    let Some(jwks) = parsed else {
        let message = format!(
            "{url} answered {}, not a JWKS; check {setting}",
            answer.summary()
        );
        return Finding::problem("jwks", setting, message).at(url);
    };
    let rs256 = jwks
        .keys
        .iter()
        .filter(|k| k.kty == "RSA")
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
        .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
        .count();
    if rs256 == 0 {
        let message = format!(
            "{url} holds no RS256 signing key ({} keys); the sidecar verifies RS256 tokens only",
            jwks.keys.len()
        );
        return Finding::problem("jwks", setting, message).at(url);
    }
    Finding::ok("jwks", format!("{url} holds {rs256} RS256 signing keys")).at(url)
}

/// The IdP's `Date` against this machine's clock, beyond the token leeway.
fn clock(answer: &Answer, url: &str) -> Finding {
    let Some(date) = answer.date else {
        return Finding::unchecked("clock", format!("{url} sent no Date header"));
    };
    let skew = signed_secs(date, answer.received);
    if skew.unsigned_abs() <= LEEWAY_SECS {
        return Finding::ok(
            "clock",
            format!("within {} s of the identity provider's", skew.abs()),
        )
        .at(url);
    }
    let direction = if skew > 0 { "behind" } else { "ahead of" };
    let message = format!(
        "this machine's clock is {} s {direction} the identity provider's (Date header of {url}); \
         tokens are accepted with {LEEWAY_SECS} s of leeway, so sign-ins fail: \
         synchronise this machine's clock (NTP)",
        skew.abs()
    );
    Finding::problem_outside("clock", message).at(url)
}

/// `a - b` in whole seconds.
fn signed_secs(a: SystemTime, b: SystemTime) -> i64 {
    match a.duration_since(b) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}
