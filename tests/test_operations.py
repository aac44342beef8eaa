"""Running in production: /healthz, JSON logs without secrets, gunicorn with its settings."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from checker import create_app
from checker.db import db
from checker.health import ANSWER_KEY, _revisions
from checker.models import OutboxMessage, ReadinessProbe
from checker.web.logs import TOKEN_PREFIXES, JsonFormatter, TokenFilter

from .conftest import ROOT, TEST_CONFIG, csrf_token, make_staff, sign_in
from .databases import free_port
from .servers import gunicorn

HEAD = _revisions()[0]


def test_healthz_is_liveness_and_readyz_tells_the_truth(db_app: Flask, tmp_path: Path) -> None:
    client = db_app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok", "rules": "2026.2"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "checks": {
            "rules": "2026.2",
            "rate_limits": "ok",
            "schema": "ok",
            "write": "ok",
            "outbox": "ok",
            "database": "ok",
        },
    }
    assert fresh_readyz(db_app).status_code == 200  # a new probe row, written and deleted again
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReadinessProbe)) == 0  # none left behind
    # No database at all: alive, not ready.
    down = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"})
    assert down.test_client().get("/healthz").status_code == 200
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable"


def test_readyz_accepts_a_schema_ahead_only_when_it_is_marked_compatible(db_app: Flask) -> None:
    """A rolling upgrade: the database is migrated first, while instances of this code still
    serve. A migration marked as one this code runs on keeps them ready; any other takes them out."""
    from sqlalchemy import text

    ahead = f"{int(HEAD) + 1:04d}"
    with db_app.app_context():
        db.session.execute(text(f"UPDATE alembic_version SET version_num = '{ahead}'"))
        db.session.execute(text(f"INSERT INTO schema_compatibility VALUES ('{ahead}', '{HEAD}')"))
        db.session.commit()
    ready = fresh_readyz(db_app)
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert checks["schema"] == "ok"
    assert checks["write"] == "ok"
    assert checks["schema_ahead"] == (
        f"at {ahead}, ahead of this code's {HEAD}, marked compatible: restart on the new release"
    )
    with db_app.app_context():
        db.session.execute(text(f"UPDATE schema_compatibility SET oldest_code = '{ahead}' WHERE revision = '{ahead}'"))
        db.session.commit()  # a "contract" migration: this code's columns are gone
    refused = fresh_readyz(db_app)
    assert refused.status_code == 503
    assert refused.get_json()["checks"]["schema"] == (
        f"at {ahead}, ahead of this code's {HEAD}, which cannot run on it: start the new release"
    )
    with db_app.app_context():
        db.session.execute(text(f"DELETE FROM schema_compatibility WHERE revision = '{ahead}'"))
        db.session.commit()  # not marked at all
    assert fresh_readyz(db_app).status_code == 503


def test_every_migration_says_which_code_runs_on_it() -> None:
    """The upgrade policy (docs/operators/data.md, "Upgrades without downtime"): from 0008 on, every
    migration writes its row, and the code it names is its own parent (expand) or itself
    (contract: one release later only)."""
    from alembic.script import ScriptDirectory

    from checker.db import MIGRATIONS

    for revision in ScriptDirectory(str(MIGRATIONS)).walk_revisions():
        if revision.revision >= "0008":
            source = Path(revision.path).read_text(encoding="utf-8")
            marked = re.search(r"\{'revision': '(\w+)', 'oldest_code': '(\w+)'\}", source)
            assert marked, f"{revision.path} does not say which code runs on it"
            assert marked.group(1) == revision.revision
            assert marked.group(2) in (revision.down_revision, revision.revision)


def test_readyz_knows_an_unmigrated_or_deleted_database(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from checker.db import db

    path = tmp_path / "fresh.db"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{path}"})
    client = app.test_client()
    never = fresh_readyz(app)  # a database never migrated
    assert never.status_code == 503
    assert never.get_json()["checks"]["schema"].startswith(f"at nothing, needs {HEAD}: run 'flask db upgrade'")
    with app.app_context():
        upgrade(revision="0003")
    behind = fresh_readyz(app).get_json()["checks"]["schema"]
    assert behind == f"at 0003, needs {HEAD}: run 'flask db upgrade'"
    with app.app_context():
        upgrade()
    assert fresh_readyz(app).status_code == 200
    path.unlink()  # deleted under the running app: SQLite would write into a file nobody can open again
    gone = fresh_readyz(app)
    assert gone.status_code == 503
    assert gone.get_json()["checks"]["write"].startswith("refused: the SQLite database file was deleted")
    # A patient's request is refused too (503, "try again"), not answered 302 and lost.
    page = client.get("/request-consultation")
    token = csrf_token(page.get_data(as_text=True))
    data = {"csrf_token": token, "name": "Ada", "phone": "+1 555 010 9999", "contact_time": "morning", "consent": "y"}
    refused = client.post("/request-consultation", data=data)
    assert refused.status_code == 503
    assert not path.exists()
    with app.app_context():
        db.engine.dispose()


def fresh_readyz(app: Flask) -> Any:
    """/readyz checked now, not the answer of the last second."""
    app.extensions.pop(ANSWER_KEY, None)
    return app.test_client().get("/readyz")


def test_readyz_checks_once_a_second_for_many_probes(db_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import checker.health

    checks = []
    real = checker.health._check
    monkeypatch.setattr(checker.health, "_check", lambda: checks.append(1) or real())
    client = db_app.test_client()
    answers = [client.get("/readyz").status_code for _ in range(20)]
    assert answers == [200] * 20
    assert len(checks) == 1  # one check served them all
    moment = db_app.extensions[ANSWER_KEY]
    db_app.extensions[ANSWER_KEY] = (moment[0] - checker.health.MAX_AGE - 0.01, *moment[1:])  # a second later
    client.get("/readyz")
    assert len(checks) == 2


def fill_sqlite(app: Flask, path: Path) -> None:
    """Cap the SQLite file at what it holds now plus a little, then fill that: a full disk."""
    import sqlite3

    with sqlite3.connect(path) as raw:
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
    with app.app_context():
        event.listen(db.engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count={pages + 8}"))
        db.engine.dispose()
        for size in (3000, 300, 30, 1):  # big rows first, then ever smaller ones into the gaps left
            with pytest.raises(OperationalError, match="disk is full"):  # noqa: PT012 - filling takes a loop
                for _ in range(2000):
                    db.session.add(OutboxMessage(subject="filler", body="x" * size, message_id="<filler@test>"))
                    db.session.commit()
            db.session.rollback()


def test_a_full_disk_makes_readyz_fail_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from flask_migrate import upgrade

    path = tmp_path / "full.db"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        upgrade()
    assert fresh_readyz(app).status_code == 200
    make_staff(app)
    staff = app.test_client()
    sign_in(staff)
    form = {"csrf_token": csrf_token(staff.get("/staff/invitations").get_data(as_text=True)), "days": "30"}
    assert staff.post("/staff/invitations", data=form).status_code == 302
    page = staff.get("/staff/cases/1").get_data(as_text=True)
    fill_sqlite(app, path)
    full = fresh_readyz(app)
    assert full.status_code == 503
    assert full.get_json()["checks"]["write"] == (
        "refused: the database's disk is full: free space where the database keeps its files (writes are refused)"
    )
    # Writes that need new space: a clear 503, and the log names the cause, not the database's address.
    statuses = []
    app.logger.addHandler(caplog.handler)  # the app's own handler does not pass records up
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            note = {"csrf_token": csrf_token(page), "text": "A long note. " * 150}
            statuses.append(staff.post("/staff/cases/1/notes", data=note).status_code)
    assert 503 in statuses
    assert "disk is full" in caplog.text
    assert "CHECKER_DATABASE_URL" not in caplog.text
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("state", "text", "expected"),
    [
        ("53100", 'could not extend file "base/16384/2619": No space left on device', "disk is full"),
        ("25006", "cannot execute INSERT in a read-only transaction", "read-only"),
        ("53300", "sorry, too many clients already", "refuses more connections"),
        ("42P01", 'relation "submission" does not exist', "no tables yet"),
        ("08006", "connection to server failed", "cannot be reached"),
        ("3D000", 'database "checker" does not exist', "cannot be reached"),
    ],
)
def test_database_problems_name_their_cause(state: str, text: str, expected: str) -> None:
    from checker.db import database_problem

    class Driver(Exception):
        sqlstate = state

    assert expected in database_problem(DBAPIError("INSERT ...", {}, Driver(text)))


def test_json_log_lines_carry_no_token_or_error_data() -> None:
    record = logging.LogRecord(
        "checker", logging.INFO, __file__, 1, "opened %s", ("/i/abcdefghijklmnopqrstuvwx",), None
    )
    TokenFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "opened /i/[token]"
    assert line["level"] == "INFO"
    access = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(U)s", ({"U": "/resume/secretsecret123"},), None
    )
    TokenFilter().filter(access)
    assert access.getMessage() == "/resume/[token]"
    try:
        raise ValueError("Ada Example's phone 555")
    except ValueError:
        failed = logging.LogRecord("checker", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(failed))
    assert line["error"] == "ValueError"
    assert "Ada" not in json.dumps(line)


def test_gunicorn_access_atoms_keep_their_class() -> None:
    """gunicorn answers "-" for a missing atom: the filter edits its dict in place instead of copying it."""
    from gunicorn.glogging import SafeAtoms

    atoms = SafeAtoms({"r": "GET /i/abcdefghijklmnopqrstuvwx HTTP/1.1", "s": "200", "{referer}i": "-"})
    access = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s %(s)s %(a)s", (atoms,), None)
    TokenFilter().filter(access)
    assert access.args is atoms
    assert access.getMessage() == "GET /i/[token] HTTP/1.1 200 -"


def test_log_format_is_checked() -> None:
    from checker.config import StartupError

    with pytest.raises(StartupError, match="CHECKER_LOG_FORMAT"):
        create_app({**TEST_CONFIG, "LOG_FORMAT": "xml"})


def test_create_app_opens_no_database_connection() -> None:
    """gunicorn forks its workers from a preloaded app: no connection may be shared by them."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"})
    with app.app_context():
        pool = db.engine.pool
        assert pool.checkedin() == 0  # type: ignore[attr-defined]
        assert pool.checkedout() == 0  # type: ignore[attr-defined]


