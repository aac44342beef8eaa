"""gunicorn settings for production: gunicorn -c gunicorn.conf.py "checker:create_app()"

Every value can be overridden with an environment variable (names below).
"""

import gc
import multiprocessing
import os
import sys


def whole_number(name: str, default: int, smallest: int, largest: int) -> int:
    """The whole number in CHECKER_<name>, else ``default``; one line naming the variable if it is not one."""
    text = os.environ.get(f"CHECKER_{name}", str(default)).strip()
    if not text.isdigit() or not smallest <= int(text) <= largest:
        sys.exit(f"CHECKER_{name} must be a whole number from {smallest} to {largest}, not {text!r}")
    return int(text)


bind = os.environ.get("CHECKER_BIND", "127.0.0.1:8000")
workers = whole_number("WORKERS", multiprocessing.cpu_count() * 2 + 1, 1, 256)
# Four threads a worker: gunicorn hands a worker new connections even while its threads are busy,
# so with one thread a request waiting on a PDF child process or the database would hold up every
# request queued behind it (/healthz included). The app's own work is CPU-bound and its threads
# take turns on one interpreter lock, so more threads add little beyond that.
threads = whole_number("THREADS", 4, 1, 64)


def refuse_rate_limits_per_worker() -> None:
    """In production, limits kept in memory with several workers would count per worker: with
    5 workers a limit of 10 sign-in attempts lets 50 through. Refuse to start, naming the fix."""
    production = os.environ.get("CHECKER_ENV") == "production"
    storage = os.environ.get("CHECKER_RATELIMIT_STORAGE_URI", "memory://").lower()  # MEMORY:// too
    limits_on = os.environ.get("CHECKER_RATELIMIT_ENABLED", "true").lower() not in ("false", "no", "0")
    if production and limits_on and workers > 1 and storage.startswith("memory://"):
        sys.exit(
            f"CHECKER_RATELIMIT_STORAGE_URI must point at Redis (for example redis://127.0.0.1:6379/0) with "
            f"{workers} workers: kept in memory, every worker would count the limits on its own"
        )


refuse_rate_limits_per_worker()
worker_class = "gthread"  # keeps connections alive, also with one thread
# Load the app once in the master and fork workers from it: a worker starts (or is recycled)
# in milliseconds instead of the ~2 s it takes to import the app, WeasyPrint and FHIR models,
# and the workers share those pages. Safe here: create_app opens no database connection.
preload_app = os.environ.get("CHECKER_PRELOAD", "1") != "0"


def when_ready(server):  # type: ignore[no-untyped-def]
    """Compile every template once in the master, so that no worker compiles them on its first requests."""
    if preload_app:
        app = server.app.wsgi()
        for name in app.jinja_env.list_templates():
            app.jinja_env.get_template(name)


def pre_fork(server, worker):  # type: ignore[no-untyped-def]
    """Hide everything loaded so far from the garbage collector, as Python advises for fork.

    Workers then stop rescanning the loaded app's ~150,000 objects on every full collection,
    and stop writing to the memory pages they share with the master.
    """
    gc.freeze()


timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycling a worker closes the keep-alive connections it holds, and a client or proxy does not
# resend a POST on a closed connection: off by default (0); set it only to contain a leak.
max_requests = whole_number("MAX_REQUESTS", 0, 0, 10_000_000)
max_requests_jitter = max_requests // 10
limit_request_line = 4094
limit_request_field_size = 8190
# The reverse proxy's address; the app trusts its X-Forwarded-* headers only with CHECKER_PROXIES.
forwarded_allow_ips = os.environ.get("CHECKER_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket has one path per user: a second instance on the machine would take
# over the first one's. Nothing here uses it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# JSON access log: the path without its query string; link tokens are blanked by the app's log filter.
access_log_format = (
    '{"time": "%(t)s", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": %(B)s, "duration_ms": %(M)s}'
)


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    """Start the worker's PDF renderer now (a forkserver with WeasyPrint loaded, about 70 MB),
    so that no request waits for it to start and a request's PDF starts in milliseconds."""
    from checker.exports.reports import start_renderer

    start_renderer()
