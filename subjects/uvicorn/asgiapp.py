"""ASGI app for certifying uvicorn: the conformance endpoints of spec/subject-protocol.md section 9
that an ASGI application can implement.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`, so
/hold and /cpu flush their headers first and send the body after the wait.

/ready cannot fail during a stop: uvicorn 0.17 tells the application about a stop only through the
lifespan `shutdown` event, which comes after the drain. No applicable case reads /ready (the
pre-drain case needs the preDrainDelay capability, which uvicorn does not have).

The configuration ($SIGCERT_CONFIG) is read once at start: uvicorn has no reload signal.
"""

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from urllib.parse import parse_qs

PATTERN = b"0123456789abcdef"
CHUNK = PATTERN * 4096  # 64 KiB


def _load_generation():
    try:
        with open(os.environ["SIGCERT_CONFIG"]) as f:
            return int(json.load(f)["generation"])
    except (KeyError, OSError, ValueError, TypeError):
        return 0


GENERATION = _load_generation()


def _int(query, name):
    try:
        return max(0, int(query.get(name, ["0"])[0]))
    except ValueError:
        return 0


async def _start(send, status, ctype, length):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(length).encode())],
        }
    )


async def _flush_headers(send):
    """An empty body chunk: uvicorn writes the headers at http.response.start already, Hypercorn
    (subjects/hypercorn serves this app too) only with the first body chunk; the protocol's /hold and
    /cpu must have their status and headers on the wire before the wait."""
    await send({"type": "http.response.body", "body": b"", "more_body": True})


async def _respond(send, status, body, ctype=b"text/plain"):
    await _start(send, status, ctype, len(body))
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive):
    h = hashlib.sha256()
    total = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunk = msg.get("body", b"")
        total += len(chunk)
        h.update(chunk)
        if not msg.get("more_body", False):
            break
    return total, h.hexdigest()


def _startup_delay_ms():
    try:
        return max(0, int(os.environ.get("SIGCERT_STARTUP_DELAY_MS", "0")))
    except ValueError:
        return 0


async def _lifespan(receive, send):
    """The ASGI lifespan protocol: startup, then shutdown after the server's drain.

    With SIGCERT_STARTUP_DELAY_MS > 0 (capability slowStartup) the startup is a slow initialisation
    that acquires a resource its shutdown releases, as an application's startup opens a pool or starts
    a helper: it starts a helper process, then takes the delay. The lifespan shutdown stops the helper.
    A server that skips the lifespan shutdown therefore leaves the helper running, which the harness
    sees from outside (startup.stop-while-starting-black-box, E02). uvicorn installs its signal
    handlers before the lifespan startup, so the delay is "after the handlers, before the bind".
    """
    helper = None
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            delay = _startup_delay_ms()
            if delay > 0:
                helper = subprocess.Popen(
                    [sys.executable, "-c", "import signal; signal.pause()"], stdin=subprocess.DEVNULL
                )
                await asyncio.sleep(delay / 1000)
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            if helper is not None:
                helper.terminate()
                await asyncio.get_running_loop().run_in_executor(None, helper.wait)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    query = parse_qs(scope.get("query_string", b"").decode())
    if path == "/live":
        await _respond(send, 200, b"live\n")
    elif path == "/ready":
        await _respond(send, 200, b"ready\n")
    elif path == "/hold":
        ms = _int(query, "ms")
        body = b"held %d\n" % ms
        await _start(send, 200, b"text/plain", len(body))
        await _flush_headers(send)
        await asyncio.sleep(ms / 1000)
        await send({"type": "http.response.body", "body": body})
    elif path == "/cpu":
        ms = _int(query, "ms")
        body = b"cpu %d\n" % ms
        await _start(send, 200, b"text/plain", len(body))
        await _flush_headers(send)
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:  # CPU work on the event loop, as a careless handler would do
            pass
        await send({"type": "http.response.body", "body": body})
    elif path == "/download":
        n = _int(query, "bytes")
        await _start(send, 200, b"application/octet-stream", n)
        sent = 0
        while sent < n:
            take = min(len(CHUNK), n - sent)
            sent += take
            await send({"type": "http.response.body", "body": CHUNK[:take], "more_body": sent < n})
        if n == 0:
            await send({"type": "http.response.body", "body": b""})
    elif path == "/upload" and scope["method"] == "POST":
        total, digest = await _read_body(receive)
        await _respond(send, 200, json.dumps({"bytes": total, "sha256": digest}).encode(), b"application/json")
    elif path == "/config":
        await _respond(send, 200, json.dumps({"generation": GENERATION}).encode(), b"application/json")
    elif path == "/version":
        await _respond(send, 200, b'{"version": "1"}', b"application/json")
    else:
        await _respond(send, 404, b"not found\n")
