//! The deployment artefacts (docker/, deploy/) checked offline: Kubernetes
//! objects against the API's schemas (kubernetes-validate --strict), the Envoy
//! config against Envoy's v3 protos, docker-compose.yml against the compose spec, the
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

/// The python of the validators' virtualenv (never the system's), installed
/// from tests/data/deploy-requirements.txt by scripts/install-test-deps.sh.
fn python() -> PathBuf {
    let venv = root().join("target/deploy-venv");
    let wanted = std::fs::read(root().join("tests/data/deploy-requirements.txt")).unwrap();
    let installed = std::fs::read(venv.join(".installed-requirements.txt")).ok();
    assert!(
        installed.as_deref() == Some(wanted.as_slice()),
        "the deploy validators' virtualenv is missing or out of date at {}: run scripts/install-test-deps.sh",
        venv.display()
    );
    venv.join("bin/python")
}

/// Runs one check of deploy_check.py; its stdout on success.
fn check(name: &str) -> String {
    let out = Command::new(python())
        .arg(root().join("tests/data/deploy_check.py"))
        .arg(name)
        .output()
        .unwrap_or_else(|e| {
            panic!("the deploy venv's python ({e}): run scripts/install-test-deps.sh")
        });
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

/// The Dockerfile's instructions, comments dropped and `\`-continued lines joined.
fn dockerfile_instructions() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docker/Dockerfile")).unwrap();
    let mut out: Vec<String> = Vec::new();
    let mut continued = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (part, more) = match line.strip_suffix('\\') {
            Some(p) => (p.trim_end(), true),
            None => (line, false),
        };
        match out.last_mut() {
            Some(last) if continued => {
                last.push(' ');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
        continued = more;
    }
    out
}

/// The exec-form JSON array of an instruction (`ENTRYPOINT ["a", "b"]`).
fn exec_form(instruction: &str) -> Vec<String> {
    let json = &instruction[instruction.find('[').unwrap()..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not exec form: {instruction}: {e}"))
}

/// The image's non-root `USER uid:gid`.
fn image_user() -> (u32, u32) {
    let lines = dockerfile_instructions();
    let user = lines.iter().rfind(|l| l.starts_with("USER ")).unwrap();
    let (uid, gid) = user["USER ".len()..].split_once(':').unwrap();
    (uid.parse().unwrap(), gid.parse().unwrap())
}

/// The Dockerfile's key properties, read without any tool.
#[test]
fn dockerfile_builds_locked_release_and_runs_non_root_on_4180() {
    let lines = dockerfile_instructions();
    let froms: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].starts_with("FROM rust:1-slim-bookworm AS "));
    assert_eq!(froms[1], "FROM gcr.io/distroless/cc-debian12:nonroot");
    // Everything after the last FROM is the runtime stage.
    let runtime = &lines[lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap()..];
    let (uid, gid) = image_user();
    assert!(
        uid != 0 && gid != 0,
        "numeric non-root USER (so runAsNonRoot can verify it)"
    );
    assert!(runtime.contains(&"EXPOSE 4180".to_string()));
    let entrypoint = runtime.last().unwrap();
    assert!(
        entrypoint.starts_with("ENTRYPOINT "),
        "ends with the ENTRYPOINT: {runtime:?}"
    );
    let binary = exec_form(entrypoint)[0].clone();
    let copy = runtime
        .iter()
        .find(|l| l.starts_with("COPY --from="))
        .unwrap();
    assert!(
        copy.ends_with(&format!(" {binary}")),
        "ENTRYPOINT {binary} is what the build stage copied in: {copy}"
    );
    let ignore = std::fs::read_to_string(root().join("docker/Dockerfile.dockerignore")).unwrap();
    let ignore: Vec<&str> = ignore.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        ignore,
        ["*", "!Cargo.toml", "!Cargo.lock", "!src/", "!mock-cognito/"],
        "context: sources only"
    );
}

/// Distroless has no shell or curl: the HEALTHCHECK runs the image's own
/// binary, in exec form, with a timeout above the subcommand's 2 s.
#[test]
fn dockerfile_healthcheck_runs_the_binary_healthcheck_subcommand() {
    let lines = dockerfile_instructions();
    let entrypoint = exec_form(
        lines
            .iter()
            .rfind(|l| l.starts_with("ENTRYPOINT "))
            .unwrap(),
    );
    let checks: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("HEALTHCHECK "))
        .collect();
    assert_eq!(checks.len(), 1, "{checks:?}");
    let check = checks[0];
    let cmd = &check[check.find(" CMD ").expect("HEALTHCHECK ... CMD [...]")..];
    assert_eq!(
        exec_form(cmd),
        [entrypoint[0].as_str(), "healthcheck"],
        "{check}"
    );
    let timeout = check
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--timeout="))
        .expect("an explicit --timeout");
    let secs: u64 = timeout.trim_end_matches('s').parse().unwrap();
    assert!(
        secs * 1000 > cognito_sidecar::healthcheck::TIMEOUT.as_millis() as u64,
        "Docker's --timeout={timeout} must exceed the subcommand's own"
    );
    assert_eq!(
        cognito_sidecar::healthcheck::DEFAULT_URL,
        "http://127.0.0.1:4180/ping",
        "the default probe matches EXPOSE 4180"
    );
}

