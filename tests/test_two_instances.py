"""Several instances, one truth: two gunicorns on one PostgreSQL and one Redis.

Each instance runs gunicorn.conf.py with two workers. Requests alternate between the
instances (the client's cookie jar is shared, as behind a load balancer without sticky
sessions).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from checker import create_app
from checker.clinic.records import invite
from checker.db import db
from checker.engine import RuleSet
from checker.models import CaseNote

from .conftest import TEST_CONFIG, VIGNETTES, csrf_token, make_staff, sign_in, walk
from .databases import PostgresServer, free_port
from .servers import Gunicorn, HttpClient, gunicorn, redis_server

NINE_MONTHS = next(case for case in VIGNETTES if case["name"] == "nine-months-established")
API_LIMIT = 20


@dataclass
class Pair:
    first: Gunicorn
    second: Gunicorn
    database_url: str

    def client(self) -> HttpClient:
        return HttpClient(self.first.url, self.second.url)


@pytest.fixture(scope="module")
def pair(postgres: PostgresServer) -> Iterator[Pair]:
    database_url = postgres.new_database()
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade()
    make_staff(app)
    with app.app_context():
        db.engine.dispose()
    with redis_server() as redis_url:
        settings = {
            "CHECKER_SECRET_KEY": "two-instances-share-this-secret-key-0123456789",
            "CHECKER_DATABASE_URL": database_url,
            "CHECKER_RATELIMIT_STORAGE_URI": redis_url,
            "CHECKER_WORKERS": "2",
            "CHECKER_RATE_LIMIT_API": f"{API_LIMIT} per minute",
            "CHECKER_RATE_LIMIT_SIGN_IN": "100 per minute",
            "CHECKER_RATE_LIMIT_QUESTIONS": "1000 per minute",
        }
        with gunicorn(**settings) as first, gunicorn(**settings) as second:
            yield Pair(first, second, database_url)


def test_a_patients_pages_alternate_between_instances(pair: Pair, rules: RuleSet) -> None:
    patient = pair.client()
    last = walk(patient, rules, NINE_MONTHS["answers"])  # type: ignore[arg-type]
    assert last.headers["Location"] == "/check-answers"
    assert patient.get("/check-answers").status_code == 200
    result = patient.get("/result")
    assert result.status_code == 200
    assert "Established synkinesis" in result.get_data(as_text=True)
    served = {patient.get("/result").served_by for _ in range(2)}
    assert served == {pair.first.url, pair.second.url}  # the result shows on both


def test_a_staff_session_is_valid_on_both_and_ends_on_both(pair: Pair) -> None:
    staff = pair.client()
    assert sign_in(staff).status_code == 302  # type: ignore[arg-type]
    pages = [staff.get("/staff/") for _ in range(4)]
    assert [page.status_code for page in pages] == [200] * 4
    assert {page.served_by for page in pages} == {pair.first.url, pair.second.url}
    staff.post("/staff/sign-out", data={"csrf_token": csrf_token(pages[-1].get_data(as_text=True))})
    assert [staff.get("/staff/").status_code for _ in range(2)] == [302, 302]


def test_rate_limits_count_once_across_both(pair: Pair) -> None:
    client = pair.client()
    statuses = [
        client.post("/api/v1/assess", json={"answers": NINE_MONTHS["answers"]}).status_code
        for _ in range(API_LIMIT + 4)
    ]
    assert statuses == [200] * API_LIMIT + [429] * 4


def test_five_hundred_writes_over_both_lose_and_duplicate_nothing(pair: Pair) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": pair.database_url})
    with app.test_request_context():
        invitation, _known = invite("Tue 3 Dec", 30, staff_id=1, reference="MRN-500")
        db.session.commit()
        case_id = invitation.case_id
    failures: list[str] = []
    # Signed in one after another: ten tries at once at one account from one address are counted
    # as ten tries before any is judged, and sign-in would rightly make the later ones wait.
    clients = [pair.client() for _ in range(10)]
    for client in clients:
        sign_in(client)  # type: ignore[arg-type]

    def write_notes(worker: int) -> None:
        staff = clients[worker]
        token = csrf_token(staff.get(f"/staff/cases/{case_id}").get_data(as_text=True))
        for number in range(50):
            sent = staff.post(
                f"/staff/cases/{case_id}/notes", data={"csrf_token": token, "text": f"note {worker}-{number}"}
            )
            shown = staff.get(f"/staff/cases/{case_id}")  # as a browser follows the redirect
            if sent.status_code != 302 or shown.status_code != 200:
                failures.append(f"{worker}-{number}: {sent.status_code} then {shown.status_code}")

    threads = [threading.Thread(target=write_notes, args=(worker,)) for worker in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.app_context():
        texts = list(db.session.scalars(select(CaseNote.text).where(CaseNote.case_id == case_id)))
        notes_of_other_cases = db.session.scalar(select(func.count()).where(CaseNote.case_id != case_id))
        db.session.remove()
        db.engine.dispose()
    assert len(texts) == 500
    assert set(texts) == {f"note {worker}-{number}" for worker in range(10) for number in range(50)}
    assert notes_of_other_cases == 0


def test_each_instance_names_its_shared_storage_in_readiness(pair: Pair) -> None:
    client = pair.client()
    for _ in range(2):
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["checks"]["rate_limits"] == "ok"


def test_a_rate_limit_storage_that_is_away_costs_no_request(tmp_path: Path) -> None:
    """Redis down: requests are still answered (limits counted in memory meanwhile), and /readyz says so."""
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0",
            "RATE_LIMIT_API": "2 per minute",
        }
    )
    with app.app_context():
        upgrade()
    client = app.test_client()
    statuses = [client.post("/api/v1/assess", json={"answers": NINE_MONTHS["answers"]}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # still limited, in memory
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["rate_limits"] == "the rate-limit storage does not answer: counting per worker"
