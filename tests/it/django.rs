//! The Django example (deploy/examples/django) run for real: migrated into a
//! temporary SQLite database and served by gunicorn on 127.0.0.1, behind the
//! sidecar and the mock Cognito. Django's own view of each request
//! (`/whoami.json`), its page and its CSRF-protected form are what is checked.
//!
//! gunicorn runs with `--header-map dangerous`, which folds `X_User_Sub` into
//! `HTTP_X_USER_SUB` as many WSGI servers do (gunicorn's default drops such
//! headers): so only the sidecar stands between an underscore spoof and Django,
//! and the direct-to-Django control below shows the spoof would work without it.
//!
//! Python and the pinned packages come from scripts/install-test-deps.sh
//! (a virtualenv at target/django-venv).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_sidecar::mock::MockConfig;
use serde_json::Value;
use support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example_dir() -> PathBuf {
    root().join("deploy/examples/django")
}

/// The virtualenv's python, installed from the example's requirements.txt.
fn venv_python() -> PathBuf {
    let venv = root().join("target/django-venv");
    let python = venv.join("bin/python");
    let wanted = std::fs::read(example_dir().join("requirements.txt")).unwrap();
    let installed = std::fs::read(venv.join(".installed-requirements.txt")).ok();
    if !python.exists() || installed.as_deref() != Some(wanted.as_slice()) {
        panic!(
            "the Django example's virtualenv is missing or out of date at {}: run scripts/install-test-deps.sh",
            venv.display()
        );
    }
    python
}

/// The sub of a demo user: the username Django must give them.
fn sub_of(username: &str) -> String {
    MockConfig::demo()
        .users
        .into_iter()
        .find(|u| u.username == username)
        .unwrap()
        .sub
}

