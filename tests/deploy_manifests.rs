//! The deployment artefacts (docker/, deploy/) checked offline: Kubernetes
//! objects against the API's schemas (kubernetes-validate --strict), the Envoy
//! config against Envoy's v3 protos, compose.yaml against the compose spec, the
//! Dockerfile with hadolint, each file's security-relevant structure, and every
//! sidecar setting in them through the sidecar's own config loader.
//!
//! The Python side is tests/data/deploy_check.py; its tools come from
//! scripts/install-test-deps.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use cognito_sidecar::config::{Config, MapSource, RunArgs};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one check of deploy_check.py; its stdout on success.
fn check(name: &str) -> String {
    let out = Command::new("python3")
        .arg(root().join("tests/data/deploy_check.py"))
        .arg(name)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed ({e}): run scripts/install-test-deps.sh"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => stdout,
        Some(3) => panic!("{stdout}{stderr}"),
        _ => panic!("deploy check {name} failed:\n{stdout}{stderr}"),
    }
}

#[test]
fn kubernetes_objects_pass_strict_schema_validation() {
    check("kubernetes");
}

#[test]
fn sidecar_in_pod_keeps_the_app_on_loopback_behind_a_hardened_sidecar() {
    check("sidecar-in-pod");
}

#[test]
fn ingress_nginx_asks_the_sidecar_and_signs_in_on_the_auth_host() {
    check("ingress-nginx");
}

#[test]
fn traefik_middleware_forwards_to_the_sidecar_auth_endpoint() {
    check("traefik");
}

#[test]
fn envoy_config_parses_as_envoy_v3_and_strips_then_sets_identity_headers() {
    check("envoy");
}

#[test]
fn compose_file_matches_the_compose_spec_and_hides_the_app() {
    check("compose");
}

#[test]
fn dockerfile_passes_hadolint() {
    check("dockerfile");
}

/// The Dockerfile's key properties, read without any tool.
#[test]
fn dockerfile_builds_locked_release_and_runs_non_root_on_4180() {
    let text = std::fs::read_to_string(root().join("docker/Dockerfile")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let froms: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .copied()
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].starts_with("FROM rust:1-slim-bookworm AS "));
    assert_eq!(froms[1], "FROM gcr.io/distroless/cc-debian12:nonroot");
    assert!(text.contains("cargo build --release --locked"));
    // Everything after the last FROM is the runtime stage.
    let runtime = &lines[lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap()..];
    let user = runtime.iter().rfind(|l| l.starts_with("USER ")).unwrap();
    let uid = user["USER ".len()..].split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|n| n != 0),
        "numeric non-root USER (so runAsNonRoot can verify it): {user}"
    );
    assert!(runtime.contains(&"EXPOSE 4180"));
    assert!(
        runtime
            .last()
            .unwrap()
            .starts_with(r#"ENTRYPOINT ["/usr/local/bin/cognito-sidecar""#),
        "ends with the exec-form ENTRYPOINT of the binary: {runtime:?}"
    );
    let ignore = std::fs::read_to_string(root().join("docker/Dockerfile.dockerignore")).unwrap();
    let ignore: Vec<&str> = ignore.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        ignore,
        ["*", "!Cargo.toml", "!Cargo.lock", "!src/"],
        "context: sources only"
    );
}

/// Every `SIDECAR_*` variable the sidecar knows: one per flag, plus the config file.
fn known_variables() -> Vec<String> {
    let cmd = RunArgs::augment_args(clap::Command::new("x"));
    cmd.get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| format!("SIDECAR_{}", l.replace('-', "_").to_uppercase()))
        .chain(["SIDECAR_LOG".to_string()])
        .collect()
}

/// Secret files live in the container; stand-ins here, with realistic content.
fn with_local_secret_files(env: &mut HashMap<String, String>, dir: &Path) {
    for (var, content) in [
        (
            "SIDECAR_CLIENT_SECRET_FILE",
            "client-secret-from-the-pool\n",
        ),
        (
            "SIDECAR_COOKIE_SECRET_FILE",
            "a-cookie-secret-of-more-than-32-bytes-0123456789\n",
        ),
    ] {
        if env.contains_key(var) {
            let path = dir.join(var);
            std::fs::write(&path, content).unwrap();
            env.insert(var.into(), path.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_sidecar_setting_in_the_manifests_loads_through_the_real_config_loader() {
    let sets: serde_json::Value = serde_json::from_str(&check("env")).unwrap();
    let sets = sets.as_array().unwrap();
    assert!(
        sets.len() >= 4,
        "k8s deployments and compose variants: {sets:?}"
    );
    let known = known_variables();
    let dir = tempfile::tempdir().unwrap();
    for set in sets {
        let where_ = set["where"].as_str().unwrap();
        let mut env: HashMap<String, String> = serde_json::from_value(set["env"].clone()).unwrap();
        for name in env.keys() {
            assert!(
                known.contains(name),
                "{where_}: {name} is not a sidecar setting"
            );
        }
        for var in ["SIDECAR_CLIENT_SECRET_FILE", "SIDECAR_COOKIE_SECRET_FILE"] {
            assert!(env.contains_key(var), "{where_}: {var} missing");
        }
        with_local_secret_files(&mut env, dir.path());
        if let Err(e) = Config::load(&RunArgs::default(), &MapSource(env)) {
            panic!("{where_}: the sidecar would refuse to start:\n{e}");
        }
    }
}

#[test]
fn deploy_readme_explains_every_artefact() {
    let readme = std::fs::read_to_string(root().join("deploy/README.md")).unwrap();
    let dir = root().join("deploy/kubernetes");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.extend(["docker/Dockerfile".into(), "docker/compose.yaml".into()]);
    for name in names {
        assert!(
            readme.contains(&name),
            "deploy/README.md does not mention {name}"
        );
    }
    assert!(readme.contains("127.0.0.1"));
}
