"""Processes the benchmark starts, and what /proc says about them.

Every server is started in its own session (process group), remembered, and
ended by that group id at exit, whatever happens: nothing is left running.
"""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Procs:
    """The servers of one run, each by name."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.started = {}

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.started[name] = proc
        return proc

    def pid(self, name):
        return self.started[name].pid

    def check_alive(self, name):
        proc = self.started[name]
        if proc.poll() is not None:
            tail = read_tail(os.path.join(self.workdir, f"{name}.log"))
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self, name):
        proc = self.started.pop(name, None)
        if proc is not None:
            end_group(proc)

    def stop_all(self):
        for name in list(self.started):
            self.stop(name)


def end_group(proc):
    """SIGTERM to the process group we created, SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    # The group may outlive its leader (nginx or Apache workers).
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def read_tail(path, limit=3000):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data[-limit:].decode("utf-8", "replace")
    except OSError:
        return ""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, ok=(200,), timeout=20.0, poll=0.002):
    """Polls `url` (redirects not followed) until it answers one of `ok`;
    returns seconds waited."""
    u = urllib.parse.urlsplit(url)
    target = u.path + ("?" + u.query if u.query else "")
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while time.monotonic() < deadline:
        if u.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=2, context=ctx)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
        try:
            conn.request("GET", target)
            last = conn.getresponse().status
            if last in ok:
                return time.monotonic() - started
        except (http.client.HTTPException, OSError) as e:
            last = e
        finally:
            conn.close()
        time.sleep(poll)
    raise RuntimeError(f"{url} not ready after {timeout}s (last: {last})")


def children(pid):
    """Direct children of a process (all its threads)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def tree(pid):
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children(p))
    return found


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    # The command name may hold spaces; fields restart after its ')'.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(root):
    """utime+stime of a process tree; the root also counts its reaped
    children (cutime+cstime), so workers that exit are not lost."""
    total = 0
    for pid in tree(root):
        try:
            f = stat_fields(pid)
        except OSError:
            continue
        # Fields 14-17 of proc(5), counted from 3 after the name.
        total += int(f[11]) + int(f[12])
        if pid == root:
            total += int(f[13]) + int(f[14])
    return total / CLK_TCK


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib(root):
    """VmHWM summed over the process tree (shared pages count once per process)."""
    return sum(status_kib(p, "VmHWM") for p in tree(root))


def rss_kib(root):
    return sum(status_kib(p, "VmRSS") for p in tree(root))
