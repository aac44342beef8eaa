"""One id, one log line and one observation for every request; ``/metrics`` for the scraper.

WSGI middleware around the Flask app (inside the proxy fix, so the client's address is the
real one). The request id is the proxy's ``X-Request-ID`` when it is a sane one, else a new
one; every log line written while the request runs carries it, and the answer returns it.
The log line and the metrics name the route (``/i/<token>``), never the path, which can hold
a token.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, request
from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE

from . import metrics
from .logs import REQUEST_ID

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")  # a uuid, nginx's $request_id, a trace id...
METRICS_PATH = "/metrics"
NO_ROUTE = "(no route)"
ROUTE_KEY = "checker.route"  # in the WSGI environ: the route Flask matched


def note_route() -> None:
    """The first hook of every request: the matched route, for the log line and the metrics."""
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


def request_id_of(environ: WSGIEnvironment) -> str:
    """The proxy's id for this request when it is sane, else a new one."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class Telemetry:
    """The middleware: an id for the request, then its log line and its counts when it is answered."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.log_requests = app.config["LOG_FORMAT"] == "json"  # in text, the server logs each request
        self.metrics_from = app.config["METRICS_ALLOW"]  # networks, as config read them
        self.logger = logging.getLogger("checker.access")
        # Each (route, method, status)'s counter and each route's histogram, looked up once:
        # the labels come from small fixed sets, so these stay small.
        self.counters: dict[tuple[str, str, str], Any] = {}
        self.histograms: dict[str, Any] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = request_id_of(environ)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        statuses: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        try:
            if environ.get("PATH_INFO") == METRICS_PATH:
                return self.metrics(environ, start)
            return self.wsgi_app(environ, start)
        finally:
            self.observe(environ, statuses[-1] if statuses else "500", time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def observe(self, environ: WSGIEnvironment, status_line: str, seconds: float) -> None:
        route = environ.get(ROUTE_KEY) or (METRICS_PATH if environ.get("PATH_INFO") == METRICS_PATH else NO_ROUTE)
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in metrics.METHODS else "other"
        status = status_line[:3]
        key = (route, method, status)
        counter = self.counters.get(key)
        if counter is None:
            counter = self.counters[key] = metrics.REQUESTS.labels(*key)
        counter.inc()
        histogram = self.histograms.get(route)
        if histogram is None:
            histogram = self.histograms[route] = metrics.LATENCY.labels(route)
        histogram.observe(seconds)
        if self.log_requests and self.logger.isEnabledFor(logging.INFO):
            fields = {"method": method, "route": route, "status": int(status), "duration_ms": round(seconds * 1000, 1)}
            # Made directly: the logger would look for the calling line in the stack for each request.
            record = self.logger.makeRecord(
                self.logger.name,
                logging.INFO,
                __file__,
                0,
                f"{method} {route} {status}",
                (),
                None,
                extra={"fields": fields},
            )
            self.logger.handle(record)

    def metrics(self, environ: WSGIEnvironment, start: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or not metrics.allowed(
            environ.get("REMOTE_ADDR"), self.metrics_from
        ):
            start("404 NOT FOUND", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not Found\n"]
        body = metrics.exposition(self.app)
        start("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]


def init_app(app: Flask) -> None:
    """Before the security headers and the proxy fix are put around the app."""
    app.wsgi_app = Telemetry(app, app.wsgi_app)  # type: ignore[method-assign]
    app.before_request_funcs.setdefault(None, []).insert(0, note_route)
