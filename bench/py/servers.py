"""Starting the servers of a run: nginx (upstream and plain proxy), Apache with
mod_auth_openidc, the mock Cognito and the sidecars, all on 127.0.0.1 ports."""

import os
import secrets
import shutil
import subprocess
import time
import urllib.request

from procs import free_port, wait_http

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(os.path.dirname(HERE), "conf")
POOL = "us-east-1_DemoPool1"
CLIENT_ID = "4fmvht22tjrgd7d3k3tghttct7"
CLIENT_SECRET = "demo-client-secret-1f0c9a7e3b5d42c8a6e4b2d0f8c6a4e2"
COOKIE_NAME = "_cognito_sidecar"


def render(template, out, values):
    with open(os.path.join(CONF, template)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    with open(out, "w") as f:
        f.write(text)
    return text


class Servers:
    def __init__(self, procs, binary, workdir):
        self.procs, self.binary, self.dir = procs, binary, workdir
        self.ports = {}
        self.configs = {}
        self.ready_seconds = {}
        self.cookie_secret = secrets.token_urlsafe(48)
        self.tls = set()
        self.cert = None
        self.spikes = []

    def port(self, name):
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def url(self, name):
        scheme = "https" if name in self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port(name)}"

    def certificate(self):
        """One self-signed ECDSA P-256 certificate for 127.0.0.1, served by
        nginx and the sidecar alike (same key type, same handshake work)."""
        if self.cert is None:
            cert, key = os.path.join(self.dir, "tls-cert.pem"), os.path.join(self.dir, "tls-key.pem")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1"],
                check=True, capture_output=True)
            os.chmod(key, 0o644)
            self.cert = (cert, key)
        return self.cert

    def upstream_requests(self):
        """Requests the upstream nginx has answered so far (stub_status),
        not counting this query itself."""
        url = f"http://127.0.0.1:{self.port('upstream')}/__bench_requests"
        with urllib.request.urlopen(url, timeout=5) as r:
            lines = r.read().decode().splitlines()
        return int(lines[2].split()[2]) - 1

    def nginx(self, name, template, upstream=None, access_log=False, tls=False):
        values = {"DIR": self.dir, "PORT": self.port(name), "NAME": name, "LISTEN": "", "TLS": "",
                  "ACCESS_LOG": f"{self.dir}/{name}.access.log combined" if access_log else "off"}
        if tls:
            cert, key = self.certificate()
            self.tls.add(name)
            values["LISTEN"] = " ssl http2"
            values["TLS"] = (f"        ssl_certificate {cert};\n        ssl_certificate_key {key};\n"
                             "        ssl_protocols TLSv1.2 TLSv1.3;\n"
                             "        ssl_session_cache shared:SSL:10m;\n")
        if upstream:
            values["UPSTREAM"] = self.port(upstream)
        conf = os.path.join(self.dir, f"{name}.conf")
        self.configs[name] = render(template, conf, values)
        self.procs.start(
            name, ["/usr/sbin/nginx", "-p", self.dir, "-e", f"{self.dir}/{name}.error.log", "-c", conf]
        )
        wait_http(self.url(name) + "/")

    def mock(self, callback_servers):
        argv = [
            self.binary, "mock-cognito", "--listen", f"127.0.0.1:{self.port('mock')}",
            "--local-issuer", "--allow-http-loopback-ip",
        ]
        for name, path in callback_servers:
            argv += ["--callback-url", f"{self.url(name)}{path}"]
            argv += ["--logout-url", f"{self.url(name)}/"]
        self.procs.start("mock", argv, env={**os.environ, "SIDECAR_LOG": "warn"})
        wait_http(f"{self.url('mock')}/{POOL}/.well-known/openid-configuration")

    def sidecar_env(self, name, upstream="upstream", extra=None):
        base = self.url(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
        env.update({
            "SIDECAR_LISTEN": f"127.0.0.1:{self.port(name)}",
            "SIDECAR_UPSTREAM": self.url(upstream),
            "SIDECAR_ISSUER_URL": f"{self.url('mock')}/{POOL}",
            "SIDECAR_PROVIDER": "cognito",
            "SIDECAR_CLIENT_ID": CLIENT_ID,
            "SIDECAR_CLIENT_SECRET": CLIENT_SECRET,
            "SIDECAR_REDIRECT_URL": f"{base}/oauth2/callback",
            "SIDECAR_COOKIE_SECRET": self.cookie_secret,
            "SIDECAR_COOKIE_SECURE": "false",
            # Like nginx's `access_log off`: no access-log line per request.
            "SIDECAR_LOG": "warn",
        })
        env.update(extra or {})
        return env

    def sidecar(self, name, extra=None, access_log=False, tls=False, binary=None):
        """Starts a sidecar; records start-up to ready (discovery and JWKS loaded).
        `access_log`: its JSON access line per request, to its log file (stdout).
        `tls`: it terminates HTTPS itself (HTTP/1.1 and HTTP/2 by ALPN).
        `binary`: another build than `--bin` (the A/B rows of `--bin-b`)."""
        extra = dict(extra or {})
        if access_log:
            extra.update({"SIDECAR_LOG": "info", "SIDECAR_LOG_FORMAT": "json"})
        if tls:
            cert, key = self.certificate()
            self.tls.add(name)
            extra.update({"SIDECAR_TLS_CERT_FILE": cert, "SIDECAR_TLS_KEY_FILE": key})
        env = self.sidecar_env(name, extra=extra)
        started = time.monotonic()
        self.procs.start(name, [binary or self.binary], env=env)
        wait_http(f"{self.url(name)}/ready", poll=0.001)
        self.ready_seconds[name] = time.monotonic() - started

    def spike(self, name, command):
        """An alternative I/O layer under trial (bench/spikes/): COMMAND with
        `{port}` and `{upstream}` filled in, proxying to the upstream nginx."""
        key = f"spike-{name}"
        argv = command.format(port=self.port(key), upstream=self.port("upstream")).split()
        self.procs.start(key, argv)
        wait_http(self.url(key) + "/")
        self.spikes.append(name)

    def seeded_sidecar(self, name, sessions, extra=None, timeout=600):
        """A sidecar holding `sessions` seeded sessions; returns the cookie file."""
        out = os.path.join(self.dir, f"{name}.cookies")
        self.sidecar(name, {
            "SIDECAR_BENCH_SEED": str(sessions),
            "SIDECAR_BENCH_SEED_FILE": out,
            "SIDECAR_SESSION_MAX_BYTES": "32GiB",
            **(extra or {}),
        })
        deadline = time.monotonic() + timeout
        while not os.path.exists(out):
            self.procs.check_alive(name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: no seeded cookies after {timeout}s")
            time.sleep(0.1)
        return out

    def apache(self):
        name = "apache"
        run = os.path.join(self.dir, "apache-run")
        os.makedirs(run, exist_ok=True)
        shutil.chown(run, "www-data", "www-data")
        conf = os.path.join(self.dir, "apache.conf")
        self.configs[name] = render("apache-oidc.conf", conf, {
            "DIR": self.dir, "PORT": self.port(name), "UPSTREAM": self.port("upstream"),
            "MOCK": self.url("mock"), "POOL": POOL, "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET, "PASSPHRASE": secrets.token_hex(16),
        })
        env = {**os.environ, "APACHE_RUN_DIR": run, "APACHE_LOCK_DIR": run, "APACHE_LOG_DIR": self.dir}
        self.procs.start(name, ["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"], env=env)
        wait_http(self.url(name) + "/", ok=(302, 401))
