#!/usr/bin/env python3
"""Per-request syscalls, context switches and a perf cpu-clock profile of
nginx's proxy (row 2), the sidecar (rows 3P and 3) and the pingora spike,
each under the harness's load (wrk -t2 -c64), using bench/py's servers.

perf stat counts syscall tracepoints (no ptrace, unlike strace -c, so the
server keeps its speed); perf record samples cpu-clock (this VM has no
hardware counters). Run from the repository root, as root:

  python3 bench/spikes/pingora/profile.py --bin /path/to/cognito-sidecar \
      --spike bench/spikes/pingora/target/release/pingora-spike [--seconds 5] [--out DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "py"))
import bench  # noqa: E402
import flows  # noqa: E402
from procs import Procs, tree  # noqa: E402
from servers import Servers  # noqa: E402

# The calls these servers make per request (found once with `syscalls:sys_enter_*`, which
# opens so many tracepoints that it slows the servers); all syscalls are counted in total.
SYSCALLS = ["writev", "write", "sendto", "recvfrom", "read", "getpeername", "getsockopt",
            "epoll_wait", "epoll_ctl", "futex", "clock_nanosleep"]
EVENTS = ["raw_syscalls:sys_enter", "context-switches", "task-clock"] + [
    f"syscalls:sys_enter_{s}" for s in SYSCALLS]


def under_load(servers, row, seconds, command):
    """Runs wrk on `row` while `command` (perf, for `seconds`) watches it."""
    watcher = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    result = {}
    t = threading.Thread(target=lambda: result.update(bench.wrk(servers, row, seconds + 1)))
    t.start()
    _, err = watcher.communicate()
    t.join()
    return result, err


def stat(servers, procs, row, seconds, out):
    pids = ",".join(str(p) for p in tree(procs.pid(row.server)))
    path = os.path.join(out, f"stat-{row.key}.csv")
    result, _ = under_load(servers, row, seconds, ["perf", "stat", "-x,", "-o", path, "-e",
                                                   ",".join(EVENTS), "-p", pids, "--", "sleep", str(seconds)])
    rate = result["requests"] / (result["duration_us"] / 1e6)
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 3 and parts[0].replace(".", "").isdigit():
                counts[parts[2].replace("syscalls:sys_enter_", "")] = float(parts[0])
    requests = rate * seconds  # requests during the perf window
    return {k: v / requests for k, v in counts.items()}, rate


def record(servers, procs, row, seconds, out):
    pids = ",".join(str(p) for p in tree(procs.pid(row.server)))
    data = os.path.join(out, f"perf-{row.key}.data")
    under_load(servers, row, seconds, ["perf", "record", "-F", "1999", "-g", "-o", data, "-p", pids,
                                       "--", "sleep", str(seconds)])
    report = {}
    for sort in ("dso", "sym"):
        text = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort,
                               "--stdio", "-g", "none", "--percent-limit", "0.7"],
                              capture_output=True, text=True).stdout
        report[sort] = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
        with open(os.path.join(out, f"perf-{row.key}-{sort}.txt"), "w") as f:
            f.write(text)
    return report


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", required=True)
    p.add_argument("--spike", required=True)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="pingora-profile-")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="pingora-profile-work-")
    os.chmod(work, 0o755)
    procs = Procs(work)
    servers = Servers(procs, args.bin, work)
    try:
        servers.nginx("upstream", "nginx-upstream.conf")
        servers.nginx("nginx-proxy", "nginx-proxy.conf", upstream="upstream")
        servers.mock([("sidecar", "/oauth2/callback")])
        servers.sidecar("sidecar")
        servers.sidecar("sidecar-public", {"SIDECAR_SKIP_AUTH_ROUTES": "/"})
        base = f"{args.spike} --listen 127.0.0.1:{{port}} --upstream 127.0.0.1:{{upstream}}"
        servers.spike("pingora", base)
        servers.spike("pingora-identity", base + " --identity")
        cookie, _ = flows.sidecar_sign_in(servers.url("sidecar"), servers.url("mock"))
        rows = [bench.Row("2", "", "nginx-proxy"), bench.Row("3P", "", "sidecar-public"),
                bench.Row("3", "", "sidecar", headers=[f"Cookie: {cookie}"]),
                bench.Row("S-pingora", "", "spike-pingora"),
                bench.Row("S-pingora-identity", "", "spike-pingora-identity")]
        per = {}
        for row in rows:
            per[row.key] = stat(servers, procs, row, args.seconds, out)
            print(f"{row.key}: {per[row.key][1]:.0f} req/s", flush=True)
        keys = ["task-clock", "raw_syscalls:sys_enter"] + SYSCALLS + ["context-switches"]
        print("\n| per request | " + " | ".join(r.key for r in rows) + " |")
        print("|---|" + "--:|" * len(rows))
        for k in keys:
            cells = []
            for r in rows:
                v = per[r.key][0].get(k, 0.0)
                # task-clock is in msec: show µs of CPU per request.
                cells.append(f"{v * 1000:.1f} µs" if k == "task-clock" else f"{v:.2f}")
            name = "all syscalls" if k.startswith("raw") else k
            print(f"| {name} | " + " | ".join(cells) + " |")
        for row in rows:
            rep = record(servers, procs, row, args.seconds, out)
            print(f"\n== {row.key}: samples by DSO")
            print("\n".join(rep["dso"][:8]))
            print(f"== {row.key}: top symbols")
            print("\n".join(rep["sym"][:25]))
        print(f"\n(perf data and reports in {out})")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
