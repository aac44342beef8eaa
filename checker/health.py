"""Liveness and readiness for load balancers and orchestrators.

``/healthz``: the process answers (no database work: a slow database must not get a live
worker killed). ``/readyz``: this instance can serve: the database answers, its schema is
at the migrations' head, a write commits, and the rules are loaded; 503 with what is wrong.
It also says whether the email outbox is keeping up and the rate limits' storage answers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from flask.wrappers import Response
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from .db import db, migrate, utcnow
from .models import OutboxMessage, ReadinessProbe
from .rules import current_rules
from .web.limits import rate_limits

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness: 200 while the process can answer."""
    return jsonify({"status": "ok", "rules": current_rules().version}), 200


def _head() -> str | None:
    script = ScriptDirectory(str(migrate.directory))
    return script.get_current_head()


def _sqlite_file_missing() -> bool:
    """A SQLite file deleted under a running app still takes writes, into nothing."""
    url = db.engine.url
    return url.get_backend_name() == "sqlite" and bool(url.database) and not Path(str(url.database)).exists()


def _outbox() -> str:
    """Told, not judged: a stuck outbox is the mail server's or the worker's trouble, and taking
    every instance out of service would not send a single notice."""
    stale = utcnow() - timedelta(minutes=15)
    waiting = db.session.scalar(
        select(func.count()).where(OutboxMessage.sent_at.is_(None), OutboxMessage.created_at < stale)
    )
    return f"{waiting} notices waiting over 15 minutes: is 'flask outbox run' running?" if waiting else "ok"


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: 200 when every check passes, else 503 naming the ones that failed."""
    checks: dict[str, str] = {"rules": current_rules().version, "rate_limits": rate_limits().storage_state()}
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        head = _head()
        checks["schema"] = (
            "ok" if current == head else f"at {current or 'nothing'}, needs {head}: run 'flask db upgrade'"
        )
        if _sqlite_file_missing():
            checks["write"] = "the SQLite file is gone: writes would be lost"
        elif current == head:
            if not db.session.execute(
                update(ReadinessProbe).where(ReadinessProbe.id == 1).values(at=utcnow())
            ).rowcount:  # type: ignore[attr-defined]
                db.session.add(ReadinessProbe(id=1, at=utcnow()))
            db.session.commit()
            checks["write"] = "ok"
            checks["outbox"] = _outbox()
        checks["database"] = "ok"
    except (DBAPIError, SQLAlchemyTimeout) as exc:
        db.session.rollback()
        current_app.logger.warning("not ready: %s", type(exc).__name__)
        checks.setdefault("database", "ok" if "schema" in checks else "unreachable")
        checks.setdefault("write", "refused")
    ready = all(checks.get(name) == "ok" for name in ("database", "schema", "write"))
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503
