"""Running in production: /healthz, JSON logs without secrets, gunicorn with its settings."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from flask import Flask

from checker import create_app
from checker.db import db
from checker.web.logs import JsonFormatter, TokenFilter

from .conftest import ROOT, TEST_CONFIG
from .databases import free_port
from .servers import gunicorn


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
    assert client.get("/readyz").status_code == 200  # the probe's one row, written again
    # No database at all: alive, not ready.
    down = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"})
    assert down.test_client().get("/healthz").status_code == 200
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable"


def test_readyz_knows_an_unmigrated_or_deleted_database(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from checker.db import db

    path = tmp_path / "fresh.db"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{path}"})
    client = app.test_client()
    never = client.get("/readyz")  # a database never migrated
    assert never.status_code == 503
    assert never.get_json()["checks"]["schema"].startswith("at nothing, needs 0006: run 'flask db upgrade'")
    with app.app_context():
        upgrade(revision="0003")
    behind = client.get("/readyz").get_json()["checks"]["schema"]
    assert behind == "at 0003, needs 0006: run 'flask db upgrade'"
    with app.app_context():
        upgrade()
    assert client.get("/readyz").status_code == 200
    path.unlink()  # deleted under the running app: SQLite would write into a file nobody can open again
    gone = client.get("/readyz")
    assert gone.status_code == 503
    assert gone.get_json()["checks"]["write"] == "the SQLite file is gone: writes would be lost"
    with app.app_context():
        db.engine.dispose()


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


def test_gunicorn_serves_the_app_with_its_settings(tmp_path: Path) -> None:
    settings = {
        "CHECKER_WORKERS": "1",
        "CHECKER_SECRET_KEY": "gunicorn-test-secret",
        "CHECKER_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "CHECKER_LOG_FORMAT": "json",
    }
    with gunicorn(**settings) as server:
        with urllib.request.urlopen(f"{server.url}/", timeout=2) as response:
            assert response.status == 200
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        with pytest.raises(urllib.error.HTTPError, match="HTTP Error (404|503)"):
            urllib.request.urlopen(f"{server.url}/i/secrettokensecrettoken123", timeout=2)
    output = server.output
    access = [json.loads(line) for line in output.splitlines() if line.startswith('{"time"') and '"path"' in line]
    assert any(entry["path"] == "/" and entry["status"] == 200 for entry in access), output
    assert "secrettokensecrettoken123" not in output
    assert any(entry["path"] == "/i/[token]" for entry in access)


def test_production_refuses_per_worker_rate_limits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CHECKER_ENV": "production",
        "CHECKER_WORKERS": "3",
        "CHECKER_SECRET_KEY": "x" * 40,
        "CHECKER_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "CHECKER_BIND": f"127.0.0.1:{free_port()}",
    }
    env.pop("CHECKER_RATELIMIT_STORAGE_URI", None)
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