/// No Docker engine runs here, so the image is never built by the tests.
/// What the build stage runs must be the README's release build, which
/// anyone (and CI's release build) can run without Docker.
#[test]
fn dockerfile_build_command_is_the_readme_release_build() {
    let lines = dockerfile_instructions();
    let run = lines
        .iter()
        .find(|l| l.starts_with("RUN ") && l.contains("cargo build"))
        .unwrap();
    let cargo = &run[run.find("cargo build").unwrap()..];
    let cargo = cargo.split("&&").next().unwrap().trim();
    assert_eq!(cargo, "cargo build --release --locked");
    assert!(
        run.contains("install -D -m 0755 target/release/cognito-sidecar "),
        "the release binary is what the runtime stage gets: {run}"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let docker = &readme[readme
        .find("## Docker Compose")
        .expect("README: Docker Compose")..];
    assert!(
        docker.contains(&format!("`{cargo}`")),
        "README's Docker Compose section names the image's build command `{cargo}`"
    );
}

/// A child process killed (with its wait) when the test ends, pass or fail.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `setpriv` (util-linux) running `program` as `uid:gid` with no supplementary groups.
fn as_user(uid: u32, gid: u32, program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".into(),
        "--".into(),
    ])
    .arg(program)
    .env_clear()
    .env("PATH", "/usr/bin:/bin");
    cmd
}

/// The binary in a directory any uid may enter, as the image installs it (0755).
fn install_binary(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("cognito-sidecar");
    let built = Path::new(env!("CARGO_BIN_EXE_cognito-sidecar"));
    if std::fs::hard_link(built, &bin).is_err() {
        std::fs::copy(built, &bin).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Secret files as compose mounts them for the image's user: 0444.
fn write_secret(dir: &Path, name: &str, value: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    path.to_string_lossy().into_owned()
}

/// `(Uid, Gid, Groups)` lines of /proc/PID/status.
fn process_ids(pid: u32) -> (String, String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    (field("Uid:"), field("Gid:"), field("Groups:"))
}

/// Runs `healthcheck --url URL` as the image's user; its exit code.
fn healthcheck(bin: &Path, url: &str) -> Option<i32> {
    let (uid, gid) = image_user();
    let out = as_user(uid, gid, bin)
        .args(["healthcheck", "--url", url])
        .output()
        .unwrap_or_else(|e| panic!("setpriv (util-linux) is needed: {e}"));
    out.status.code()
}

/// The image without Docker (no engine runs here): the debug build of the same
/// sources runs as the image's uid:gid with no other groups, reads its secrets
/// from 0444 files, becomes ready against the mock Cognito, and the
/// HEALTHCHECK's `healthcheck` exits 0; once the sidecar is gone, 1.
#[tokio::test(flavor = "multi_thread")]
async fn sidecar_runs_as_the_image_user_and_its_healthcheck_tracks_it() {
    use cognito_sidecar::mock::{MockCognito, MockConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
    let mut pool = MockConfig::demo();
    pool.allow_http_loopback_ip = true;
    let mock = MockCognito::start(pool, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = install_binary(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let (uid, gid) = image_user();
    let mut cmd = as_user(uid, gid, &bin);
    cmd.current_dir(dir.path())
        .env("SIDECAR_LISTEN", format!("127.0.0.1:{port}"))
        .env("SIDECAR_UPSTREAM", "http://127.0.0.1:9")
        .env("SIDECAR_ISSUER_URL", mock.issuer())
        .env("SIDECAR_DISCOVERY_URL", mock.discovery_url())
        .env("SIDECAR_CLIENT_ID", DEMO_CLIENT_ID)
        .env(
            "SIDECAR_CLIENT_SECRET_FILE",
            write_secret(dir.path(), "client_secret", DEMO_CLIENT_SECRET),
        )
        .env(
            "SIDECAR_COOKIE_SECRET_FILE",
            write_secret(dir.path(), "cookie_secret", &"k".repeat(48)),
        )
        .env("SIDECAR_REDIRECT_URL", format!("{base}/oauth2/callback"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut sidecar = Killed(cmd.spawn().expect("setpriv (util-linux) is needed"));
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = sidecar.0.try_wait().unwrap() {
            panic!("the sidecar exited as uid {uid}: {status}");
        }
        let ready = client.get(format!("{base}/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (uids, gids, groups) = process_ids(sidecar.0.id());
    assert_eq!(
        uids,
        vec![uid.to_string(); 4].join(" "),
        "real, effective, saved, fs uid"
    );
    assert_eq!(gids, vec![gid.to_string(); 4].join(" "));
    assert_eq!(groups, "", "no supplementary groups");
    let ping = format!("{base}/ping");
    let check = {
        let (bin, ping) = (bin.clone(), ping.clone());
        tokio::task::spawn_blocking(move || healthcheck(&bin, &ping))
    };
    assert_eq!(check.await.unwrap(), Some(0), "healthy while it runs");
    drop(sidecar);
    let check = tokio::task::spawn_blocking(move || healthcheck(&bin, &ping));
    assert_eq!(check.await.unwrap(), Some(1), "unhealthy once it is gone");
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
    names.extend([
        "docker/Dockerfile".into(),
        "docker/docker-compose.yml".into(),
    ]);
    for name in names {
        assert!(
            readme.contains(&name),
            "deploy/README.md does not mention {name}"
        );
    }
    assert!(readme.contains("127.0.0.1"));
}
