"""Faults (database down, many at once) and privacy (nothing personal in URLs or logs)."""

from __future__ import annotations

import http.cookiejar
import logging
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server

from checker import create_app
from checker.db import db
from checker.engine import RuleSet
from checker.models import ConsultationRequest

from .conftest import TEST_CONFIG, VIGNETTES, csrf_token, make_staff, sign_in, walk
from .databases import PostgresServer

CASE = next(c for c in VIGNETTES if c["name"] == "nine-months-established")
PERSONAL = {"name": "Zebulon Quartermain", "phone": "+1 555 867 5309", "email": "zq@example.org"}
NOTE = "My private note: the left eye waters."


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def request_consultation(client: FlaskClient, name: str = "Ada Example") -> int:
    page = client.get("/request-consultation")
    data = {"csrf_token": csrf_token(text_of(page)), "name": name, "phone": "555 010 9999", "contact_time": "any",
            "consent": "y"}  # fmt: skip
    return client.post("/request-consultation", data=data).status_code


def rows(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(ConsultationRequest.id))) or 0)


def test_200_concurrent_requests_make_200_rows(db_app: Flask) -> None:
    def one(index: int) -> int:
        return request_consultation(db_app.test_client(), name=f"Person {index}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == [302] * 200
    assert rows(db_app) == 200
    with db_app.app_context():
        references = db.session.scalars(select(ConsultationRequest.reference)).all()
    assert len(set(references)) == 200


def test_unreachable_sqlite_gives_a_503_page(tmp_path: Path, rules: RuleSet) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'folder' / 'x.db'}"})
    client = app.test_client()
    assert client.get("/staff/sign-in").status_code == 200
    page = client.get("/staff/sign-in")
    response = client.post(
        "/staff/sign-in", data={"csrf_token": csrf_token(text_of(page)), "email": "a@b.example", "password": "x" * 12}
    )
    assert response.status_code == 503
    assert "try again in a few minutes" in text_of(response)
    assert client.get("/i/" + "t" * 32).status_code == 503
    # The self-check itself needs no database: it still works.
    walk(client, rules, CASE["answers"])
    assert client.get("/result").status_code == 200


def test_a_held_sqlite_lock_is_a_quick_clear_503(tmp_path: Path, rules: RuleSet) -> None:
    """Another writer holding the database: the write waits a few seconds, then says try again."""
    import sqlite3

    from sqlalchemy import text

    from checker.db import SQLITE_BUSY_MS

    path = tmp_path / "locked.db"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    client = app.test_client()
    walk(client, rules, CASE["answers"])
    page = client.get("/request-consultation")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held
    try:
        data = {"csrf_token": csrf_token(text_of(page)), "name": "Ada", "phone": "555 010 9999"}
        data |= {"contact_time": "any", "consent": "y"}
        response = client.post("/request-consultation", data=data)
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503
    assert "try again in a few minutes" in text_of(response)
    with app.app_context():  # how long a writer waits its turn: seconds, not the old half minute
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_MS <= 5000
    assert client.post("/request-consultation", data=data).status_code == 302  # free again: stored
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 1
        db.engine.dispose()


