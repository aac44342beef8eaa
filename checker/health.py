"""Liveness and readiness for load balancers and orchestrators.

``/healthz``: the process answers (no database work: a slow database must not get a live
worker killed). ``/readyz``: this instance can serve: the database answers, its schema is
at the migrations' head, a write that needs new space commits, and the rules are loaded; 503
with what is wrong, named by its cause (a full disk, a read-only or deleted database...).
It also says whether the email outbox is keeping up and the rate limits' storage answers.
"""

from __future__ import annotations

import os
import threading
import time
from functools import cache

from flask import Blueprint, current_app, jsonify
from flask.wrappers import Response
from sqlalchemy import Connection, delete, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from .db import MIGRATIONS, database_problem, db, schema_revision, utcnow
from .mail import overdue_notices
from .models import ReadinessProbe, SchemaCompatibility
from .rules import current_rules
from .web.limits import rate_limits
from .web.metrics import READINESS

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness: 200 while the process can answer."""
    return jsonify({"status": "ok", "rules": current_rules().version}), 200


@cache
def _revisions() -> tuple[str | None, frozenset[str]]:
    """The migrations' head and every revision this code knows: read from the files once a
    process, at the first readiness check."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return script.get_current_head(), frozenset(revision.revision for revision in script.walk_revisions())


def _schema(connection: Connection, current: str | None) -> tuple[str, str | None]:
    """The schema check, and a note when the schema is ahead of this code and marked as one it
    can run on (a rolling upgrade: the database migrated, this instance not restarted yet)."""
    head, known = _revisions()
    if current == head:
        return "ok", None
    if current is None or current in known:
        return f"at {current or 'nothing'}, needs {head}: run 'flask db upgrade'", None
    oldest = None
    if inspect(connection).has_table("schema_compatibility"):
        oldest = connection.execute(
            select(SchemaCompatibility.oldest_code).where(SchemaCompatibility.revision == current)
        ).scalar()
    if oldest in known:
        return "ok", f"at {current}, ahead of this code's {head}, marked compatible: restart on the new release"
    return f"at {current}, ahead of this code's {head}, which cannot run on it: start the new release", None


OVERDUE_LOG_EVERY = 300.0  # seconds between two log lines about an outbox not running
_overdue_logged = [-OVERDUE_LOG_EVERY]


def _outbox() -> str:
    """Told, not judged: a stuck outbox is the mail server's or the worker's trouble, and taking
    every instance out of service would not send a single notice. Logged (every 5 minutes at
    most), shown on the staff inbox, and counted in the metrics for an alert."""
    waiting = overdue_notices()
    if not waiting:
        return "ok"
    problem = f"{waiting} notices due over 15 minutes ago and not sent: is 'flask outbox run' running?"
    if time.monotonic() - _overdue_logged[0] > OVERDUE_LOG_EVERY:
        _overdue_logged[0] = time.monotonic()
        current_app.logger.warning("outbox: %s", problem)
    return problem


PROBE_BYTES = 8192  # larger than a database page: the probe needs space no small row's gap can give
MAX_AGE = 1.0  # seconds a readiness answer is reused: many probes at once cost one check
ANSWER_KEY = "checker.readiness"  # in app.extensions: (when, body, status) of the last check
_answering = threading.Lock()


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: 200 when every check passes, else 503 naming the ones that failed. One check
    at a time per process; its answer serves every probe for the next second."""
    extensions = current_app.extensions
    with _answering:
        answered = extensions.get(ANSWER_KEY)
        if answered is None or time.monotonic() - answered[0] > MAX_AGE:
            answered = extensions[ANSWER_KEY] = (time.monotonic(), *_check())
    return jsonify(answered[1]), answered[2]


def _probe_write() -> None:
    """A fresh row of random bytes larger than a page, committed, then deleted: a full disk, a
    read-only or deleted database refuses it, where rewriting a small row in place would not."""
    probe = ReadinessProbe(at=utcnow(), payload=os.urandom(PROBE_BYTES))
    db.session.add(probe)
    db.session.commit()
    db.session.execute(delete(ReadinessProbe).where(ReadinessProbe.id == probe.id))
    db.session.commit()


def _check() -> tuple[dict[str, object], int]:
    checks: dict[str, str] = {"rules": current_rules().version, "rate_limits": rate_limits().storage_state()}
    try:
        with db.engine.connect() as connection:
            checks["schema"], ahead = _schema(connection, schema_revision(connection))
        checks["database"] = "ok"
        if ahead:
            checks["schema_ahead"] = ahead
        if checks["schema"] == "ok":
            _probe_write()
            checks["write"] = "ok"
            checks["outbox"] = _outbox()
    except (DBAPIError, SQLAlchemyTimeout) as exc:
        db.session.rollback()
        problem = database_problem(exc)
        current_app.logger.warning("not ready: %s", problem)
        checks.setdefault("database", "unreachable")
        if checks["database"] == "ok":
            checks["write"] = f"refused: {problem}"
    ready = all(checks.get(name) == "ok" for name in ("database", "schema", "write"))
    READINESS.labels("ready" if ready else "not ready").inc()
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
