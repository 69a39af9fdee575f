//! One redis-server child process per test, on an ephemeral loopback port.

use super::*;

/// A redis-server child process, killed on drop. Never persists on its own;
/// [`RedisServer::save`] writes a snapshot that a restart loads.
pub(crate) struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// More redis-server arguments (TLS, a password).
    extra: Vec<String>,
    password: Option<String>,
}

impl RedisServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(tempfile::tempdir().unwrap(), Vec::new(), None).await
    }

    pub(super) async fn start_with(
        dir: tempfile::TempDir,
        extra: Vec<String>,
        password: Option<&str>,
    ) -> Self {
        let mut server = Self {
            port: free_port(),
            dir,
            child: None,
            extra,
            password: password.map(str::to_string),
        };
        server.spawn().await;
        server
    }

    pub(super) fn binary() -> PathBuf {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("redis-server"))
                .find(|p| p.is_file())
        });
        found.expect("redis-server is not installed: run scripts/install-test-deps.sh")
    }

    pub(super) async fn spawn(&mut self) {
        let child = Command::new(Self::binary())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut c) = self.connect().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    pub(crate) fn url(&self) -> String {
        let auth = self
            .password
            .as_ref()
            .map_or(String::new(), |p| format!(":{p}@"));
        format!("redis://{auth}127.0.0.1:{}/", self.port)
    }

    pub(super) async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url())?
            .get_multiplexed_async_connection()
            .await
    }

    /// A snapshot the next start loads, as a persistent Redis would keep.
    pub(super) async fn save(&self) {
        let mut c = self.connect().await.unwrap();
        let _: String = redis::cmd("SAVE").query_async(&mut c).await.unwrap();
    }

    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every key and its raw value (strings only; sets as their members).
    pub(super) async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut c = self.connect().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut c)
            .await
            .unwrap();
        let mut out = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            let value: Vec<u8> = match kind.as_str() {
                "string" => redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "zset" => {
                    let members: Vec<String> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    members.join(",").into_bytes()
                }
                other => panic!("unexpected key type {other} for {key}"),
            };
            out.push((key, value));
        }
        out
    }
}

pub(super) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
