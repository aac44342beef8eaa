"""The database: Flask-SQLAlchemy with typed models, Alembic migrations through Flask-Migrate.

SQLite under ``instance/`` is the default; ``CHECKER_DATABASE_URL`` takes any SQLAlchemy URL
(PostgreSQL in production). Migrations run with ``flask --app checker db upgrade``, never
here.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, DateTime, MetaData, event, inspect, make_url, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from .config import PROJECT_ROOT
from .sqlite_writes import SQLITE_FILE_GONE, turn_taking

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
MIGRATIONS = PROJECT_ROOT / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time, stored as UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SQLITE_BUSY_MS = 3000


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.close()


def lock(record: Any) -> None:
    """Hold ``record``'s row for this transaction, then read it afresh: of two requests changing
    it at once (a link sent and revoked), the second waits for the first and sees what it did.

    An ``UPDATE`` that changes nothing takes the row's lock on PostgreSQL and the write lock
    on SQLite alike (SQLite starts no transaction for the reads before it).
    """
    model = type(record)
    db.session.execute(update(model).where(model.id == record.id).values(id=model.id))
    db.session.refresh(record)


def serialised(key: str) -> None:
    """Until this transaction ends, other transactions serialised on ``key`` wait for it.

    PostgreSQL: a transaction-level advisory lock. SQLite lets one writer in at a time, so the
    caller's next write, in the same transaction, serialises it there.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def database_problem(error: Exception) -> str:
    """What an operator should know about a database error, in one line: its real cause."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).lower()
    state = str(getattr(cause, "sqlstate", "") or "")
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return "the database has no tables yet: run 'flask --app checker db upgrade'"
    if state == "53100" or any(s in text for s in ("disk is full", "no space left", "could not extend file")):
        return "the database's disk is full: free space where the database keeps its files (writes are refused)"
    if SQLITE_FILE_GONE in text:
        return "the SQLite database file was deleted under the running app: restore it and restart (writes are refused)"
    if state == "25006" or "readonly database" in text or "read-only transaction" in text:
        return "the database is read-only: check its file's or server's permissions and that it is the primary"
    if state == "53300" or "too many connections" in text or "too many clients" in text:
        return "the database refuses more connections: raise its limit or lower the app's workers"
    return (
        f"the database cannot be reached ({type(cause).__name__}): check CHECKER_DATABASE_URL "
        "and that the database is running"
    )


class DatabaseCommand(click.Command):
    """A command that uses the database: a database it cannot reach, or one never upgraded, is
    one line naming the fix, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            raise click.ClickException(database_problem(exc)) from None


class DatabaseGroup(DatabaseCommand, click.Group):
    """A group of commands that use the database, as :class:`DatabaseCommand`."""


def _end_session(error: BaseException | None) -> None:
    """Close the request's session once the response is made. A database that went away after
    the request's commit (its row stored, its answer ready) must not turn that answer into a
    server error: the failure to roll back what is left is logged, and the answer stands."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        db.session.registry.clear()  # a session that could not close is dropped, not tried again
        current_app.logger.error("closing a request's database session failed: %s", database_problem(exc))


def database_url(config: Any) -> str:
    """The configured database, or SQLite in the instance folder."""
    return str(config.get("DATABASE_URL") or f"sqlite:///{PROJECT_ROOT / 'instance' / 'checker.db'}")


def init_app(app: Flask) -> None:
    url = database_url(app.config)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # Writers wait their turn, first in this process's queue, then for SQLite's lock, but not
        # for long: a lock held longer gives a clear 503 "try again" instead of holding the worker
        # (and everyone queued behind it) for half a minute.
        wait = SQLITE_BUSY_MS / 1000
        file = make_url(url).database
        path = file if file and file != ":memory:" and not file.startswith("file:") else None
        options["connect_args"] = {"timeout": wait, "factory": turn_taking(url, wait, path)}
    else:
        options["connect_args"] = {"connect_timeout": 5}
        if app.config["DATABASE_TRANSACTION_POOLER"]:
            # Behind PgBouncer in transaction mode each transaction may run on another server
            # connection: psycopg must not prepare statements, which live on one of them.
            options["connect_args"]["prepare_threshold"] = None
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    db.init_app(app)
    app.teardown_appcontext(_end_session)  # runs before Flask-SQLAlchemy's own (teardowns run last first)
    if url.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)


def schema_revision(connection: Connection) -> str | None:
    """The database's Alembic revision (its one-row table), or None before the first migration."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision: str | None = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return revision


def register_migrations(app: Flask) -> None:
    """Flask-Migrate and its ``flask db`` commands, for a command line (and tests) only: a web
    process never migrates, and Alembic takes a quarter of a second to import."""
    from flask_migrate import Migrate

    Migrate(directory=str(MIGRATIONS), render_as_batch=True).init_app(app, db)
    migrations = app.cli.commands.get("db")  # Flask-Migrate's group (db upgrade ...), explaining as ours do
    if isinstance(migrations, click.Group):
        app.cli.add_command(
            DatabaseGroup(
                "db", migrations.commands, callback=migrations.callback, params=migrations.params, help=migrations.help
            )
        )


def like_pattern(text: str, start: str = "%", end: str = "%") -> str:
    """``text`` for a LIKE with ``escape="\\"``: its own %, _ and \\ match themselves."""
    return start + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + end