/// gunicorn serving the example on 127.0.0.1, killed with its workers on drop.
struct Django {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

/// `python` with the example's settings, its database in `dir`.
fn django_command(python: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.current_dir(example_dir())
        .env(
            "DJANGO_SECRET_KEY",
            "test-only-5f0c1e9a7b3d44e2a8c6b1f0d9e7a5c3b2e4f6a8c0d1",
        )
        .env("DJANGO_DB_PATH", dir.join("db.sqlite3"))
        .env("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
        .env("DJANGO_HTTPS", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

impl Django {
    async fn start() -> Django {
        use std::os::unix::process::CommandExt;
        let python = venv_python();
        let dir = tempfile::tempdir().unwrap();
        let out = django_command(&python, dir.path())
            .args(["manage.py", "migrate", "--noinput"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "migrate failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("gunicorn.log")).unwrap();
        let child = django_command(&python, dir.path())
            .args(["-m", "gunicorn", "--workers", "1", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--header-map", "dangerous", "--access-logfile"])
            .arg(dir.path().join("access.log"))
            .args(["--access-logformat", "%(r)s %(s)s"])
            .arg("sidecar_example.wsgi")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut django = Django {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        django.wait_up().await;
        django
    }

    async fn wait_up(&mut self) {
        let client = plain_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("gunicorn exited ({status}):\n{}", self.log("gunicorn.log"));
            }
            let r = client
                .get(format!("{}/whoami.json", self.base))
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gunicorn never answered:\n{}",
                self.log("gunicorn.log")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Django's view of a request sent straight to it, bypassing the sidecar.
    async fn whoami_direct(&self, headers: &[(&str, &str)]) -> Value {
        let mut req = plain_client().get(format!("{}/whoami.json", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The sidecar in front of this Django, with the mock Cognito.
    async fn behind_sidecar(&self) -> Stack {
        Stack::builder()
            .with(|s| s.upstream = Some(self.base.clone()))
            .start()
            .await
    }
}

impl Drop for Django {
    fn drop(&mut self) {
        // The process group: gunicorn's master and its worker.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn whoami(client: &reqwest::Client, stack: &Stack) -> Value {
    let r = client.get(stack.url("/whoami.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn page(client: &reqwest::Client, url: &str) -> String {
    let r = navigate(client, url).await;
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_visit_creates_the_django_user_and_django_shows_who_signed_in() {
    bounded(async {
        let django = Django::start().await;
        let before = django.whoami_direct(&[]).await;
        assert_eq!(before["is_authenticated"], false);
        assert_eq!(before["users"], 0);
        let stack = django.behind_sidecar().await;

        let alice = browser();
        let r = sign_in_as(&stack, &alice, "/", "alice", "alice-password").await;
        assert_eq!(r.status(), 302);
        assert_eq!(location(&r), "/");
        let html = page(&alice, &stack.url("/")).await;
        assert!(
            html.contains("Signed in as alice@example.com (Zoë Ångström-Łukasiewicz)"),
            "{html}"
        );
        let me = whoami(&alice, &stack).await;
        assert_eq!(me["is_authenticated"], true);
        assert_eq!(me["username"], sub_of("alice").as_str(), "keyed by sub");
        assert_eq!(me["email"], "alice@example.com");
        assert_eq!(
            me["name"], "Zoë Ångström-Łukasiewicz",
            "decoded from %-encoding"
        );
        assert_eq!(me["users"], 1, "created on the first visit");
        assert_eq!(me["is_secure"], false, "plain http end to end here");

        // Bob's email is unverified: the sidecar sends none, Django keeps none.
        let bob = browser();
        sign_in_as(&stack, &bob, "/", "bob", "bob-password").await;
        let html = page(&bob, &stack.url("/")).await;
        assert!(
            html.contains(&format!("Signed in as {} (Bob Builder)", sub_of("bob"))),
            "{html}"
        );
        let him = whoami(&bob, &stack).await;
        assert_eq!(him["username"], sub_of("bob").as_str());
        assert_eq!(him["email"], "");
        assert_eq!(him["users"], 2);
        assert_eq!(whoami(&alice, &stack).await["users"], 2, "no duplicates");
        assert_eq!(stack.upstream.count(), 0, "Django was the only upstream");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn django_form_post_with_its_csrf_token_saves_a_note_through_the_sidecar() {
    bounded(async {
        let django = Django::start().await;
        let stack = django.behind_sidecar().await;
        let (client, jar) = browser_with_jar();
        sign_in_as(&stack, &client, "/", "alice", "alice-password").await;
        let html = page(&client, &stack.url("/")).await;
        let token = form_fields(&html)
            .into_iter()
            .find(|(n, _)| n == "csrfmiddlewaretoken")
            .map(|(_, v)| v)
            .expect("the form carries {% csrf_token %}");
        let cookies = jar_cookies(&jar, &stack.url("/"));
        for name in ["csrftoken", "sessionid"] {
            assert!(
                cookies.iter().any(|(n, _)| n == name),
                "Django's {name} cookie passes the sidecar: {cookies:?}"
            );
        }
        let post = |origin: &'static str, fields: Vec<(&'static str, String)>| {
            let origin = origin.replace("SELF", &stack.base);
            client
                .post(stack.url("/"))
                .header("origin", origin)
                .form(&fields)
                .send()
        };
        let note = "hello from behind the sidecar";
        let r = post("SELF", vec![("text", note.into())]).await.unwrap();
        assert_eq!(r.status(), 403, "no token: Django's CSRF check refuses");
        let fields = vec![
            ("csrfmiddlewaretoken", token.clone()),
            ("text", note.into()),
        ];
        let r = post("https://evil.example", fields.clone()).await.unwrap();
        assert_eq!(r.status(), 403, "a foreign Origin is refused");
        assert!(!page(&client, &stack.url("/")).await.contains(note));

        let r = post("SELF", fields).await.unwrap();
        assert_eq!(r.status(), 302, "saved, then back to the page");
        assert_eq!(location(&r), "/");
        let html = page(&client, &stack.url("/")).await;
        assert!(
            html.contains(&format!("<li class=\"note\">{note}</li>")),
            "{html}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn spoofed_identity_headers_never_log_anyone_into_django() {
    bounded(async {
        let django = Django::start().await;
        let stack = django.behind_sidecar().await;
        let alice_sub = sub_of("alice");
        let spoofs: [(&str, &str); 3] = [
            ("X-User-Sub", &alice_sub),
            ("X_User_Sub", &alice_sub),
            ("X-User-Email", "alice@example.com"),
        ];

        // Without a session the sidecar answers itself; Django never hears of it.
        for (i, (name, value)) in spoofs.iter().enumerate() {
            let api = plain_client()
                .get(stack.url(&format!("/whoami.json?probe=api{i}")))
                .header(*name, *value)
                .send()
                .await
                .unwrap();
            assert_eq!(api.status(), 401, "{name}");
            let nav = plain_client()
                .get(stack.url(&format!("/?probe=nav{i}")))
                .header("accept", "text/html")
                .header(*name, *value)
                .send()
                .await
                .unwrap();
            assert_eq!(nav.status(), 302, "{name}: off to sign in");
            let to = location(&nav);
            assert!(to.starts_with(&stack.mock.base_url()), "{name}: {to}");
        }
        let access = django.log("access.log");
        assert!(access.contains("GET /whoami.json"), "logging: {access}");
        assert!(!access.contains("probe="), "Django saw:\n{access}");
        assert_eq!(django.whoami_direct(&[]).await["users"], 0);

        // With Alice's session, spoofs (and a forged scheme) are replaced by her identity.
        let alice = browser();
        sign_in_as(&stack, &alice, "/", "alice", "alice-password").await;
        let r = alice
            .get(stack.url("/whoami.json"))
            .header("X-User-Sub", "mallory-sub")
            .header("X_User_Sub", "mallory-underscore")
            .header("X-User-Email", "ceo@example.com")
            .header("X-User-Name", "Mallory")
            .header("X-Forwarded-Proto", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let me: Value = r.json().await.unwrap();
        assert_eq!(me["username"], alice_sub.as_str());
        assert_eq!(me["email"], "alice@example.com");
        assert_eq!(me["name"], "Zoë Ångström-Łukasiewicz");
        assert_eq!(
            me["is_secure"], false,
            "the client's X-Forwarded-Proto is replaced"
        );
        assert_eq!(me["users"], 1, "no user for a spoofed sub");

        // The control: straight to Django, each spelling is believed. This is
        // why the app must listen on 127.0.0.1, reachable only by the sidecar.
        for (name, sub) in [("X-User-Sub", "mallory-1"), ("X_User_Sub", "mallory-2")] {
            let direct = django.whoami_direct(&[(name, sub)]).await;
            assert_eq!(direct["is_authenticated"], true, "{name}");
            assert_eq!(direct["username"], sub);
        }
    })
    .await;
}
