"""CherryPy 18 application for certifying CherryPy's own process bus (cherrypy.engine).

Started with cherrypy.quickstart(), which subscribes the engine's SignalHandler plugin
(cherrypy/process/plugins.py): SIGTERM -> engine.exit(), SIGHUP -> engine.restart() when daemonized,
else engine.exit(), SIGUSR1 -> engine.graceful(). SIGINT raises KeyboardInterrupt in the main thread,
which engine.block() turns into engine.exit(). Autoreload is off (it would re-exec on file changes).

Conformance endpoints (spec/subject-protocol.md section 9), within what CherryPy allows:
- /hold and /cpu stream their body (response.stream). cheroot sends the status line and headers
  together with the first non-empty body chunk (its WSGI gateway drops empty chunks), so the first
  byte of the body ("h" / "c") goes out at once with the headers and the rest after the wait; the
  complete body is byte-exact.
- /ready answers 503 as soon as the engine leaves the STARTED state (engine.state).
- /config shows the configuration loaded at start and on every engine.graceful() (SIGUSR1, the
  engine's documented "reload" channel): the 'graceful' subscriber below validates the file first
  and keeps the old configuration when it is invalid.
- the pidfile is CherryPy's PIDFile plugin ($SIGCERT_STATE_DIR/server.pid).
"""

import hashlib
import json
import os
import time

import cherrypy
from cherrypy.process import plugins, wspbus

PATTERN = b"0123456789abcdef"
CHUNK = PATTERN * 4096  # 64 KiB


def _read_generation():
    with open(os.environ["SIGCERT_CONFIG"]) as f:
        cfg = json.load(f)
    gen = cfg.get("generation") if isinstance(cfg, dict) else None
    if not isinstance(gen, int) or isinstance(gen, bool) or gen < 1:
        raise ValueError("configuration has no positive integer generation")
    return gen


class Config:
    generation = _read_generation()


def _reload_config():
    try:
        Config.generation = _read_generation()
        cherrypy.engine.log("configuration reloaded: generation %d" % Config.generation)
    except (OSError, ValueError) as e:
        cherrypy.engine.log("configuration rejected, keeping generation %d: %s" % (Config.generation, e))


def _n(value):
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


class Root:
    @cherrypy.expose
    def live(self):
        cherrypy.response.headers["Content-Type"] = "text/plain"
        return b"live\n"

    @cherrypy.expose
    def ready(self):
        cherrypy.response.headers["Content-Type"] = "text/plain"
        if cherrypy.engine.state != wspbus.states.STARTED:
            cherrypy.response.status = 503
            return b"stopping\n"
        return b"ready\n"

    @cherrypy.expose
    def hold(self, ms="0"):
        ms = _n(ms)
        body = b"held %d\n" % ms
        cherrypy.response.headers["Content-Type"] = "text/plain"
        cherrypy.response.headers["Content-Length"] = str(len(body))

        def stream():
            yield body[:1]
            time.sleep(ms / 1000)
            yield body[1:]

        return stream()

    hold._cp_config = {"response.stream": True}

    @cherrypy.expose
    def cpu(self, ms="0"):
        ms = _n(ms)
        body = b"cpu %d\n" % ms
        cherrypy.response.headers["Content-Type"] = "text/plain"
        cherrypy.response.headers["Content-Length"] = str(len(body))

        def stream():
            yield body[:1]
            end = time.monotonic() + ms / 1000
            while time.monotonic() < end:
                pass
            yield body[1:]

        return stream()

    cpu._cp_config = {"response.stream": True}

    @cherrypy.expose
    def download(self, bytes="0"):  # noqa: A002 (the protocol's parameter name)
        n = _n(bytes)
        cherrypy.response.headers["Content-Type"] = "application/octet-stream"
        cherrypy.response.headers["Content-Length"] = str(n)

        def stream():
            sent = 0
            while sent < n:
                take = min(len(CHUNK), n - sent)
                yield CHUNK[:take]
                sent += take

        return stream()

    download._cp_config = {"response.stream": True}

    @cherrypy.expose
    def upload(self):
        if cherrypy.request.method != "POST":
            raise cherrypy.HTTPError(405)
        h = hashlib.sha256()
        total = 0
        rfile = cherrypy.request.rfile  # the raw body (process_request_body is off), bounded by Content-Length
        while True:
            chunk = rfile.read(65536)
            if not chunk:
                break
            total += len(chunk)
            h.update(chunk)
        cherrypy.response.headers["Content-Type"] = "application/json"
        return json.dumps({"bytes": total, "sha256": h.hexdigest()}).encode()

    upload._cp_config = {"request.process_request_body": False}

    @cherrypy.expose
    def config(self):
        cherrypy.response.headers["Content-Type"] = "application/json"
        return json.dumps({"generation": Config.generation}).encode()

    @cherrypy.expose
    def version(self):
        cherrypy.response.headers["Content-Type"] = "application/json"
        return b'{"version": "1"}'

    @cherrypy.expose
    def fifo(self):
        with open(os.environ["SIGCERT_FIFO"], "rb") as f:
            line = f.readline().rstrip(b"\n")
        cherrypy.response.headers["Content-Type"] = "text/plain"
        return line


if __name__ == "__main__":
    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": int(os.environ["SIGCERT_PORT_HTTP"]),
            "server.thread_pool": 16,
            # the stop deadline the harness asks for, CherryPy's own setting (seconds)
            "server.shutdown_timeout": int(os.environ.get("SIGCERT_GRACE_MS", "5000")) / 1000,
            "engine.autoreload.on": False,
            "checker.on": False,
            "log.screen": True,
            "log.access_file": "",
        }
    )
    plugins.PIDFile(cherrypy.engine, os.path.join(os.environ["SIGCERT_STATE_DIR"], "server.pid")).subscribe()
    cherrypy.engine.subscribe("graceful", _reload_config)
    cherrypy.quickstart(Root(), "/")
