"""``flask --app checker demo``: a made-up clinic in an empty database, and nowhere else."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from checker import create_app
from checker.db import db, utcnow
from checker.models import Case, ConsultationRequest, Grading, Invitation, StaffUser, Submission
from checker.outreach import run_due
from tests.conftest import TEST_CONFIG, sign_in

PASSWORD = "correct horse battery staple"


MADE: list[Flask] = []


def demo_app(url: str, tmp_path: Path, **config: object) -> Flask:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url, **config})
    app.instance_path = str(tmp_path)
    MADE.append(app)
    return app


@pytest.fixture(autouse=True)
def _connections_closed() -> Iterator[None]:
    """Each app's database connections are closed after its test, not left to the collector."""
    yield
    while MADE:
        with MADE.pop().app_context():
            db.session.remove()
            db.engine.dispose()


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, Submission, Invitation, ConsultationRequest, Grading)
        }


def test_demo_fills_a_new_database_with_a_clinic_to_sign_in_to(database_url: str, tmp_path: Path) -> None:
    app = demo_app(database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert f"as lead@clinic.example with the password {PASSWORD}" in result.output
    assert counts(app) == {"Case": 10, "Submission": 8, "Invitation": 12, "ConsultationRequest": 2, "Grading": 5}
    with app.app_context():
        # The schedule's past due dates already have their links: the worker makes none.
        assert run_due(utcnow()) == (0, 0)
        rows = db.session.execute(select(Case.reference, Case.triage, Case.state).order_by(Case.priority)).all()
    assert rows[0] == ("MRN-310277", "emergency", "waiting")  # the stop at the emergency page, first
    assert rows[1] == ("MRN-188430", "urgent", "waiting")  # told to get care today, never sent
    client = app.test_client()
    sign_in(client, "lead@clinic.example", PASSWORD)
    inbox = client.get("/staff/").get_data(as_text=True)
    assert "Safety worklist: 3 items to acknowledge" in inbox
    assert "Rosa Delgado" in inbox
    assert "MRN-204815" in inbox
    case_id = db_case_id(app, "MRN-204815")
    page = client.get(f"/staff/cases/{case_id}").get_data(as_text=True)
    assert page.count("Scheduled follow-up, due") == 3
    assert "Botulinum toxin session" in page
    assert "Sunnybrook" in page
    assert "Grade III" in page
    assert "Beyond measurement noise since the first check" in page  # 48.9 down to 28.9
    audit = client.get("/staff/audit").get_data(as_text=True)
    assert "saved grading" in audit
    assert "created invitation" in audit


def db_case_id(app: Flask, reference: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Case.id).where(Case.reference == reference))
    assert found is not None
    return found


def test_demo_makes_a_password_when_none_is_given_and_it_signs_in(tmp_path: Path) -> None:
    app = demo_app(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    password = result.output.rsplit("the password ", 1)[1].strip()
    assert len(password) >= 12
    client = app.test_client()
    assert sign_in(client, "lead@clinic.example", password).status_code == 302


def test_demo_refuses_a_database_that_holds_anything_and_changes_nothing(db_app: Flask) -> None:
    runner = db_app.test_cli_runner()
    with db_app.app_context():
        db.session.add(Case(reference="MRN-1"))
        db.session.commit()
    before = counts(db_app)
    result = runner.invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "the database is not empty" in result.output
    assert "Traceback" not in result.output
    assert counts(db_app) == before


def test_demo_refuses_production_and_a_weak_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    key = secrets.token_hex(32)
    production = demo_app(url, tmp_path, ENV="production", SECRET_KEY=key, BASE_URL="https://selfcheck.example")
    result = production.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "refused in production" in result.output
    app = demo_app(url, tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--password", "password1234"])
    assert result.exit_code == 1
    assert "too easy to guess" in result.output
    with app.app_context():  # nothing was made: not even the tables
        assert not db.inspect(db.engine).has_table("clinic_case")


def test_demo_on_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    app = demo_app("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "cannot be reached" in result.output
    assert "Traceback" not in result.output


def test_demo_on_a_rules_file_it_does_not_fit_says_so_and_writes_nothing(tmp_path: Path) -> None:
    """A clinic's own rules file without the worked cases the demo starts from, or with other codes."""
    rules = (Path(__file__).resolve().parent.parent / "rules.yaml").read_text(encoding="utf-8")
    without = tmp_path / "without-cases.yaml"
    without.write_text(rules.replace("name: full-recovery", "name: recovered-fully"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    app = demo_app(url, tmp_path, RULES_PATH=str(without))
    result = app.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "no worked case 'full-recovery'" in result.output
    assert counts(app) == dict.fromkeys(("Case", "Submission", "Invitation", "ConsultationRequest", "Grading"), 0)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0  # not even the account
