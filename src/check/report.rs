//! The report as text (one line per check) and as JSON.

use serde_json::json;

use super::{Finding, Outcome, Report};

fn line(f: &Finding) -> String {
    let scope = f.provider.as_deref().unwrap_or("sidecar");
    let mut line = format!(
        "{:<16}{scope} {}: {}",
        f.outcome.as_str(),
        f.check,
        f.message
    );
    if f.outcome == Outcome::Problem {
        let setting = f.setting.unwrap_or("none (outside the sidecar)");
        line.push_str(&format!(" [setting: {setting}"));
        if let Some(url) = &f.url {
            line.push_str(&format!("; tried: {url}"));
        }
        line.push(']');
    }
    line
}

pub(super) fn text(report: &Report) -> String {
    let mut out: Vec<String> = report.findings.iter().map(line).collect();
    let problems = report.problems().count();
    let open = report
        .findings
        .iter()
        .filter(|f| f.outcome == Outcome::CouldNotCheck)
        .count();
    out.push(match (problems, open) {
        (0, 0) => "all checks ok".to_string(),
        (0, n) => format!("no problem found, but {n} checks could not tell"),
        (p, n) => {
            format!("{p} problems, {n} checks could not tell; fix the problems and run check again")
        }
    });
    out.join("\n") + "\n"
}

pub(super) fn json(report: &Report) -> serde_json::Value {
    json!({
        "ok": report.exit_code() == 0,
        "problems": report.problems().count(),
        "checks": report.findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_their_setting_and_url() {
        let f = Finding::problem("upstream", "upstream", "down").at("http://127.0.0.1:9/");
        assert_eq!(
            line(&f),
            "problem         sidecar upstream: down [setting: upstream; tried: http://127.0.0.1:9/]"
        );
        let report = Report {
            findings: vec![f, Finding::ok("clock", "fine")],
        };
        let value = json(&report);
        assert_eq!(value["ok"], false);
        assert_eq!(value["checks"][0]["outcome"], "problem");
        assert_eq!(value["checks"][0]["setting"], "upstream");
        assert!(value["checks"][1].get("setting").is_none());
        assert_eq!(report.exit_code(), 1);
    }
}
