//! `cognito-sidecar check`: tries the run configuration against the identity
//! providers and the upstream, and says for each check whether it is fine, what
//! is wrong (the URL tried, the setting to change) or why it could not tell.
//!
//! Sits above [`crate::provider`]: it builds the same authorize, token and
//! sign-out requests a sign-in sends, but judges the raw answers instead of
//! acting on them. The checks that need no network ([`offline`]) also run at
//! start-up of `run` as warnings.

mod authorize;
mod client;
mod cookie;
mod idp;
mod probe;
mod report;
mod shape;

use serde::Serialize;

use crate::config::{Config, ProviderConfig};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "problem")]
    Problem,
    /// An earlier problem, or an answer the check cannot judge, leaves it open.
    #[serde(rename = "could not check")]
    CouldNotCheck,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Problem => "problem",
            Self::CouldNotCheck => "could not check",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The provider's name (`default`, a `[[provider]]` name); `None` for the
    /// sidecar's own settings (cookies, upstream).
    pub provider: Option<String>,
    /// Short stable name: `discovery`, `client-credentials`, `callback-url`, ...
    pub check: &'static str,
    pub outcome: Outcome,
    pub message: String,
    /// The URL the check tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The setting (flag name) that fixes a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<&'static str>,
}

impl Finding {
    fn new(check: &'static str, outcome: Outcome, message: String) -> Self {
        Self {
            provider: None,
            check,
            outcome,
            message,
            url: None,
            setting: None,
        }
    }

    pub(crate) fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(check, Outcome::Ok, message.into())
    }

    pub(crate) fn problem(
        check: &'static str,
        setting: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            setting: Some(setting),
            ..Self::new(check, Outcome::Problem, message.into())
        }
    }

    pub(crate) fn unchecked(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(check, Outcome::CouldNotCheck, message.into())
    }

    /// A problem that no setting fixes (the machine's clock).
    pub(crate) fn problem_outside(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(check, Outcome::Problem, message.into())
    }

    pub(crate) fn at(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    fn for_provider(mut self, name: &str) -> Self {
        self.provider = Some(name.to_string());
        self
    }
}

/// Everything `check` found, in the order it ran.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.outcome == Outcome::Problem)
    }

    /// 0 when every check is ok, 1 on any problem, 2 when some check could not
    /// tell (and nothing is known to be wrong).
    pub fn exit_code(&self) -> u8 {
        let any = |o| self.findings.iter().any(|f| f.outcome == o);
        if any(Outcome::Problem) {
            1
        } else if any(Outcome::CouldNotCheck) {
            2
        } else {
            0
        }
    }

    /// One line per check, for people.
    pub fn to_text(&self) -> String {
        report::text(self)
    }

    /// `{"ok":…, "problems":…, "checks":[…]}`, for machines.
    pub fn to_json(&self) -> serde_json::Value {
        report::json(self)
    }
}

fn all_providers(config: &Config) -> impl Iterator<Item = &ProviderConfig> {
    std::iter::once(&config.provider).chain(&config.providers)
}

/// Runs every check: per provider the IdP's answers, then the cookie settings
/// and the upstream. Bounded by the configured IdP and upstream timeouts.
pub async fn run(config: &Config) -> Report {
    let mut findings = Vec::new();
    match probe::idp_client(config) {
        Ok(http) => {
            for provider in all_providers(config) {
                let found = idp::check(&http, provider).await;
                findings.extend(found.into_iter().map(|f| f.for_provider(&provider.name)));
            }
        }
        Err(error) => findings.push(Finding::unchecked(
            "discovery",
            format!("no HTTP client for the identity providers: {error}"),
        )),
    }
    findings.extend(cookie::check(config, all_providers(config)));
    findings.push(probe::upstream(config).await);
    Report { findings }
}

/// The checks that need no network, as problems only: `run` logs each as a
/// warning at start-up.
pub fn offline(config: &Config) -> Vec<Finding> {
    let mut found = Vec::new();
    for provider in all_providers(config) {
        let shapes = shape::check(provider);
        found.extend(shapes.into_iter().map(|f| f.for_provider(&provider.name)));
    }
    found.extend(cookie::check(config, all_providers(config)));
    found.retain(|f| f.outcome == Outcome::Problem);
    found
}

/// Logs [`offline`]'s problems, one `warn` line each naming the setting.
pub fn warn_at_startup(config: &Config) {
    for finding in offline(config) {
        let setting = finding.setting.unwrap_or_default();
        let provider = finding.provider.as_deref().unwrap_or_default();
        tracing::warn!(
            setting,
            provider,
            check = finding.check,
            "{} (run `cognito-sidecar check` for more)",
            finding.message
        );
    }
}
