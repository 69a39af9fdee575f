"""cognito-sidecar's benchmark, side by side with nginx and mod_auth_openidc.

Run through `bash bench/run.sh` (which installs the tools and builds the
binary); see the README's "Performance" section. Every row is measured in the
same run, in interleaved rounds, and the median of the rounds is reported.
"""

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import flows
import report
from procs import Procs, cpu_seconds, peak_rss_kib, rss_kib
from servers import COOKIE_NAME, Servers

WRK_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "wrk")
THREADS, CONNECTIONS = 2, 64


class Row:
    """One measured line. `tool`: wrk (HTTP/1.1), h2load (HTTP/2) or s_time
    (resumed TLS handshakes, no request). `upstream`: every request of the
    row reaches the upstream, which counts them."""

    def __init__(self, key, what, server, path="/", headers=(), script="report.lua",
                 env=None, status=200, tool="wrk", upstream=False):
        self.key, self.what, self.server, self.path = key, what, server, path
        self.headers, self.script, self.env, self.status = list(headers), script, env or {}, status
        self.tool, self.upstream = tool, upstream
        self.runs = []


def wrk(servers, row, duration):
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "10s",
            "-s", os.path.join(WRK_DIR, row.script)]
    for h in row.headers:
        argv += ["-H", h]
    argv.append(servers.url(row.server) + row.path)
    env = {**os.environ, "BENCH_WRK_DIR": WRK_DIR, "BENCH_THREADS": str(THREADS), **row.env}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 120)
    for line in out.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON "):])
    raise RuntimeError(f"wrk printed no result for row {row.key}:\n{out.stdout}\n{out.stderr}")


def h2load(servers, row, duration):
    """HTTP/2 over TLS: h2load with wrk's threads and connections, one stream
    at a time per connection (like wrk's one request in flight)."""
    argv = ["h2load", f"-t{THREADS}", f"-c{CONNECTIONS}", "-m1", f"-D{duration}"]
    for h in row.headers:
        argv += ["-H", h]
    argv.append(servers.url(row.server) + row.path)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120).stdout
    took = re.search(r"finished in ([\d.]+)(m?s)", out)
    req = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                    r"(\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    mean = re.search(r"time for request:\s+\S+\s+(\S+)\s+(\S+)", out)
    if not (took and req and codes):
        raise RuntimeError(f"h2load printed no result for row {row.key}:\n{out}")
    seconds = float(took.group(1)) / (1000 if took.group(2) == "ms" else 1)
    ok = int(codes.group(1)) if row.status < 300 else int(codes.group(2))
    done = int(req.group(3))
    return {"requests": ok, "duration_us": seconds * 1e6, "connect_errors": int(req.group(5)),
            "read_errors": 0, "write_errors": 0, "status_errors": done - ok, "timeouts": int(req.group(6)),
            "p50_us": h2_us(mean.group(2)) if mean else None, "p99_us": None, "p999_us": None,
            "max_us": h2_us(mean.group(1)) if mean else None, "latency": "mean"}


