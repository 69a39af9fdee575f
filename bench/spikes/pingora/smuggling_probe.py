#!/usr/bin/env python3
"""Replays the raw-byte cases of tests/it/smuggling.rs against the pingora
spike, in front of an upstream that records every byte it receives, and
prints what pingora answered and what reached the upstream.

The sidecar passes all of these (cargo test --test it smuggling::); this shows
what pingora's own HTTP/1 parser does with them out of the box, i.e. what a
port would have to add. Usage: smuggling_probe.py PATH/TO/pingora-spike
"""
import socket
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """Raw TCP: keeps every byte, answers a fixed 200 per complete request."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.bytes = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        pending = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.bytes += data
            pending += data
            while (n := complete_request(pending)) is not None:
                pending = pending[n:]
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    def received(self):
        with self.lock:
            return bytes(self.bytes)


def complete_request(buf):
    """The same rule as ByteUpstream's complete_request in smuggling.rs."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    end += 4
    head = buf[:end].decode("latin-1").lower()
    if "transfer-encoding: chunked" in head:
        tail = buf.find(b"0\r\n\r\n", end)
        return None if tail < 0 else tail + 5
    length = 0
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            try:
                length = int(line.split(":", 1)[1].strip())
            except ValueError:
                pass
    return end + length if len(buf) >= end + length else None


def exchange(port, raw):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(3)
        s.sendall(raw)
        answer, closed = b"", True
        try:
            while data := s.recv(65536):
                answer += data
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            pass
    return answer, closed


def cases(host):
    h = f"Host: {host}\r\nConnection: close\r\n"
    line = lambda extra: f"GET /a HTTP/1.1\r\n{h}{extra}\r\n\r\n"
    smuggled = f"GET /smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n"
    nc = f"Host: {host}\r\n"  # no Connection: close
    lf = h.replace("\r\n", "\n")
    refuse = [
        ("two different Content-Length", f"POST /a HTTP/1.1\r\n{h}Content-Length: 4\r\nContent-Length: 40\r\n\r\nabcd"),
        ("a Content-Length list", f"POST /a HTTP/1.1\r\n{h}Content-Length: 4, 40\r\n\r\nabcd"),
        ("Transfer-Encoding: chunked, identity", f"POST /a HTTP/1.1\r\n{h}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
        ("Transfer-Encoding: xchunked", f"POST /a HTTP/1.1\r\n{h}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        ("Transfer-Encoding in HTTP/1.0", f"POST /a HTTP/1.0\r\n{h}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("obsolete line folding", line("X-Foo: a\r\n b")),
        ("a space before the colon", line("X-Foo : bar")),
        ("a tab inside the name", line("X\tFoo: bar")),
        ("a NUL inside the name", line("X-F\0oo: bar")),
        ("a NUL inside the value", line("X-Foo: b\0ar")),
        ("a non-ASCII name", line("X-F\u00f6o: bar")),
        ("a bare CR inside the value", line("X-Foo: a\rb")),
        ("a space inside the target", f"GET /a b HTTP/1.1\r\n{h}\r\n"),
        ("bare LF: a hidden request line", f"GET /lf HTTP/1.1\n{lf}GET /smuggled HTTP/1.1\n\n"),
        ("absolute-form naming another host", f"GET http://evil.example/a HTTP/1.1\r\n{h}\r\n"),
        ("two Host lines", f"GET /a HTTP/1.1\r\n{h}Host: evil.example\r\n\r\n"),
        ("HTTP/1.1 without Host", "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("CONNECT", f"CONNECT evil.example:443 HTTP/1.1\r\n{h}\r\n"),
    ]
    one = [
        ("CL then TE: chunked, then a pipelined GET",
         f"POST /form HTTP/1.1\r\n{nc}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"),
        ("TE: chunked then CL, then a pipelined GET",
         f"POST /form HTTP/1.1\r\n{nc}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"),
        ("bare LF line ends", f"GET /lf HTTP/1.1\n{lf}X-A: 1\n\n"),
    ]
    return [(w, "refuse", r) for w, r in refuse] + [(w, "one request", r) for w, r in one]


def request_lines(got):
    return [l for l in got.decode("latin-1").split("\r\n")
            if (l.endswith(" HTTP/1.1") or l.endswith(" HTTP/1.0")) and ":" not in l.split(" ")[0]]


def main():
    upstream = Upstream()
    port = free_port()
    proxy = subprocess.Popen([sys.argv[1], "--listen", f"127.0.0.1:{port}",
                              "--upstream", f"127.0.0.1:{upstream.port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        print("| case | the sidecar (tests/it/smuggling.rs) | pingora answered | request lines the upstream got | verdict |")
        print("|---|---|---|---|---|")
        bad = 0
        for what, expect, raw in cases(f"127.0.0.1:{port}"):
            before = len(upstream.received())
            answer, closed = exchange(port, raw.encode("latin-1"))
            time.sleep(0.05)
            got = upstream.received()[before:]
            status = answer[:12].decode("latin-1").split(" ")[1] if answer.startswith(b"HTTP/") else "closed"
            lines = request_lines(got) if got else []
            if expect == "refuse":
                ok = not got
            else:
                ok = len(lines) == 1 and b"\n" not in got.replace(b"\r\n", b"")
                if "CL" in what:
                    # One answer, no length sent on, and the connection closed after.
                    ok = ok and b"content-length" not in got.lower()
                    ok = ok and answer.count(b"HTTP/1.1 ") == 1 and closed
            bad += not ok
            shown = ", ".join(f"`{l}`" for l in lines) or ("(bytes, no request line)" if got else "nothing")
            print(f"| {what} | {'400, nothing upstream' if expect == 'refuse' else 'one CRLF request upstream'} "
                  f"| {status} | {shown} | {'same' if ok else '**differs**'} |")
        print(f"\n{bad} of {len(cases('x'))} cases differ from the sidecar's behaviour")
    finally:
        proxy.terminate()
        proxy.wait()


if __name__ == "__main__":
    main()
