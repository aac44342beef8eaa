"""gunicorn settings for production: gunicorn -c gunicorn.conf.py "checker:create_app()"

Every value can be overridden with an environment variable (names below).
"""

import gc
import os
import shutil
import sys
import tempfile

from checker.settings import server_default


def whole_number(name: str, default: int, smallest: int, largest: int) -> int:
    """The whole number in CHECKER_<name>, else ``default``; one line naming the variable if it is not one."""
    text = os.environ.get(f"CHECKER_{name}", str(default)).strip()
    if not text.isdigit() or not smallest <= int(text) <= largest:
        sys.exit(f"CHECKER_{name} must be a whole number from {smallest} to {largest}, not {text!r}")
    return int(text)


bind = os.environ.get("CHECKER_BIND", server_default("BIND"))
workers = whole_number("WORKERS", server_default("WORKERS"), 1, 256)
# Four threads a worker: gunicorn hands a worker new connections even while its threads are busy,
# so with one thread a request waiting on a PDF child process or the database would hold up every
# request queued behind it (/healthz included). The app's own work is CPU-bound and its threads
# take turns on one interpreter lock, so more threads add little beyond that.
threads = whole_number("THREADS", server_default("THREADS"), 1, 64)


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
# in milliseconds instead of the half second it takes to import the app, and the workers
# share those pages. Safe here: create_app opens no database connection.
preload_app = os.environ.get("CHECKER_PRELOAD", server_default("PRELOAD")) != "0"


def when_ready(server):  # type: ignore[no-untyped-def]
    """Compile every template once in the master, so that no worker compiles them on its first
    requests, and start the instance's PDF server."""
    if preload_app:
        app = server.app.wsgi()
        for name in app.jinja_env.list_templates():
            app.jinja_env.get_template(name)
        # One PDF server for the instance, warm before the first request: the workers forked
        # from here use it (without preloading, each worker starts its own at its first PDF).
        from checker.exports.reports import start_renderer

        try:
            start_renderer()
        except RuntimeError as exc:  # the site runs; PDFs answer 503 until the next start
            server.log.error("%s", exc)


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
max_requests = whole_number("MAX_REQUESTS", server_default("MAX_REQUESTS"), 0, 10_000_000)
max_requests_jitter = max_requests // 10
limit_request_line = 4094
limit_request_field_size = 8190
# The reverse proxy's address; the app trusts its X-Forwarded-* headers only with CHECKER_PROXIES.
forwarded_allow_ips = os.environ.get("CHECKER_FORWARDED_ALLOW_IPS", server_default("FORWARDED_ALLOW_IPS"))
# gunicorn's control socket has one path per user: a second instance on the machine would take
# over the first one's. Nothing here uses it.
control_socket_disable = True
errorlog = "-"
if os.environ.get("CHECKER_LOG_FORMAT") == "json":
    # One stream: gunicorn's own lines go through the app's JSON handler on the root logger, and
    # the app writes each request's line itself (with its id and route), so gunicorn writes none.
    accesslog = None
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": ["app"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "handlers": {"app": {"class": "checker.web.logs.AppHandler", "formatter": "json", "filters": ["tokens"]}},
        "formatters": {"json": {"()": "checker.web.logs.JsonFormatter"}},
        "filters": {"tokens": {"()": "checker.web.logs.TokenFilter"}},
    }
else:
    accesslog = "-"
    # The path without its query string; link tokens are blanked by the app's log filter.
    access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

# Metrics: each worker counts into this folder (prometheus_client's multiprocess mode), made
# empty at each start; a scrape of any worker adds every worker's counts up.
# (An operator's own folder, PROMETHEUS_MULTIPROC_DIR, must be emptied before each start.)
metrics_folder = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else tempfile.mkdtemp(prefix="checker-metrics-")
if metrics_folder:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_folder


def on_exit(server):  # type: ignore[no-untyped-def]
    if metrics_folder:
        shutil.rmtree(metrics_folder, ignore_errors=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker that stops takes its live figures with it (its counts stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
