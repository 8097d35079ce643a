"""gunicorn's own configuration file, re-read by the master on SIGHUP (docs/signals: "HUP: Reload the
configuration, start the new worker processes with a new configuration and gracefully shutdown older
workers").

It carries the harness's configuration (subject-protocol.md section 6): it reads $SIGCERT_CONFIG and
hands the generation to the workers through gunicorn's `raw_env`, so GET /config shows the
configuration gunicorn itself loaded. A configuration file that is not valid JSON, or has no positive
integer `generation`, makes this file raise, exactly like a broken gunicorn.conf.py would.
"""

import json
import os

with open(os.environ["SIGCERT_CONFIG"]) as _f:
    _cfg = json.load(_f)
_generation = _cfg.get("generation") if isinstance(_cfg, dict) else None
if not isinstance(_generation, int) or isinstance(_generation, bool) or _generation < 1:
    raise ValueError("configuration has no positive integer generation")

bind = "127.0.0.1:" + os.environ["SIGCERT_PORT_HTTP"]
wsgi_app = "app:app"
chdir = os.path.dirname(os.path.abspath(__file__))
# gthread: keep-alive capable workers (the default sync worker closes every connection after one
# response, which would leave the keep-alive requirements untested)
worker_class = "gthread"
workers = 2
threads = 8
keepalive = 5
# the stop deadline the harness asks for (SIGCERT_GRACE_MS), in gunicorn's whole seconds
graceful_timeout = max(1, -(-int(os.environ.get("SIGCERT_GRACE_MS", "5000")) // 1000))
pidfile = os.path.join(os.environ["SIGCERT_STATE_DIR"], "server.pid")
raw_env = ["SIGCERT_GENERATION=%d" % _generation]
errorlog = "-"
loglevel = "info"
