"""Scripted sign-ins through the mock Cognito's hosted login form, and the
prepared callbacks that row 6 replays. Standard library only."""

import http.client
from concurrent.futures import ThreadPoolExecutor
import ssl
import urllib.parse

USER, PASSWORD = "alice", "alice-password"
BROWSER = {"Accept": "text/html", "User-Agent": "cognito-sidecar-bench"}


class Client:
    """A keep-alive HTTP/1.1 client for one origin; never follows redirects."""

    def __init__(self, origin):
        u = urllib.parse.urlsplit(origin)
        self.host, self.port, self.tls = u.hostname, u.port, u.scheme == "https"
        self.conn = None

    def connect(self):
        if not self.tls:
            return http.client.HTTPConnection(self.host, self.port, timeout=10)
        # The bench's own self-signed certificate on 127.0.0.1.
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        return http.client.HTTPSConnection(self.host, self.port, timeout=10, context=ctx)

    def request(self, method, target, headers=None, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self.connect()
            try:
                self.conn.request(method, target, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, r.getheaders(), data
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def header(headers, name):
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def set_cookies(headers):
    """name -> value of every Set-Cookie (attributes dropped)."""
    out = {}
    for k, v in headers:
        if k.lower() == "set-cookie":
            pair = v.split(";", 1)[0]
            name, _, value = pair.partition("=")
            out[name.strip()] = value.strip()
    return out


def target_of(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items() if v)


def expect(status, want, what):
    if status not in want:
        raise RuntimeError(f"{what}: HTTP {status}, expected {want}")


def hosted_login(mock, authorize_url):
    """Signs in at the mock's form; returns (callback URL, hosted-session cookie)."""
    query = urllib.parse.urlsplit(authorize_url).query
    body = urllib.parse.urlencode({"username": USER, "password": PASSWORD})
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **BROWSER}
    st, h, _ = Client(mock).request("POST", f"/login?{query}", hdrs, body)
    expect(st, (302,), "mock /login")
    return header(h, "location"), set_cookies(h).get("cognito")


def sidecar_sign_in(base, mock):
    """A browser's sign-in at a sidecar; returns (session cookie, hosted cookie)."""
    side = Client(base)
    st, h, _ = side.request("GET", "/", BROWSER)
    expect(st, (302,), "sidecar / without a session")
    jar = set_cookies(h)
    callback, hosted = hosted_login(mock, header(h, "location"))
    st, h, _ = side.request("GET", target_of(callback), {**BROWSER, "Cookie": cookie_header(jar)})
    expect(st, (302,), "sidecar callback")
    # The sign-in loop counter (`<name>_signins`) is not the session.
    session = {k: v for k, v in set_cookies(h).items() if v and not k.endswith("_signins")}
    if len(session) != 1:
        raise RuntimeError(f"sidecar callback set {sorted(session)}, expected one session cookie")
    name, value = next(iter(session.items()))
    return f"{name}={value}", hosted


def apache_sign_in(base, mock, hosted):
    """mod_auth_openidc's sign-in, through the mock's hosted session; returns its cookie."""
    apache, idp = Client(base), Client(mock)
    jar = {}
    st, h, _ = apache.request("GET", "/", BROWSER)
    expect(st, (302,), "Apache / without a session")
    jar.update(set_cookies(h))
    st, h2, _ = idp.request("GET", target_of(header(h, "location")), {**BROWSER, "Cookie": f"cognito={hosted}"})
    expect(st, (302,), "mock /oauth2/authorize")
    st, h, body = apache.request("GET", target_of(header(h2, "location")), {**BROWSER, "Cookie": cookie_header(jar)})
    expect(st, (302,), f"Apache redirect_uri ({body[:300]!r})")
    jar.update(set_cookies(h))
    session = {k: v for k, v in jar.items() if k.startswith("mod_auth_openidc_session") and v}
    if not session:
        raise RuntimeError(f"Apache set no session cookie (got {sorted(jar)})")
    cookie = cookie_header(session)
    st, _, _ = apache.request("GET", "/", {"Cookie": cookie})
    expect(st, (200,), "Apache / with the session cookie")
    return cookie


def _prepare(args):
    """One worker's share of callbacks: login started, code issued, not redeemed."""
    base, mock, hosted, count = args
    side, idp = Client(base), Client(mock)
    lines = []
    for _ in range(count):
        st, h, _ = side.request("GET", "/oauth2/start?rd=%2F", BROWSER)
        expect(st, (302,), "sidecar /oauth2/start")
        login = cookie_header(set_cookies(h))
        st, h, _ = idp.request(
            "GET", target_of(header(h, "location")), {**BROWSER, "Cookie": f"cognito={hosted}"}
        )
        expect(st, (302,), "mock /oauth2/authorize")
        lines.append(f"{target_of(header(h, 'location'))}\t{login}\n")
    return lines


def prepare_callbacks(base, mock, hosted, count, path, workers=2):
    """Writes `count` ready-to-replay callbacks to `path`."""
    share = [count // workers + (i < count % workers) for i in range(workers)]
    # Threads, not a forked pool: a fork taken while another thread of this
    # process holds a lock deadlocked the second round of a full run. The work
    # is waiting on sockets, so the GIL costs nothing here.
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(_prepare, [(base, mock, hosted, n) for n in share]))
    with open(path, "w") as f:
        for part in parts:
            f.writelines(part)
