"""gunicorn settings for production: gunicorn -c gunicorn.conf.py "checker:create_app()"

Every value can be overridden with an environment variable (names below).
"""

import multiprocessing
import os

bind = os.environ.get("CHECKER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CHECKER_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("CHECKER_THREADS", "2"))
worker_class = "gthread" if threads > 1 else "sync"
# Load the app once in the master and fork workers from it: a worker starts (or is recycled)
# in milliseconds instead of the ~2 s it takes to import the app, WeasyPrint and FHIR models,
# and the workers share those pages. Safe here: create_app opens no database connection.
preload_app = os.environ.get("CHECKER_PRELOAD", "1") != "0"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers now and then
max_requests_jitter = 500
limit_request_line = 4094
limit_request_field_size = 8190
# The reverse proxy's address; the app trusts its X-Forwarded-* headers only with CHECKER_PROXIES.
forwarded_allow_ips = os.environ.get("CHECKER_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# JSON access log: the path without its query string; link tokens are blanked by the app's log filter.
access_log_format = (
    '{"time": "%(t)s", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": %(B)s, "duration_ms": %(M)s}'
)
