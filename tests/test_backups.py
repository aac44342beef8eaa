"""``flask backup`` and ``flask restore``: taken while the app writes, restored whole, nothing lost.

Writers commit pairs of rows (two audit events in one transaction) for the whole backup. The
restored database holds every pair committed before the backup started, and each pair whole
or not at all: the backup is one moment of the database, never a mix.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from checker import create_app
from checker.db import db
from checker.health import _revisions
from checker.models import AuditEvent

from .conftest import TEST_CONFIG
from .databases import PostgresServer


def app_on(url: str, tmp_path: Path) -> Flask:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    app.instance_path = str(tmp_path)
    return app


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


class PairWriter:
    """Commits two audit rows per transaction, as fast as it can, until stopped."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.committed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with self.app.app_context():
            while not self.stop.is_set():
                number = self.committed + 1
                db.session.add_all([AuditEvent(action="pair a", target=str(number)),
                                    AuditEvent(action="pair b", target=str(number))])  # fmt: skip
                db.session.commit()
                self.committed = number
            db.session.remove()


@pytest.fixture
def writing(database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, PairWriter]]:
    app = app_on(database_url, tmp_path)
    with app.app_context():
        upgrade()
    writer = PairWriter(app)
    writer.thread.start()
    yield app, writer
    writer.stop.set()
    writer.thread.join(timeout=30)
    with app.app_context():
        db.engine.dispose()


def empty_database(database_url: str, tmp_path: Path, postgres: PostgresServer | None) -> str:
    return postgres.new_database() if postgres else f"sqlite:///{tmp_path / 'restored.db'}"


def test_a_backup_under_write_load_restores_every_row_into_an_empty_database(
    writing: tuple[Flask, PairWriter], database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    app, writer = writing
    while writer.committed < 20:  # the writer is well under way
        threading.Event().wait(0.01)
    before = writer.committed
    made = invoke(app, "backup", str(tmp_path / "checker.backup"))
    during = writer.committed
    assert made.exit_code == 0, made.output
    assert f"Backed up to {tmp_path / 'checker.backup'}" in made.output
    assert during > before, "the writer kept writing during the backup"

    postgres = request.getfixturevalue("postgres") if database_url.startswith("postgresql") else None
    target = app_on(empty_database(database_url, tmp_path, postgres), tmp_path)
    restored = invoke(target, "restore", str(tmp_path / "checker.backup"))
    assert restored.exit_code == 0, restored.output
    assert f"the schema is at {_revisions()[0]}" in restored.output
    with target.app_context():
        pairs: dict[str, set[str]] = {}
        for action, number in db.session.execute(select(AuditEvent.action, AuditEvent.target)):
            if action.startswith("pair "):
                pairs.setdefault(number, set()).add(action)
        db.session.remove()
        db.engine.dispose()
    numbers = sorted(int(n) for n in pairs)
    assert all(kinds == {"pair a", "pair b"} for kinds in pairs.values())  # no half of a transaction
    assert numbers == list(range(1, len(numbers) + 1))  # no gap: one moment of the database
    assert before <= len(numbers) <= writer.committed  # every pair committed before the backup began


def test_a_restore_refuses_a_database_that_is_not_empty_and_changes_nothing(
    db_app: Flask, tmp_path: Path, database_url: str
) -> None:
    assert invoke(db_app, "backup", str(tmp_path / "one.backup")).exit_code == 0
    with db_app.app_context():
        db.session.add(AuditEvent(action="kept", target="x"))
        db.session.commit()
    refused = invoke(db_app, "restore", str(tmp_path / "one.backup"))
    assert refused.exit_code == 1
    assert "the database is not empty" in refused.output
    assert "Traceback" not in refused.output
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "kept")) == 1


def test_a_backup_never_overwrites_and_leaves_no_partial_file(db_app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "same.backup"
    assert invoke(db_app, "backup", str(path)).exit_code == 0
    size = path.stat().st_size
    again = invoke(db_app, "backup", str(path))
    assert again.exit_code == 1
    assert "exists already" in again.output
    assert path.stat().st_size == size
    missing = invoke(db_app, "backup", str(tmp_path / "no-such-folder" / "x.backup"))
    assert missing.exit_code == 1
    assert "is not a folder" in missing.output
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == ["same.backup"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "it is not a SQLite database"),
        (b"PGDMP\x01\x0e", "is a PostgreSQL backup"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "cannot be restored"),
        (b"not a backup at all", "it is not a SQLite database"),
    ],
)
def test_a_wrong_or_damaged_file_is_refused_with_a_clear_message(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.backup"
    path.write_bytes(content)
    target = app_on(f"sqlite:///{tmp_path / 'new.db'}", tmp_path)
    refused = invoke(target, "restore", str(path))
    assert refused.exit_code == 1
    assert expected in refused.output
    assert "Traceback" not in refused.output
    assert not (tmp_path / ".new.db.partial").exists()
    assert (
        invoke(target, "restore", str(tmp_path / "absent.backup"))
        .output.strip()
        .endswith(f"there is no backup at {tmp_path / 'absent.backup'}")
    )


def test_a_sqlite_backup_is_refused_by_postgresql(postgres: PostgresServer, tmp_path: Path) -> None:
    sqlite_app = app_on(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    with sqlite_app.app_context():
        upgrade()
    assert invoke(sqlite_app, "backup", str(tmp_path / "a.backup")).exit_code == 0
    target = app_on(postgres.new_database(), tmp_path)
    refused = invoke(target, "restore", str(tmp_path / "a.backup"))
    assert refused.exit_code == 1
    assert "is not a PostgreSQL backup" in refused.output


def test_a_sqlite_backup_is_a_whole_database_of_its_own(tmp_path: Path) -> None:
    app = app_on(f"sqlite:///{tmp_path / 'w.db'}", tmp_path)
    with app.app_context():
        upgrade()
        db.session.add(AuditEvent(action="x", target="y"))
        db.session.commit()
        db.engine.dispose()
    assert invoke(app, "backup", str(tmp_path / "w.backup")).exit_code == 0
    connection = sqlite3.connect(tmp_path / "w.backup")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM audit_event WHERE action = 'x'").fetchone() == (1,)
    finally:
        connection.close()
