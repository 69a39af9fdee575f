//! Through the real binary: one line per check and the exit code by verdict
//! (text and JSON), and `run`'s start-up warnings.

use super::*;

/// Runs the real binary with exactly `env` (no other `SIDECAR_*` leaks in).
async fn run_binary(args: &[&str], env: &[(String, String)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cognito-sidecar"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("check finished within 30 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

#[tokio::test]
async fn the_binary_prints_one_line_per_check_and_exits_by_verdict() {
    let setup = Setup::start().await;
    let (code, text) = run_binary(&["check"], &setup.env(&[])).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.ends_with("all checks ok\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("default client-credentials:")),
        "{text}"
    );

    let wrong = setup.env(&[("SIDECAR_CLIENT_SECRET", "wrong-secret-value")]);
    let (code, text) = run_binary(&["check"], &wrong).await;
    assert_eq!(code, 1, "{text}");
    let problems: Vec<&str> = text.lines().filter(|l| l.starts_with("problem")).collect();
    assert_eq!(problems.len(), 1, "{text}");
    assert!(
        problems[0].contains("default client-credentials:"),
        "{text}"
    );
    assert!(
        problems[0].contains("[setting: client-secret; tried: http://127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret-value"), "{text}");

    // Flags work as for `run`, and --json is for machines.
    let mut env = setup.env(&[]);
    env.retain(|(k, _)| k != "SIDECAR_SCOPE");
    let (code, json) = run_binary(&["check", "--json", "--scope", "openid nope/x"], &env).await;
    assert_eq!(code, 1, "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["problems"], 1);
    let scope = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["outcome"] == "problem")
        .unwrap();
    assert_eq!(scope["check"], "scope");
    assert_eq!(scope["setting"], "scope");
    assert_eq!(scope["provider"], "default");
    assert!(scope["url"]
        .as_str()
        .unwrap()
        .ends_with("/oauth2/authorize"));

    // An invalid configuration is reported like `run` does.
    let (code, _) = run_binary(&["check"], &setup.env(&[("SIDECAR_CLIENT_ID", "")])).await;
    assert_eq!(code, 64);
}

#[tokio::test]
async fn run_warns_at_start_up_about_what_needs_no_network() {
    let setup = Setup::start().await;
    let mut env = setup.env(&[
        (
            "SIDECAR_REDIRECT_URL",
            "http://app.test:4180/oauth2/callback",
        ),
        ("SIDECAR_COOKIE_SECURE", "true"),
        ("SIDECAR_LISTEN", "127.0.0.1:0"),
    ]);
    env.push(("SIDECAR_LOG".into(), "warn".into()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cognito-sidecar"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut warnings = Vec::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            let line = without_ansi(&line);
            if line.contains("WARN") && line.contains("setting=") {
                warnings.push(line);
                if warnings.len() == 2 {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), read).await;
    let _ = child.kill().await;
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("setting=\"cookie-secure\"") || w.contains("setting=cookie-secure")), "{warnings:?}");
    assert!(
        warnings.iter().any(|w| w.contains("redirect-url")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().all(|w| w.contains("http://app.test:4180")),
        "{warnings:?}"
    );
}

/// The log line without terminal colour codes.
fn without_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
