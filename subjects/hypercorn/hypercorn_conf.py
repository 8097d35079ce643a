"""Hypercorn configuration for sigcert (loaded with --config file:...): loopback bind on the harness's
port, the stop deadline (graceful_timeout, seconds) from SIGCERT_GRACE_MS, the pidfile in the state
directory, errors to stderr, no access log. The application is the ASGI app of subjects/uvicorn
(asgiapp.py: the conformance endpoints and the lifespan protocol), named on the command line.
"""

import os

bind = ["127.0.0.1:" + os.environ["SIGCERT_PORT_HTTP"]]
graceful_timeout = int(os.environ.get("SIGCERT_GRACE_MS", "5000")) / 1000
pid_path = os.path.join(os.environ["SIGCERT_STATE_DIR"], "server.pid")
errorlog = "-"
accesslog = None
# idle keep-alive connections stay open this long (the default, 5 s, would close them before the harness stops the server)
keep_alive_timeout = 30
workers = 1
worker_class = "asyncio"
