"""A stand-in "legacy app" for docker/docker-compose.yml: it knows nothing about
sign-in and trusts the identity headers the sidecar sets. Standard library
only, so it runs on the stock python image.

It listens on 0.0.0.0:8000 inside its container, but that container sits only
on compose's internal `backend` network with no published port: the sidecar
is the only thing that can reach it.
"""

import html
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

SHOWN = [
    "X-User-Email",
    "X-User-Name",
    "X-User-Username",
    "X-User-Sub",
    "X-User-Groups",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
]


def groups(raw):
    """Split on ',' first, then decode each part (a ',' inside a name is %2C)."""
    return [unquote(g) for g in raw.split(",")] if raw else []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, "text/plain", "ok\n")
        rows = "".join(
            "<tr><th>{}</th><td><code>{}</code></td><td>{}</td></tr>".format(
                html.escape(name),
                html.escape(self.headers.get(name, "(not set)")),
                html.escape(unquote(self.headers.get(name, ""))),
            )
            for name in SHOWN
        )
        who = unquote(self.headers.get("X-User-Name", "")) or "nobody"
        page = (
            '<!doctype html><meta charset="utf-8"><title>Legacy app</title>'
            f"<h1>Hello, {html.escape(who)}</h1>"
            f"<p>Groups: {html.escape(', '.join(groups(self.headers.get('X-User-Groups', ''))))}</p>"
            f"<table>{rows}</table>"
            '<form method="post" action="/oauth2/sign_out"><button>Sign out</button></form>'
        )
        self.reply(200, "text/html; charset=utf-8", page)

    def reply(self, status, content_type, text):
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
