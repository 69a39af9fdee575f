//! The two verifiers AWS documents, run for real on the sidecar's tokens: the
//! ALB guide's Python example and aws-jwt-verify's `AlbJwtVerifier`, each
//! fetching the key over HTTPS; both accept the real token and refuse each
//! forgery.

use super::*;

pub(super) fn plain_client_trusting(ca: &Path) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap()
}

/// The real header and tokens that must be refused, signed with the same key
/// (so the key lookup succeeds and only the named check can refuse them).
fn cases(alb: &AlbStack, real: &str) -> Value {
    let claims_json = decode_segment(real, 1);
    let claims: UserInfoClaims = serde_json::from_str(&claims_json).unwrap();
    let iss = alb.stack.mock.issuer();
    let signer = |arn: &str, client: &str, key: Option<Vec<u8>>| {
        let config = AlbConfig {
            signer: arn.to_string(),
            key: key.map(Secret::new),
        };
        AlbSigner::new(&config, [("default".into(), (iss.clone(), client.into()))]).unwrap()
    };
    let key = || Some(alb.key_der.clone());
    let same = signer(ARN, DEMO_CLIENT_ID, key());
    let tampered_payload = claims_json.replace("alice@example.com", "admin@example.com");
    assert_ne!(
        tampered_payload, claims_json,
        "the payload names alice's email"
    );
    let parts: Vec<&str> = real.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE.encode(tampered_payload),
        parts[2]
    );
    json!({
        "real": real,
        "same_key_control": same.sign_at("default", &claims, now()).unwrap(),
        "other_signer": signer(OTHER_ARN, DEMO_CLIENT_ID, key()).sign_at("default", &claims, now()).unwrap(),
        "other_client": signer(ARN, "someone-elses-client", key()).sign_at("default", &claims, now()).unwrap(),
        "expired": same.sign_at("default", &claims, now() - 3600).unwrap(),
        "tampered_payload": tampered,
        "other_key": signer(ARN, DEMO_CLIENT_ID, None).sign_at("default", &claims, now()).unwrap(),
    })
}

/// Runs a verifier script with the job on stdin; its JSON answer per token.
pub(super) fn run_verifier(mut cmd: Command, job: &Value) -> serde_json::Map<String, Value> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}; run scripts/install-test-deps.sh"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Object(results)) => results,
        _ => panic!("{cmd:?} printed no results; stderr: {stderr}"),
    }
}

/// Each verifier accepts the real header and the control, and refuses the rest.
fn assert_verdicts(verifier: &str, results: &serde_json::Map<String, Value>, sub: &str) {
    for accepted in ["real", "same_key_control"] {
        let payload = &results[accepted]["ok"];
        assert_eq!(
            payload["sub"], sub,
            "{verifier} must accept {accepted}: {results:?}"
        );
    }
    for refused in [
        "other_signer",
        "other_client",
        "expired",
        "tampered_payload",
        "other_key",
    ] {
        assert!(
            results[refused]["refused"].is_string(),
            "{verifier} must refuse {refused}: {:?}",
            results[refused]
        );
    }
}

pub(super) fn python() -> PathBuf {
    let venv = root().join("target/alb-venv");
    let wanted = std::fs::read(root().join("tests/alb/requirements.txt")).unwrap();
    let installed = std::fs::read(venv.join(".installed-requirements.txt")).ok();
    assert!(
        installed.as_deref() == Some(wanted.as_slice()),
        "the ALB verifiers' virtualenv is missing or out of date at {}: run scripts/install-test-deps.sh",
        venv.display()
    );
    venv.join("bin/python")
}

#[tokio::test]
async fn the_albs_documented_verifiers_accept_it_and_refuse_forgeries() {
    bounded(async {
        let alb = AlbStack::start(MockConfig::demo(), |_| {}).await;
        let seen = alb.signed_in_headers().await;
        let sub = seen.header("x-amzn-oidc-identity").unwrap().to_string();
        let real = seen.header("x-amzn-oidc-data").unwrap().to_string();
        let mut job = json!({
            "base": alb.key_base(),
            "signer": ARN,
            "client": DEMO_CLIENT_ID,
            "issuer": alb.stack.mock.issuer(),
        });
        job["tokens"] = cases(&alb, &real);

        let mut py = Command::new(python());
        py.arg(root().join("tests/alb/verify_alb.py"))
            .env("REQUESTS_CA_BUNDLE", &alb.ca);
        let job_py = job.clone();
        let py = tokio::task::spawn_blocking(move || run_verifier(py, &job_py));

        let mut node = Command::new("node");
        node.arg(root().join("tests/alb/verify.mjs"))
            .current_dir(root().join("tests/alb"))
            .env("NODE_EXTRA_CA_CERTS", &alb.ca);
        assert!(
            root()
                .join("tests/alb/node_modules/aws-jwt-verify/package.json")
                .exists(),
            "aws-jwt-verify is not installed in tests/alb: run scripts/install-test-deps.sh"
        );
        let node = tokio::task::spawn_blocking(move || run_verifier(node, &job));

        let (py, node) = (py.await.unwrap(), node.await.unwrap());
        assert_verdicts("the ALB docs' Python example", &py, &sub);
        assert_verdicts("aws-jwt-verify's AlbJwtVerifier", &node, &sub);
        assert!(
            node["other_signer"]["refused"]
                .as_str()
                .unwrap()
                .contains("AlbJwtInvalidSignerError"),
            "{node:?}"
        );
        assert!(
            node["other_client"]["refused"]
                .as_str()
                .unwrap()
                .contains("AlbJwtInvalidClientIdError"),
            "{node:?}"
        );
        assert!(
            py["expired"]["refused"]
                .as_str()
                .unwrap()
                .contains("ExpiredSignatureError"),
            "{py:?}"
        );
    })
    .await;
}