def h2_us(text):
    """h2load's `393us`, `14.29ms`, `1.20s` in microseconds."""
    for suffix, scale in (("us", 1), ("ms", 1e3), ("s", 1e6)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


def s_time(servers, row, duration):
    """Resumed TLS handshakes (no request): two `openssl s_time -reuse`
    clients, one per core, each reconnecting with its first session."""
    port = servers.port(row.server)
    argv = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-reuse", "-time", str(duration)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(THREADS)]
    total = 0
    for p in procs:
        out, _ = p.communicate(timeout=duration + 60)
        found = re.findall(r"(\d+) connections in ([\d.]+) real seconds", out)
        if not found:
            raise RuntimeError(f"s_time printed no result for row {row.key}:\n{out}")
        total += int(found[-1][0])
    return {"requests": total, "duration_us": duration * 1e6, "connect_errors": 0, "read_errors": 0,
            "write_errors": 0, "status_errors": 0, "timeouts": 0, "p50_us": None, "p99_us": None,
            "p999_us": None, "max_us": None}


TOOLS = {"wrk": wrk, "h2load": h2load, "s_time": s_time}


def measure(procs, servers, row, duration, side=()):
    """One run of the row's load tool; CPU of the server (and `side` processes);
    for rows that reach the upstream, how many requests it received."""
    roots = [procs.pid(row.server)] + [procs.pid(s) for s in side]
    upstream_before = servers.upstream_requests() if row.upstream else None
    before = [cpu_seconds(p) for p in roots]
    result = TOOLS[row.tool](servers, row, duration)
    after = [cpu_seconds(p) for p in roots]
    if row.upstream:
        result["upstream_received"] = servers.upstream_requests() - upstream_before
    result["cpu_s"] = after[0] - before[0]
    for name, b, a in zip(side, before[1:], after[1:]):
        result[f"cpu_{name}_s"] = a - b
    procs.check_alive(row.server)
    row.runs.append(result)
    return result


def check_answers(servers, rows):
    """Each row's request gets the answer it is meant to measure, before timing it."""
    for row in rows:
        if row.script != "report.lua" or row.tool == "s_time":
            continue
        client = flows.Client(servers.url(row.server))
        headers = dict(h.split(": ", 1) for h in row.headers)
        status, _, body = client.request("GET", row.path, headers)
        if status != row.status:
            raise RuntimeError(f"row {row.key}: HTTP {status}, expected {row.status}: {body[:200]!r}")


def signin_round(procs, servers, row, duration, estimate):
    """Row 6: prepare enough unredeemed callbacks, then replay them with wrk."""
    path = os.path.join(servers.dir, "callbacks.txt")
    count = max(2000, int(estimate * duration * 1.6))
    started = time.monotonic()
    flows.prepare_callbacks(servers.url("signin"), servers.url("mock"), servers.hosted, count, path)
    print(f"    prepared {count} callbacks in {time.monotonic() - started:.1f}s", flush=True)
    result = measure(procs, servers, row, duration, side=("mock",))
    if result.get("exhausted"):
        print("    WARNING: prepared callbacks ran out; the row undercounts", flush=True)
    return result["signed_in"] / (result["duration_us"] / 1e6)


def sessions_at_scale(procs, servers, sizes):
    """RSS of sidecars holding each number of seeded sessions; keeps the
    smallest and largest running for rows 7a and 7b."""
    memory, files = {}, {}
    for n in sizes:
        name = f"seed{n}"
        started = time.monotonic()
        files[n] = servers.seeded_sidecar(name, n)
        took = time.monotonic() - started
        time.sleep(1.0)
        memory[n] = {"rss_kib": rss_kib(procs.pid(name)), "seed_s": took}
        print(f"  {n} sessions: RSS {memory[n]['rss_kib'] / 1024:.0f} MiB (seeded in {took:.1f}s)", flush=True)
        if n not in (sizes[0], sizes[-1]):
            procs.stop(name)
            os.remove(files[n])
    return memory, files


DEPLOYMENT_ROWS = ("2L", "3L", "2T", "3T", "2H", "3H", "2N", "3N", "2R", "3R")


def build_rows(servers, smoke, deployment, cookies, apache_cookie, seed_files, sizes):
    nav = ["Accept: text/html"]
    cookie, fa_cookie = cookies[:2]
    rows = [
        Row("1", "direct: nginx serving a ~100-byte body (the upstream)", "upstream"),
        Row("2", "nginx plain reverse proxy, no authentication", "nginx-proxy", upstream=True),
        Row("2b", "Apache + mod_auth_openidc, signed-in session cookie", "apache",
            headers=[f"Cookie: {apache_cookie}"] if apache_cookie else [], upstream=True),
        Row("3", "cognito-sidecar, signed in (proxied with identity headers)", "sidecar",
            headers=[f"Cookie: {cookie}"], upstream=True),
        Row("3P", "cognito-sidecar, a `skip-auth-routes` path: its proxy without authentication",
            "sidecar-public", upstream=True),
        Row("4", "cognito-sidecar forward-auth `GET /oauth2/auth`", "forward-auth",
            path="/oauth2/auth", headers=[f"Cookie: {fa_cookie}"], status=202),
        Row("5a", "cognito-sidecar, not signed in: no cookie (302 to the IdP)", "anonymous",
            headers=nav, status=302),
        Row("5b", "cognito-sidecar, garbage session cookie (302 to the IdP)", "anonymous",
            headers=nav + [f"Cookie: {COOKIE_NAME}={'Zm9v' * 24}"], status=302),
        Row("6", "sign-in: complete callbacks (code exchange, ID-token check, new session)",
            "signin", path="/oauth2/callback", script="callbacks.lua",
            env={"BENCH_CALLBACKS": os.path.join(servers.dir, "callbacks.txt")}),
    ]
    if deployment:
        rows += deployment_rows(cookies[2:])
    for n in (sizes[0], sizes[-1]) if seed_files else ():
        rows.append(Row(f"7 @{report.count(n)}", f"row 3 spread over {report.count(n)} seeded sessions",
                        f"seed{n}", script="cookies.lua", upstream=True,
                        env={"BENCH_COOKIES": seed_files[n], "BENCH_COOKIE_NAME": COOKIE_NAME}))
    for name in servers.spikes:
        rows.append(Row(f"S-{name}", f"spike: {name} as a plain reverse proxy (bench/spikes/)",
                        f"spike-{name}", upstream=True))
    if smoke:
        rows = [r for r in rows if r.key in ("1", "3", "4")]
    if not apache_cookie:
        rows = [r for r in rows if r.key != "2b"]
    return rows


# Sidecars started a second time from `--bin-b`, and the rows measured on them.
B_SERVERS = ("sidecar", "forward-auth", "sidecar-public", "sidecar-log", "sidecar-tls")
B_ROWS = ("3", "3P", "4", "3L", "3T", "3H")


def b_rows(servers, smoke, deployment):
    """Rows B3, B3P, B4 (and B3L, B3T, B3H in a full run): the same requests
    to sidecars of the `--bin-b` build, each signed in on its own, interleaved
    with the `--bin` rows so that one run compares two builds."""
    sign_in = lambda n: flows.sidecar_sign_in(servers.url(n + "-b"), servers.url("mock"))[0]
    cookies = [sign_in(n) for n in ("sidecar", "forward-auth")]
    if deployment:
        cookies += [sign_in(n) for n in ("sidecar-log", "sidecar-tls")]
    rows = [r for r in build_rows(servers, smoke, deployment, cookies, None, {}, []) if r.key in B_ROWS]
    for r in rows:
        r.key, r.server, r.what = "B" + r.key, r.server + "-b", r.what + " [--bin-b]"
    return [r for r in rows if r.server in servers.ports]


def deployment_rows(cookies):
    """What real deployments run: an access log, TLS (HTTP/1.1 and HTTP/2
    keep-alive), and new TLS connections (full, then resumed handshakes)."""
    log_cookie, tls_cookie = cookies
    close = ["Connection: close"]
    return [
        Row("2L", "nginx proxy, `access_log` on (default `combined` format, to a file)",
            "nginx-proxy-log", upstream=True),
        Row("3L", "cognito-sidecar signed in, JSON access line per request (to a file)", "sidecar-log",
            headers=[f"Cookie: {log_cookie}"], upstream=True),
        Row("2T", "nginx proxy over TLS (OpenSSL), HTTP/1.1 keep-alive", "nginx-proxy-tls", upstream=True),
        Row("3T", "cognito-sidecar over TLS (rustls), signed in, HTTP/1.1 keep-alive", "sidecar-tls",
            headers=[f"Cookie: {tls_cookie}"], upstream=True),
        Row("2H", "nginx proxy over TLS, HTTP/2 (h2load, 1 stream per connection)", "nginx-proxy-tls",
            tool="h2load", upstream=True),
        Row("3H", "cognito-sidecar over TLS, HTTP/2, signed in (h2load)", "sidecar-tls",
            headers=[f"cookie: {tls_cookie}"], tool="h2load", upstream=True),
        Row("2N", "nginx: a new TLS connection per request (full handshake + 1 request)",
            "nginx-proxy-tls", headers=close, upstream=True),
        Row("3N", "cognito-sidecar: a new TLS connection per request (full handshake + 1 signed-in request)",
            "sidecar-tls", headers=close + [f"Cookie: {tls_cookie}"], upstream=True),
        Row("2R", "nginx: resumed TLS handshakes per second (`openssl s_time -reuse`, no request)",
            "nginx-proxy-tls", tool="s_time"),
        Row("3R", "cognito-sidecar: resumed TLS handshakes per second (`openssl s_time -reuse`)",
            "sidecar-tls", tool="s_time"),
    ]


def machine():
    def sh(cmd):
        r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip()
    return {
        "nproc": sh("nproc"),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "kernel": sh("uname -sr"),
        "memory": sh("free -h | awk '/Mem:/{print $2}'"),
        "load": open("/proc/loadavg").read().split()[:3],
        "nginx": sh("/usr/sbin/nginx -v"),
        "apache": sh("/usr/sbin/apache2 -v | head -1"),
        "mod_auth_openidc": sh("dpkg-query -W -f='${Version}' libapache2-mod-auth-openidc"),
        "wrk": sh("wrk -v 2>&1 | head -1").split(" Copyright")[0],
        "h2load": sh("h2load --version | head -1"),
        "openssl": sh("openssl version"),
        "rustc": sh("rustc --version"),
        "commit": sh("git rev-parse --short HEAD") + ("" if not sh("git status --porcelain -- src Cargo.toml Cargo.lock") else " (with local changes)"),
    }


def run(args, procs, workdir):
    servers = Servers(procs, args.bin, workdir)
    info = machine()
    print(f"== machine: {info['nproc']} cores ({info['cpu']}), {info['kernel']}, load {' '.join(info['load'])}", flush=True)
    servers.nginx("upstream", "nginx-upstream.conf")
    servers.nginx("nginx-proxy", "nginx-proxy.conf", upstream="upstream")
    wanted = lambda key: args.only is None or key in args.only
    # The access-log and TLS servers only when one of their rows is measured.
    deployment = not args.smoke and any(wanted(k) for k in DEPLOYMENT_ROWS)
    if deployment:
        servers.nginx("nginx-proxy-log", "nginx-proxy.conf", upstream="upstream", access_log=True)
        servers.nginx("nginx-proxy-tls", "nginx-proxy.conf", upstream="upstream", tls=True)
        servers.tls.add("sidecar-tls")
    apache = not args.smoke and wanted("2b")
    signed_in = ("sidecar", "forward-auth", "signin") + (("sidecar-log", "sidecar-tls") if deployment else ())
    if args.bin_b:
        signed_in += tuple(n + "-b" for n in B_SERVERS if n in signed_in)
    callbacks = [(n, "/oauth2/callback") for n in signed_in]
    if apache:
        callbacks.append(("apache", "/redirect_uri"))
    servers.mock(callbacks)
    for name in ("sidecar", "forward-auth", "anonymous", "signin"):
        servers.sidecar(name)
    for suffix, binary in [("", None)] + ([("-b", args.bin_b)] if args.bin_b else []):
        if suffix:
            for name in ("sidecar", "forward-auth"):
                servers.sidecar(name + suffix, binary=binary)
        if not args.smoke and wanted("3P"):
            servers.sidecar("sidecar-public" + suffix, {"SIDECAR_SKIP_AUTH_ROUTES": "/"}, binary=binary)
        if deployment:
            servers.sidecar("sidecar-log" + suffix, access_log=True, binary=binary)
            servers.sidecar("sidecar-tls" + suffix, tls=True, binary=binary)
    for spike in args.spike:
        name, _, command = spike.partition("=")
        servers.spike(name, command)
    print(f"== start-up to ready: {', '.join(report.ms(t) for t in servers.ready_seconds.values())}", flush=True)
    # Rows 3 and 4 run on sidecars of their own, each with a real sign-in.
    cookie, servers.hosted = flows.sidecar_sign_in(servers.url("sidecar"), servers.url("mock"))
    fa_cookie, _ = flows.sidecar_sign_in(servers.url("forward-auth"), servers.url("mock"))
    more = [flows.sidecar_sign_in(servers.url(n), servers.url("mock"))[0]
            for n in ("sidecar-log", "sidecar-tls")] if deployment else []
    apache_cookie = None
    if apache:
        servers.apache()
        apache_cookie = flows.apache_sign_in(servers.url("apache"), servers.url("mock"), servers.hosted)
    memory, seed_files = {}, {}
    sizes = [] if args.smoke or not wanted("7") else [10_000, 100_000, 1_000_000]
    if sizes:
        print("== seeding sessions (bench-seed build)", flush=True)
        memory, seed_files = sessions_at_scale(procs, servers, sizes)
    rows = build_rows(servers, args.smoke, deployment, (cookie, fa_cookie, *more), apache_cookie, seed_files, sizes)
    if args.bin_b:
        # Each B row right after its own, so both builds see the same load.
        b = {r.key[1:]: r for r in b_rows(servers, args.smoke, deployment)}
        rows = [x for r in rows for x in (r, b.get(r.key)) if x is not None]
    rows = [r for r in rows if wanted(r.key.split()[0].removeprefix("B"))]
    check_answers(servers, rows)
    estimate = 1500.0
    for rnd in range(1, args.rounds + 1):
        print(f"== round {rnd}/{args.rounds}", flush=True)
        for row in rows:
            if row.key == "6":
                estimate = signin_round(procs, servers, row, args.duration, estimate) or estimate
            else:
                measure(procs, servers, row, args.duration)
            print("   " + report.brief(row), flush=True)
            time.sleep(0.5)
    for row in rows:
        row.peak_rss_kib = peak_rss_kib(procs.pid(row.server))
    return report.Results(info, servers, rows, memory, args)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", required=True, help="the bench-seed release binary")
    p.add_argument("--bin-b", default=None, metavar="PATH",
                   help="a second build, measured in rows B3, B3P, B4 (B3L, B3T, B3H) interleaved "
                        "with the --bin rows, to compare two builds in one run")
    p.add_argument("--smoke", action="store_true", help="1 round of 1 s, rows 1, 3, 4 only")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=8, help="seconds per row per round")
    p.add_argument("--out", default=None, help="Markdown results file")
    p.add_argument("--command", default="bash bench/run.sh")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    p.add_argument("--only", type=lambda v: v.split(","), default=None,
                   help="comma-separated rows to run (e.g. 2,3,7), for investigating")
    p.add_argument("--spike", action="append", default=[], metavar="NAME=COMMAND",
                   help="also measure COMMAND as a plain reverse proxy, row S-NAME; {port} and "
                        "{upstream} in COMMAND become its port and the upstream's (bench/spikes/)")
    args = p.parse_args()
    if args.smoke:
        args.rounds, args.duration = 1, 1
    workdir = tempfile.mkdtemp(prefix="cognito-sidecar-bench-")
    os.chmod(workdir, 0o755)
    procs = Procs(workdir)

    def cleanup(*_):
        procs.stop_all()
        if args.keep:
            print(f"== kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: sys.exit(128 + s))
    started = time.monotonic()
    results = run(args, procs, workdir)
    results.elapsed = time.monotonic() - started
    text = results.markdown()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"== wrote {args.out}")
    return 0 if results.healthy() else 1


if __name__ == "__main__":
    sys.exit(main())