FROZEN_AT_START = """
import gc, json, sys
from checker import create_app
from checker.config import StartupError
from checker.worker import create_worker_app

def tracked(thing):  # gc.get_objects() leaves out what is frozen
    return any(found is thing for found in gc.get_objects())

url = sys.argv[1]
seen = {}
try:
    create_app({"DATABASE_URL": url, "LOG_FORMAT": "xml"})
except StartupError:
    seen["enabled after a refused start"] = gc.isenabled()
seen["frozen before"] = gc.get_freeze_count()
tested = create_app({"DATABASE_URL": url, "TESTING": True})
seen["a test's app is collectable"] = tracked(tested)
seen["frozen after a test's app"] = gc.get_freeze_count()
app = create_app({"DATABASE_URL": url})
seen["app tracked"] = tracked(app) or tracked(app.url_map)
seen["frozen after"] = gc.get_freeze_count()
seen["enabled"] = gc.isenabled()
gc.disable()
worker = create_worker_app({"DATABASE_URL": url})
seen["worker app tracked"] = tracked(worker)
seen["left disabled"] = not gc.isenabled()
print(json.dumps(seen))
"""


def test_what_start_up_makes_is_frozen_out_of_garbage_collection(tmp_path: Path) -> None:
    """Outside tests, the app and what it is made of go to the collector's permanent generation
    (skipped by every later collection; not touched, so not copied, in forked workers); the
    collector is left as it was found, a refused start included; a test's app stays collectable."""
    url = f"sqlite:///{tmp_path / 'frozen.db'}"
    done = subprocess.run(
        [sys.executable, "-c", FROZEN_AT_START, url], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["enabled after a refused start"] is True
    assert seen["a test's app is collectable"] is True
    assert seen["frozen after a test's app"] == seen["frozen before"]
    assert seen["app tracked"] is False
    assert seen["frozen after"] > seen["frozen before"] + 10_000  # tables, routes, rules: not a handful
    assert seen["enabled"] is True
    assert seen["worker app tracked"] is False
    assert seen["left disabled"] is True


def test_gunicorn_serves_the_app_with_its_settings_and_one_json_log_stream(tmp_path: Path) -> None:
    """Every line gunicorn and the app write is one JSON object; each request's line names its
    route (never the path, which holds the token), its status and its id, which the answer
    returns; the proxy's sane X-Request-ID is kept, a strange one replaced."""
    settings = {
        "CHECKER_WORKERS": "2",
        "CHECKER_SECRET_KEY": "gunicorn-test-secret",
        "CHECKER_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "CHECKER_LOG_FORMAT": "json",
    }
    with gunicorn(**settings) as server:
        given = urllib.request.Request(f"{server.url}/", headers={"X-Request-ID": "proxy-id-0123456789"})
        with urllib.request.urlopen(given, timeout=2) as response:
            assert response.status == 200
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Request-ID"] == "proxy-id-0123456789"
        strange = urllib.request.Request(f"{server.url}/", headers={"X-Request-ID": "a b<script>"})
        with urllib.request.urlopen(strange, timeout=2) as response:
            made = response.headers["X-Request-ID"]
            assert re.fullmatch(r"[0-9a-f]{32}", made)
        for prefix in TOKEN_PREFIXES:
            with pytest.raises(urllib.error.HTTPError, match="HTTP Error (404|410|503)"):
                urllib.request.urlopen(f"{server.url}{prefix}secrettokensecrettoken123", timeout=2)
        for _ in range(4):  # two workers: their counts add up in one page
            urllib.request.urlopen(f"{server.url}/healthz", timeout=2).close()
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=2) as response:
            page = response.read().decode()
    output = server.output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # each line parses, or this fails
    assert all({"time", "level", "instance", "pid", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    access = [line for line in lines if line["logger"] == "checker.access"]
    assert all(line["request_id"] and isinstance(line["duration_ms"], float) for line in access)
    assert any(line["route"] == "/" and line["request_id"] == "proxy-id-0123456789" for line in access)
    assert any(line["request_id"] == made for line in access)
    assert {line["route"] for line in access} >= {"/i/<token>", "/resume/<token>", "/staff/set-password/<token>"}
    assert "secrettokensecrettoken123" not in output
    assert "a b<script>" not in output
    healthz = re.search(r'checker_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)', page)
    assert healthz is not None, page
    assert float(healthz.group(1)) >= 4, page


@pytest.mark.parametrize("storage", [None, "MEMORY://"])
def test_production_refuses_per_worker_rate_limits(tmp_path: Path, storage: str | None) -> None:
    env = {
        **os.environ,
        "CHECKER_ENV": "production",
        "CHECKER_WORKERS": "3",
        "CHECKER_SECRET_KEY": "5f1c0e9a7b3d28c64e0f9a1b7c3d5e2f8a6b4c0d9e1f3a5b7c9d0e2f4a6b8c1d",
        "CHECKER_BASE_URL": "https://selfcheck.clinic.example",
        "CHECKER_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "CHECKER_BIND": f"127.0.0.1:{free_port()}",
    }
    env.pop("CHECKER_RATELIMIT_STORAGE_URI", None)
    if storage is not None:
        env["CHECKER_RATELIMIT_STORAGE_URI"] = storage
    started = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "checker:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "CHECKER_RATELIMIT_STORAGE_URI must point at Redis" in started.stderr + started.stdout


def test_the_migrations_make_the_schema_the_models_describe(db_app: Flask) -> None:
    """Every table, column, index and constraint the models name is what ``flask db upgrade``
    makes (SQLite and PostgreSQL): a model changed without its migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db_app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
