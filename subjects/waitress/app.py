"""A WSGI application served by waitress 2.1 the way its documentation shows
(https://docs.pylonsproject.org/projects/waitress/en/stable/usage.html): `waitress.serve(app, host=...,
port=...)` in the foreground, every other setting at its default (4 threads). Waitress installs no
signal handler: Python's own handling applies (SIGINT raises KeyboardInterrupt, which
waitress.server's run() catches to shut its task threads down; every other signal keeps its default
action).

Endpoints: GET /live (200) and GET /hold?ms=N. Waitress sends the status line and headers with the
first non-empty body chunk (PEP 3333; waitress.task skips empty chunks), so /hold yields the first
byte of its body at once, with the headers, and the rest after N ms: the body `held N\\n` is
byte-exact (spec/subject-protocol.md section 9).
"""

import os
import time

from waitress import serve


def _ms(qs):
    for part in qs.split("&"):
        k, _, v = part.partition("=")
        if k == "ms":
            try:
                return max(0, int(v))
            except ValueError:
                return 0
    return 0


def _hold(ms, body):
    yield body[:1]
    time.sleep(ms / 1000)
    yield body[1:]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/live":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"live\n"]
    if path == "/hold":
        ms = _ms(environ.get("QUERY_STRING", ""))
        body = b"held %d\n" % ms
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return _hold(ms, body)
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]


if __name__ == "__main__":
    serve(app, host=os.environ.get("SIGCERT_HOST", "127.0.0.1"), port=int(os.environ["SIGCERT_PORT_HTTP"]))
