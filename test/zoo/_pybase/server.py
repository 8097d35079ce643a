"""The zoo's Python base: a small black-box subject (no probe, no conformance endpoints), standard library only.

It answers every GET with 200 "ok", and handles its declared signal map:
SIGTERM and SIGINT stop gracefully (listener closed, requests in flight finish, exit 0; a second SIGINT
escalates), SIGQUIT stops fast (exit 4), SIGHUP reloads the configuration file (an invalid one is
rejected), SIGPIPE is ignored (Python ignores it from the start). The stop deadline (SIGCERT_GRACE_MS) is
enforced by a timer thread that ends the process with status 3.

ZOO_BUG injects exactly one bug:
  none             the correct base
  no-term-handler  no handler for SIGTERM: it dies by the signal, with no cleanup
  hup-kills        no handler for SIGHUP: the default action ends the process
  exit-143         after a clean stop it exits 128 + the signal number (143 for SIGTERM), as a shell would
"""

import json
import os
import select
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUGS = ("none", "no-term-handler", "hup-kills", "exit-143")
BUG = os.environ.get("ZOO_BUG") or "none"
if BUG not in BUGS:
    sys.stderr.write(f"zoo pybase: unknown ZOO_BUG {BUG!r} (known: {', '.join(BUGS)})\n")
    sys.exit(1)

HOST = os.environ.get("SIGCERT_HOST", "127.0.0.1")
PORT = int(os.environ.get("SIGCERT_PORT_HTTP", "0"))
CONFIG = os.environ.get("SIGCERT_CONFIG", "config.json")
GRACE_S = int(os.environ.get("SIGCERT_GRACE_MS", "5000")) / 1000.0


def log(msg):
    sys.stderr.write(f"[zoo-py {BUG} {os.getpid()}] {msg}\n")
    sys.stderr.flush()


# --- signals: handlers only record the request and wake the main loop --------------------------------

pending = []  # actions, appended by handlers (main thread), consumed by the main loop (main thread)
wake = threading.Event()
stop_signal = None  # the signal that started the stop


def on_signal(signum, _frame):
    action = {signal.SIGTERM: "stop", signal.SIGINT: "stop", signal.SIGQUIT: "fast-stop", signal.SIGHUP: "reload"}[signum]
    pending.append((action, signum))
    wake.set()


for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
    if BUG == "no-term-handler" and sig == signal.SIGTERM:
        continue
    if BUG == "hup-kills" and sig == signal.SIGHUP:
        continue
    signal.signal(sig, on_signal)

# A signal may be delivered to any thread; Python runs its handler only in the main thread, once it runs
# bytecode again. The wakeup fd is written by the C-level handler whatever thread took the signal, so the
# main loop wakes at once. Installed with the handlers, before the listener opens.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
os.set_blocking(wake_r, False)
signal.set_wakeup_fd(wake_w)


# --- configuration -------------------------------------------------------------------------------------


def read_config():
    with open(CONFIG, encoding="utf-8") as f:
        cfg = json.load(f)
    gen = cfg.get("generation") if isinstance(cfg, dict) else None
    if not isinstance(gen, int) or isinstance(gen, bool) or gen < 1:
        raise ValueError("generation must be a positive integer")
    return cfg


config = read_config()


# --- HTTP ----------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *_args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads: in-flight requests finish
    block_on_close = True


server = Server((HOST, PORT), Handler)  # bound and listening: ready (TCP readiness)
serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
serving.start()


def deadline():
    log("stop deadline expired: exiting with status 3")
    os._exit(3)


def fast_stop():
    server.socket.close()
    os._exit(4)


# --- the main loop: every decision about the process is taken here ------------------------------------

stopping = False
drain = None  # the thread that stops accepting, closes the listener and waits for the requests in flight


def drain_and_exit_code():
    server.shutdown()  # stop accepting ...
    server.server_close()  # ... close the listener and wait for the requests in flight


while drain is None or drain.is_alive():
    if not pending:  # a signal handled before the loop started is already pending: do not wait for it
        select.select([wake_r], [], [], 1.0 if drain is None else 0.05)
    try:
        os.read(wake_r, 512)
    except BlockingIOError:
        pass
    wake.clear()
    while pending:
        action, signum = pending.pop(0)
        if action == "fast-stop" or (stopping and signum == signal.SIGINT):
            fast_stop()
        elif action == "stop" and not stopping:
            stopping = True
            stop_signal = signum
            timer = threading.Timer(GRACE_S, deadline)
            timer.daemon = True
            timer.start()
            # the drain runs beside this loop, so a signal during it (a second SIGINT) is still handled
            drain = threading.Thread(target=drain_and_exit_code, daemon=True)
            drain.start()
        elif action == "reload" and not stopping:
            try:
                config = read_config()
                log(f"reloaded generation {config['generation']}")
            except (OSError, ValueError) as e:
                log(f"reload rejected, keeping generation {config['generation']}: {e}")

code = 128 + stop_signal if BUG == "exit-143" else 0
# os._exit, not sys.exit: the interpreter's shutdown puts the default handlers back before the process is
# gone, and a SIGINT arriving in that window would kill it (a real Python pitfall)
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
