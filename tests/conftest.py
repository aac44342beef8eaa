"""Shared fixtures: the app with CSRF left on, a client that fills forms like a browser."""

from __future__ import annotations

import collections
import gc
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from checker import create_app
from checker.clinic.accounts.staff import create_staff
from checker.db import db
from checker.engine import RuleSet, load_rules

from . import log_audit
from .databases import PostgresServer, free_port, postgres_server

ROOT = Path(__file__).resolve().parent.parent
RULES_PATH = ROOT / "rules.yaml"
VIGNETTES = yaml.safe_load((Path(__file__).parent / "vignettes.yaml").read_text(encoding="utf-8"))


def pytest_sessionstart(session: pytest.Session) -> None:
    log_audit.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run fails if any log line of it holds a token, an email address or seeded data."""
    text = log_audit.PATH.read_text(encoding="utf-8")
    found = log_audit.problems(text)
    lines = text.count("\n")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"log audit: {lines} log lines of this run read, {len(found)} with personal data or tokens")
        loggers = collections.Counter(re.findall(r'"logger": "([^"]+)"', "\n".join(found)))
        if loggers:
            reporter.write_line(f"  by logger: {dict(loggers)}", red=True)
        for problem in found[:50]:
            reporter.write_line(f"  {problem}", red=True)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules(RULES_PATH)


TEST_CONFIG = {"TESTING": True, "SECRET_KEY": "test-secret", "CLINIC_PHONE": "555 0100", "RATELIMIT_ENABLED": False}


@pytest.fixture(autouse=True)
def _collectable_again() -> Iterator[None]:
    """An app built as in production freezes what the process holds (create_app): in this
    process that is other tests' leftovers too, so it is given back to the collector."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The app on an empty SQLite file: for everything that needs no stored data."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"})
    app.instance_path = str(tmp_path)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_page(client: FlaskClient, page_id: str, answers: dict[str, Any], **query: str) -> Any:
    """Open a question page and send it, the way a browser does, with the page's CSRF token."""
    url = f"/questions/{page_id}"
    page = client.get(url, query_string=query)
    assert page.status_code == 200, f"{url} answered {page.status_code} ({page.headers.get('Location')})"
    data: dict[str, Any] = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    for key, value in answers.items():
        data[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return client.post(url, data=data, query_string=query)


def walk(client: FlaskClient, rules: RuleSet, answers: dict[str, Any]) -> Any:
    """Answer page after page, following redirects as a person would; the last response."""
    response = client.get("/questions/" + rules.pages[0].id)
    location = "/questions/" + rules.pages[0].id
    for _ in range(len(rules.pages) + 1):
        if location.startswith("/urgent"):  # advice that cannot wait: read it, then continue the check
            urgent = client.get(location).get_data(as_text=True)
            found = re.search(r'id="continue-check" href="([^"]+)"', urgent)
            assert found, urgent[:2000]
            location = found.group(1)
        if not location.startswith("/questions/"):
            break
        page = rules.page(location.split("/")[2].split("?")[0])
        assert page is not None
        response = post_page(client, page.id, {q.id: answers[q.id] for q in page.questions if q.id in answers})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        location = response.headers["Location"]
    return response


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    yield from postgres_server()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'checker.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


def migrated_app(config: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """The app with ``config`` on its migrated database, its connections closed after."""
    app = create_app(config)
    app.instance_path = str(tmp_path)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def db_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on a migrated database (SQLite and PostgreSQL)."""
    yield from migrated_app({**TEST_CONFIG, "DATABASE_URL": database_url}, tmp_path)


@pytest.fixture
def db_client(db_app: Flask) -> FlaskClient:
    return db_app.test_client()


@pytest.fixture
def staff(db_app: Flask) -> FlaskClient:
    """A staff member signed in (on each database)."""
    make_staff(db_app)
    client = db_app.test_client()
    sign_in(client)
    return client


def make_staff(app: Flask, email: str = "nurse@clinic.example", password: str = "correct horse battery") -> str:
    with app.app_context():
        create_staff(email, password)
    return password


def sign_in(client: FlaskClient, email: str = "nurse@clinic.example", password: str = "correct horse battery") -> Any:
    page = client.get("/staff/sign-in")
    return client.post(
        "/staff/sign-in",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": email, "password": password},
    )


def at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, all released at the same moment; what each returned."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(number: int) -> None:
        start.wait()
        results[number] = calls[number]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def session_text(app: Flask, client: FlaskClient) -> str:
    """What the client's session cookie holds, as JSON text: signed, not encrypted, so anyone
    holding the cookie can read this."""
    import json

    cookie = client.get_cookie("session")
    if cookie is None:
        return "{}"
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return json.dumps(signer.loads(cookie.value))


def extract_catalogue(folder: Path) -> Path:
    """Run pybabel extract as scripts/translations does; the .pot file it writes."""
    import subprocess
    import sys

    pot = folder / "messages.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
               "-k", "lazy_gettext", "-k", "_l", "-o", str(pot), "."]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return pot


class Inbox:
    """Messages received by a real SMTP server on loopback."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


BASE_URL_OF_MAILING = "https://selfcheck.clinic.example"


@pytest.fixture
def mailing(database_url: str, smtp: tuple[Inbox, int]) -> Iterator[tuple[Flask, Inbox]]:
    """The app on a migrated database, sending the clinic's email to a real SMTP server."""
    inbox, port = smtp
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": database_url,
            "MAIL_SERVER": "127.0.0.1",
            "BASE_URL": BASE_URL_OF_MAILING,
            "MAIL_PORT": port,
            "CLINIC_EMAIL": "desk@clinic.example",
            "MAIL_FROM": "checker@clinic.example",
        }
    )
    with app.app_context():
        upgrade()
    yield app, inbox
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def deliver(app: Flask) -> tuple[int, int]:
    """Send what the outbox holds, as 'flask outbox run' does: (sent, failed)."""
    from checker.mail import send_due

    with app.app_context():
        return send_due()


# A person followed for 18 months: 12 checks (SAQ item sums) and two toxin sessions (days after the first check).
MONTHS_OF_CHECKS = [26, 24, 21, 19, 20, 18, 17, 16, 17, 15, 14, 16]
TOXIN_DAYS = (95, 215)


def seed_case_over_months(
    app: Flask, rules: RuleSet, reference: str = "MRN-100231", sums: Sequence[int] = MONTHS_OF_CHECKS
) -> int:
    """A case with checks of these SAQ item sums over 18 months (each through the engine; 12 by
    default) and two toxin sessions; its id."""
    from datetime import UTC, datetime, timedelta

    from checker.cases import new_case, refresh
    from checker.engine import assess
    from checker.models import CaseEvent, Submission

    base = next(c for c in VIGNETTES if c["name"] == "nine-months-established")["answers"]
    items = [q for q in base if q.startswith("saq_")]
    start = datetime(2025, 5, 12, 15, 30, tzinfo=UTC)
    with app.app_context():
        case = new_case(reference)
        db.session.flush()
        for n, total in enumerate(sums):
            scores = [total // 9 + (1 if i < total % 9 else 0) for i in range(9)]
            answers = {**base, **dict(zip(items, scores, strict=True))}
            at = start + timedelta(days=round(n * 548 / max(1, len(sums) - 1)))
            result = assess(rules, answers)
            db.session.add(Submission.of(answers, result, case_id=case.id, started_at=at, submitted_at=at))
        for days in TOXIN_DAYS:
            db.session.add(CaseEvent(case_id=case.id, kind="toxin", on=(start + timedelta(days=days)).date()))
        refresh(case, rules)
        db.session.commit()
        return int(case.id)
