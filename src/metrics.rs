//! Prometheus metrics, served on their own listener (`metrics-address`): session
//! counts and failure reasons are not for the public.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabel {
    pub class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
    pub reason: &'static str,
}

/// Why the operator must act (`invalid_client`, `issuer_mismatch`, ...), or
/// what a diagnosis page told a browser (`secure_cookie_over_http`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IdpLabels {
    pub call: &'static str,
    pub result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<ClassLabel, Counter>,
    /// The `requests` counters of each status class, looked up once: every
    /// request counts itself without the family's lock and label hashing.
    by_class: [Counter; 5],
    pub upstream_seconds: Histogram,
    pub sign_ins: Family<OutcomeLabels, Counter>,
    pub sign_outs: Counter,
    pub sessions_active: Gauge,
    pub idp_seconds: Family<IdpLabels, Histogram>,
    pub jwks_refreshes: Family<IdpLabels, Counter>,
    pub groups_truncated: Counter,
    pub log_lines_dropped: Counter,
    /// Configuration problems met at run time, by reason.
    pub config_errors: Family<ReasonLabel, Counter>,
    /// Sign-ins that could not work in this browser, by likely cause.
    pub diagnoses: Family<ReasonLabel, Counter>,
    /// Requests answered 500 for a fault inside the sidecar.
    pub internal_errors: Counter,
}

/// Status classes, in the order of `Metrics::by_class`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("sidecar");
        let requests = Family::<ClassLabel, Counter>::default();
        let by_class = CLASSES.map(|class| requests.get_or_create(&ClassLabel { class }).clone());
        let m = Metrics {
            requests,
            by_class,
            upstream_seconds: latency(),
            sign_ins: Family::default(),
            sign_outs: Counter::default(),
            sessions_active: Gauge::default(),
            idp_seconds: Family::new_with_constructor(latency),
            jwks_refreshes: Family::default(),
            groups_truncated: Counter::default(),
            log_lines_dropped: Counter::default(),
            config_errors: Family::default(),
            diagnoses: Family::default(),
            internal_errors: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Requests answered, by status class",
            m.requests.clone(),
        );
        registry.register(
            "upstream_seconds",
            "Upstream response-header latency",
            m.upstream_seconds.clone(),
        );
        registry.register(
            "sign_ins",
            "Completed callbacks, by outcome and reason",
            m.sign_ins.clone(),
        );
        registry.register("sign_outs", "Sign-outs", m.sign_outs.clone());
        registry.register(
            "sessions_active",
            "Sessions in this replica's store",
            m.sessions_active.clone(),
        );
        registry.register(
            "idp_seconds",
            "Identity provider call latency, by call and result",
            m.idp_seconds.clone(),
        );
        registry.register(
            "jwks_refreshes",
            "JWKS fetches, by trigger and result",
            m.jwks_refreshes.clone(),
        );
        registry.register(
            "identity_groups_truncated",
            "Group headers cut to the size cap",
            m.groups_truncated.clone(),
        );
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because the log output could not keep up",
            m.log_lines_dropped.clone(),
        );
        registry.register(
            "config_errors",
            "Identity-provider answers saying a setting is wrong, by reason",
            m.config_errors.clone(),
        );
        registry.register(
            "sign_in_diagnoses",
            "Diagnosis pages shown instead of a sign-in loop, by likely cause",
            m.diagnoses.clone(),
        );
        registry.register(
            "internal_errors",
            "Requests answered 500 for a fault inside the sidecar (a cookie that cannot be \
             sealed, a response that cannot be built)",
            m.internal_errors.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn observe_idp(&self, call: &'static str, ok: bool, took: Duration) {
        let result = if ok { "ok" } else { "error" };
        self.idp_seconds
            .get_or_create(&IdpLabels { call, result })
            .observe(took.as_secs_f64());
    }

    pub fn request(&self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.by_class[class].inc();
    }

    /// Copies counters kept elsewhere (the proxy's truncation count).
    pub fn sync_groups_truncated(&self, total: u64) {
        catch_up(&self.groups_truncated, total);
    }

    /// Copies the log writer's count of dropped lines.
    pub fn sync_log_lines_dropped(&self, total: u64) {
        catch_up(&self.log_lines_dropped, total);
    }
}

/// Raises `counter` to `total`, a count kept by someone else.
fn catch_up(counter: &Counter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_family() {
        let m = Metrics::new();
        m.request(204);
        m.request(502);
        m.sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: "failure",
                reason: "state_mismatch",
            })
            .inc();
        m.observe_idp("token", true, Duration::from_millis(3));
        m.config_errors
            .get_or_create(&ReasonLabel {
                reason: "invalid_client",
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains(r#"sidecar_requests_total{class="2xx"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"sidecar_requests_total{class="5xx"} 1"#));
        assert!(
            text.contains(r#"sidecar_sign_ins_total{outcome="failure",reason="state_mismatch"} 1"#)
        );
        assert!(text.contains("sidecar_idp_seconds_bucket"));
        assert!(text.contains("sidecar_sessions_active"));
        assert!(
            text.contains(r#"sidecar_config_errors_total{reason="invalid_client"} 1"#),
            "{text}"
        );
    }
}
