"""WSGI app for certifying gunicorn: the conformance endpoints of spec/subject-protocol.md section 9
that a WSGI application can implement.

gunicorn sends the status line and headers on the first body write, even an empty one, so /hold
and /cpu yield b"" first: the headers leave at once and the body follows after the wait.

/ready cannot fail during a stop: gunicorn tells the application nothing about a stop in progress
(the worker's SIGTERM handler only flips an internal flag). No applicable case reads /ready (the
pre-drain case needs the preDrainDelay capability, which gunicorn does not have).
"""

import hashlib
import json
import os
import time

PATTERN = b"0123456789abcdef"
CHUNK = PATTERN * 4096  # 64 KiB, starts at offset 0 of the pattern


def _int(qs, name, default=0):
    for part in qs.split("&"):
        k, _, v = part.partition("=")
        if k == name:
            try:
                return max(0, int(v))
            except ValueError:
                return default
    return default


def _plain(start_response, status, body, ctype="text/plain"):
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def _json(start_response, obj):
    return _plain(start_response, "200 OK", json.dumps(obj).encode() + b"\n", "application/json")


def _hold(ms, body):
    yield b""  # gunicorn writes the headers now
    time.sleep(ms / 1000)
    yield body


def _cpu(ms, body):
    yield b""
    end = time.monotonic() + ms / 1000
    n = 0
    while time.monotonic() < end:
        n += 1
    yield body


def _download(n):
    sent = 0
    while sent < n:
        take = min(len(CHUNK), n - sent)
        yield CHUNK[:take]
        sent += take


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    qs = environ.get("QUERY_STRING", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/live":
        return _plain(start_response, "200 OK", b"live\n")
    if path == "/ready":
        return _plain(start_response, "200 OK", b"ready\n")
    if path == "/hold":
        ms = _int(qs, "ms")
        body = b"held %d\n" % ms
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return _hold(ms, body)
    if path == "/cpu":
        ms = _int(qs, "ms")
        body = b"cpu %d\n" % ms
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return _cpu(ms, body)
    if path == "/download":
        n = _int(qs, "bytes")
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return _download(n)
    if path == "/upload" and method == "POST":
        h = hashlib.sha256()
        total = 0
        stream = environ["wsgi.input"]
        while True:
            chunk = stream.read(65536)
            if not chunk:
                break
            total += len(chunk)
            h.update(chunk)
        return _json(start_response, {"bytes": total, "sha256": h.hexdigest()})
    if path == "/config":
        # the generation gunicorn's own configuration file loaded (gunicorn.conf.py, raw_env)
        return _json(start_response, {"generation": int(os.environ.get("SIGCERT_GENERATION", "0"))})
    if path == "/version":
        return _json(start_response, {"version": "1"})
    if path == "/fifo":
        with open(os.environ["SIGCERT_FIFO"], "rb") as f:
            line = f.readline().rstrip(b"\n")
        return _plain(start_response, "200 OK", line)
    return _plain(start_response, "404 Not Found", b"not found\n")