def test_postgres_going_down_loses_nothing(postgres: PostgresServer, tmp_path: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({**TEST_CONFIG, "DATABASE_URL": postgres.new_database()})
    with app.app_context():
        upgrade()
    make_staff(app)
    staff = app.test_client()
    sign_in(staff)
    assert request_consultation(app.test_client()) == 302
    patient = app.test_client()
    form = text_of(patient.get("/request-consultation"))
    postgres.stop()
    try:
        data = {"csrf_token": csrf_token(form), "name": "Bo", "phone": "555 010 9999", "contact_time": "any",
                "consent": "y"}  # fmt: skip
        down = patient.post("/request-consultation", data=data)
        assert down.status_code == 503
        assert "Nothing you sent was half saved" in text_of(down)
        assert staff.get("/staff/").status_code == 503
        api = app.test_client().post("/api/v1/assess", json={"answers": CASE["answers"]})
        assert api.status_code == 200  # the stateless API does not need the database
    finally:
        postgres.restart()
    assert rows(app) == 1
    assert staff.get("/staff/").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_a_request_stored_before_the_database_went_away_is_answered(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL stops after the request's commit and before its session is closed: the row is
    stored, so the patient is told it arrived (302 to the reference), never an empty 500."""
    from flask_migrate import upgrade

    app = create_app({**TEST_CONFIG, "DATABASE_URL": postgres.new_database()})
    with app.app_context():
        upgrade()
    stop = threading.Event()

    @app.after_request
    def database_goes_away(response: Any) -> Any:  # after the view's commit and its reads after it
        if stop.is_set():
            stop.clear()
            postgres.stop()
        return response

    app.logger.addHandler(caplog.handler)  # the app's own handler does not pass records up
    patient = app.test_client()
    form = text_of(patient.get("/request-consultation"))
    data = {"csrf_token": csrf_token(form), "name": "Bo", "phone": "555 010 9999", "contact_time": "any",
            "consent": "y"}  # fmt: skip
    stop.set()
    try:
        with caplog.at_level(logging.ERROR):
            sent = patient.post("/request-consultation", data=data)
    finally:
        postgres.restart()
    assert sent.status_code == 302
    assert sent.headers["Location"] == "/request-consultation/sent"
    assert rows(app) == 1
    assert "closing a request's database session failed" in caplog.text
    assert "Your reference is" in text_of(patient.get("/request-consultation/sent"))
    with app.app_context():
        db.engine.dispose()


class LiveServer:
    """The app served by werkzeug on loopback, so access logs are real."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


class Browser:
    """A tiny cookie-keeping client over real HTTP that records every URL it visits."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.urls: list[str] = []

    def open(self, path: str, data: dict[str, Any] | None = None) -> str:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        with self.opener.open(self.base + path, data=body, timeout=10) as response:
            self.urls.append(response.url)
            return str(response.read().decode("utf-8"))

    def submit(self, path: str, data: dict[str, Any]) -> str:
        return self.open(path, {"csrf_token": csrf_token(self.open(path)), **data})


@pytest.fixture
def live(db_app: Flask) -> Iterator[LiveServer]:
    with LiveServer(db_app) as server:
        yield server


def test_nothing_personal_in_urls_or_logs(
    db_app: Flask, live: LiveServer, rules: RuleSet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_staff(db_app)
    staff = Browser(live.url)
    staff.submit("/staff/sign-in", {"email": "nurse@clinic.example", "password": "correct horse battery"})
    made = staff.submit("/staff/invitations", {"label": "Thu 5 Dec", "days": "30"})
    link = re.search(r'id="invitation-link" type="text" value="http://[^/]+(/i/[^"]+)"', made)
    assert link
    token = link.group(1).rsplit("/", 1)[1]

    patient = Browser(live.url)
    patient.submit(link.group(1), {})
    answers = {**CASE["answers"], "notes": NOTE}
    for page in rules.pages:
        data = {q.id: answers[q.id] for q in page.questions if q.id in answers}
        patient.submit(f"/questions/{page.id}", data)
    check = patient.open("/check-answers")
    patient.open("/send", {"csrf_token": csrf_token(check)})
    patient.submit("/request-consultation", {**PERSONAL, "contact_time": "evening", "consent": "y", "message": NOTE})
    saver = Browser(live.url)
    saver.submit("/questions/safety", {**{k: answers[k] for k in list(answers)[:5]}, "action": "save"})
    resume = re.search(r'value="http://[^/]+(/resume/[^"]+)"', saver.open("/saved"))
    assert resume
    Browser(live.url).open(resume.group(1))
    staff.open("/staff/")

    logged = caplog.text
    assert "GET /i/[token]" in logged  # the access log is there, with the token blanked
    for secret in [token, resume.group(1).rsplit("/", 1)[1], NOTE, *PERSONAL.values(), "Zebulon"]:
        assert secret not in logged, secret
    for url in patient.urls + staff.urls + saver.urls:
        for personal in [*PERSONAL.values(), "Zebulon", "Quartermain", "eye waters", "ramsay"]:
            assert personal.lower() not in urllib.parse.unquote(url).lower(), url
