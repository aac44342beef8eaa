"""``flask --app checker backup PATH`` and ``restore PATH``: the database, whole and consistent.

SQLite is copied with its online backup API (one read snapshot: writers go on, and the copy
is the database as of one moment); PostgreSQL with ``pg_dump`` (one snapshot too) in its
custom format, restored with ``pg_restore`` in a single transaction. A backup is written
beside PATH and renamed into place when it is whole, so PATH is never a half-written file;
a restore goes into an empty database only, all or nothing.

What a backup does not hold: the secret key (``CHECKER_SECRET_KEY``, or ``instance/secret_key``
in development), which emailed links and sessions are made from. Keep it with the backups,
apart from them.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess  # nosec B404  # pg_dump and pg_restore, with argument lists, never a shell
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from .db import database_problem, database_url, db, schema_revision

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"


class BackupError(click.ClickException):
    """A backup or restore that cannot be done, in one line for the operator."""


def _pg_tool(name: str) -> str:
    """The newest installed pg_dump or pg_restore (it must be at least the server's version)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major_version) or [shutil.which(name) or ""]
    if not found[-1]:
        raise BackupError(f"{name} was not found: install the PostgreSQL client (Debian: postgresql-client)")
    return found[-1]


def _major_version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump reads it, and the environment carrying its password (never an argument,
    which other users of the machine could read)."""
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{what} failed: {detail}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is nothing to back up")
    return Path(url.database)


def _copy_sqlite(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` with SQLite's backup API, as of one moment."""
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        writing = sqlite3.connect(target)
        try:
            reading.backup(writing)
        finally:
            writing.close()
    finally:
        reading.close()


def _whole_sqlite(path: Path) -> str:
    """Why ``path`` is not a whole SQLite database, or ""."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return "it is not a SQLite database"
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = connection.execute("PRAGMA integrity_check").fetchone()
        finally:
            connection.close()
    except (OSError, sqlite3.DatabaseError) as exc:
        return f"it cannot be read ({exc})"
    return "" if found and found[0] == "ok" else "it is damaged (integrity check failed)"


def _has_tables(path: Path) -> bool:
    connection = sqlite3.connect(path)
    try:
        return bool(connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    finally:
        connection.close()


def backup(url: URL, path: Path) -> None:
    """Write a backup of the database at ``url`` to ``path`` (which must not exist yet)."""
    if path.exists():
        raise BackupError(f"{path} exists already: choose a new name (a backup never overwrites one)")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            source = _sqlite_path(url)
            if not source.exists():
                raise BackupError(f"there is no database at {source}")
            _copy_sqlite(source, partial)
        elif url.get_backend_name() == "postgresql":
            target, env = _libpq(url)
            command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"]
            _run([*command, f"--dbname={target}"], env, "pg_dump")
        else:
            raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        partial.rename(path)
    except OSError as exc:
        raise BackupError(f"the backup could not be written to {path}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def restore(url: URL, path: Path, tables: list[str]) -> None:
    """Restore the backup at ``path`` into the empty database at ``url`` (holding ``tables``)."""
    if not path.is_file():
        raise BackupError(f"there is no backup at {path}")
    if tables:
        raise BackupError(
            f"the database is not empty ({len(tables)} tables): restore into a new, empty database, "
            "then point CHECKER_DATABASE_URL at it"
        )
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if url.get_backend_name() == "sqlite":
        if header.startswith(PG_DUMP_HEADER):
            raise BackupError(f"{path} is a PostgreSQL backup: restore it into a PostgreSQL database")
        problem = _whole_sqlite(path)
        if problem:
            raise BackupError(f"{path} cannot be restored: {problem}")
        target = _sqlite_path(url)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            _copy_sqlite(path, partial)
            if target.exists() and _has_tables(target):  # written meanwhile by someone else
                raise BackupError(f"{target} was written to during the restore: nothing was changed")
            partial.replace(target)
            for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                stale.unlink(missing_ok=True)  # the empty database's, which would be read as the new one's
        finally:
            partial.unlink(missing_ok=True)
    elif url.get_backend_name() == "postgresql":
        if not header.startswith(PG_DUMP_HEADER):
            raise BackupError(f"{path} is not a PostgreSQL backup made by 'flask backup' (pg_dump's custom format)")
        target_url, env = _libpq(url)
        command = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        _run([*command, f"--dbname={target_url}", str(path)], env, "pg_restore")
    else:
        raise BackupError(f"restores into {url.get_backend_name()} databases are not supported")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Back up the database to PATH (a new file), consistent as of one moment, while the app runs."""
    backup(make_url(database_url(current_app.config)), path)
    click.echo(f"Backed up to {path} ({path.stat().st_size} bytes).")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path) -> None:
    """Restore the backup at PATH into the configured database, which must be empty."""
    url = make_url(database_url(current_app.config))
    try:
        tables = [name for name in inspect(db.engine).get_table_names() if name != "sqlite_sequence"]
    except SQLAlchemyError as exc:
        raise BackupError(f"the database cannot be reached: {database_problem(exc)}") from None
    finally:
        db.engine.dispose()
    restore(url, path, tables)
    with db.engine.connect() as connection:
        revision = schema_revision(connection)
    db.engine.dispose()
    click.echo(f"Restored {path}: the schema is at {revision}. Run 'flask --app checker db upgrade' if it is behind.")
