"""Prometheus metrics, served at ``/metrics`` to the addresses in ``CHECKER_METRICS_ALLOW`` only.

Counters live in the process that counts (``prometheus_client``). Under gunicorn each worker
writes its own into a folder (``PROMETHEUS_MULTIPROC_DIR``, which gunicorn.conf.py makes), and
a scrape of any worker adds them all up. What the database knows (the outbox: messages
waiting, failing, and the age of the oldest unsent one) is read at each scrape, so every
instance reports the same figures, whichever process sends the email.

Labels come from small fixed sets (routes, not paths; known methods), so no visitor can make
a series of their own.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator

from flask import Flask
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..config import Network

disable_created_metrics()  # type: ignore[no-untyped-call]  # a "_created" series beside every counter only doubles the page

REQUESTS = Counter(
    "checker_http_requests", "Requests answered, by route, method and status.", ["route", "method", "status"]
)
LATENCY = Histogram(
    "checker_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RESULTS = Counter(
    "checker_results", "Self-check results shown or returned, by channel, outcome and triage.",
    ["channel", "outcome", "triage"],
)  # fmt: skip
PDFS = Counter("checker_pdfs", "PDF summaries asked for, by what happened.", ["result"])
RATE_LIMITED = Counter("checker_rate_limited", "Requests refused by a rate limit, by the limit's setting.", ["limit"])
READINESS = Counter(
    "checker_readiness_checks", "Readiness checks run (not probes answered from the last one).", ["status"]
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_result(channel: str, outcome: str | None, triage: str) -> None:
    RESULTS.labels(channel, outcome or "none", triage).inc()


def allowed(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether ``address`` is in one of ``networks`` (CHECKER_METRICS_ALLOW, as config reads it)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


class OutboxCollector(Collector):
    """The outbox's state as the database has it, read at each scrape."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        from sqlalchemy import case, func, select
        from sqlalchemy.exc import SQLAlchemyError

        from ..db import database_problem, db, utcnow
        from ..mail import overdue_notices
        from ..models import OutboxMessage

        unsent = OutboxMessage.sent_at.is_(None)
        state = case((OutboxMessage.sent_at.is_not(None), "sent"), (OutboxMessage.attempts > 0, "failing"),
                     else_="waiting")  # fmt: skip
        with self.app.app_context():
            try:
                by_state = db.session.execute(select(state, func.count()).group_by(state))
                counts: dict[str, int] = {name: number for name, number in by_state}
                oldest = db.session.scalar(select(func.min(OutboxMessage.created_at)).where(unsent))
                overdue = overdue_notices()
            except SQLAlchemyError as exc:  # the counters are still worth a scrape
                self.app.logger.warning("metrics: the outbox cannot be read: %s", database_problem(exc))
                return
            finally:
                db.session.remove()
        messages = GaugeMetricFamily(
            "checker_outbox_messages", "Email messages in the outbox, by state (failing: tried and not yet sent).",
            labels=["state"],
        )  # fmt: skip
        for name in ("waiting", "failing", "sent"):
            messages.add_metric([name], counts.get(name, 0))
        yield messages
        yield GaugeMetricFamily(
            "checker_outbox_overdue_messages",
            "Messages due over 15 minutes ago and not tried again: is 'flask outbox run' running?",
            value=overdue,
        )
        age = (utcnow() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "checker_outbox_oldest_unsent_seconds", "Age of the oldest message not yet sent (0 when none).", value=age
        )


def exposition(app: Flask) -> bytes:
    """The metrics page: every process's counters (one folder under gunicorn) and the outbox's state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)  # type: ignore[no-untyped-call]
    else:
        counters = REGISTRY  # one process: its own counters
    outbox = CollectorRegistry()
    outbox.register(OutboxCollector(app))
    return generate_latest(counters) + generate_latest(outbox)
