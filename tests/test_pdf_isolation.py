"""PDFs cannot take the site down: a child process with limits, shared slots, a cache."""

from __future__ import annotations

import fcntl
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from checker.db import db
from checker.engine import RuleSet
from checker.exports import reports
from checker.models import Submission

from .conftest import VIGNETTES, make_staff, sign_in, walk
from .servers import gunicorn
from .test_cases import make_case, only_case
from .test_clinic import answer_link
from .test_reports_and_fhir import pdf_text

NINE_MONTHS = next(case for case in VIGNETTES if case["name"] == "nine-months-established")
EMOJI_NOTE = "\U0001f600" * 1000  # one unbroken run: it used to take 5-15 s of CPU


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    reports._cache.clear()
    yield
    reports._cache.clear()


@contextmanager
def every_slot_taken(app: Flask) -> Iterator[None]:
    """Hold every PDF slot, as other workers rendering at this moment would."""
    folder = Path(app.instance_path) / reports.SLOTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for number in range(app.config["PDF_CONCURRENCY"]):
            handle = stack.enter_context(open(folder / f"slot-{number}", "ab"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def test_an_unbroken_run_of_emoji_wraps_and_renders(client: FlaskClient) -> None:
    answers = dict(NINE_MONTHS["answers"], notes=EMOJI_NOTE)
    response = client.post("/api/v1/report.pdf", json={"answers": answers})
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    assert "Established synkinesis" in pdf_text(response.data)


def test_busy_slots_give_a_clear_503_with_retry_after(app: Flask, client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, NINE_MONTHS["answers"])
    with every_slot_taken(app):
        page = client.get("/result.pdf", headers={"Accept-Language": "es"})
        api = client.post("/api/v1/report.pdf", json={"answers": NINE_MONTHS["answers"]})
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "30"
    html = page.get_data(as_text=True)
    assert "No pudimos preparar el PDF en este momento" in html
    assert "Intente de nuevo en un minuto" in html
    assert api.status_code == 503
    assert api.headers["Retry-After"] == "30"
    assert api.get_json() == {"errors": {"request": str(reports.BUSY)}}
    # A slot freed: the same request now gets its PDF.
    assert client.get("/result.pdf").status_code == 200


def test_identical_content_comes_from_the_cache(app: Flask, client: FlaskClient) -> None:
    first = client.post("/api/v1/report.pdf", json={"answers": NINE_MONTHS["answers"]})
    assert first.status_code == 200
    with every_slot_taken(app):  # no slot is needed: nothing is rendered again
        again = client.post("/api/v1/report.pdf", json={"answers": NINE_MONTHS["answers"]})
        other = client.post("/api/v1/report.pdf", json={"answers": dict(NINE_MONTHS["answers"], notes="new")})
    assert again.status_code == 200
    assert again.data == first.data
    assert other.status_code == 503


def test_a_rendering_past_its_time_limit_is_stopped(app: Flask) -> None:
    """WeasyPrint's old worst case (a grid column sized around one huge unbroken run) under a 1 s limit."""
    app.config["PDF_TIME_LIMIT"] = 1
    slow = (
        '<div style="display: grid; grid-template-columns: 1fr 1fr">'
        f'<p style="overflow-wrap: anywhere">{"x" * 6000}</p><p>x</p></div>'
    )
    started = time.monotonic()
    with app.test_request_context(), pytest.raises(reports.PdfUnavailable) as refused:
        reports.pdf_bytes(slow)
    assert time.monotonic() - started < 10  # stopped, not left to run for its full 6 s or more
    assert refused.value.code == 503
    assert refused.value.retry_after == 300
    assert refused.value.description == str(reports.TOO_SLOW)
    with app.test_request_context():  # the slot was given back
        assert reports.pdf_bytes("<p>small</p>").startswith(b"%PDF-")


def test_six_emoji_pdfs_at_once_leave_the_site_answering(tmp_path: Path) -> None:
    """Under gunicorn with its production settings: each PDF request ends with a PDF or a clear
    503 within its time limit, and /healthz keeps answering quickly meanwhile."""
    time_limit = 15
    settings = {
        "CHECKER_SECRET_KEY": "pdf-load-test-secret",
        "CHECKER_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "CHECKER_PDF_TIME_LIMIT": str(time_limit),
        "CHECKER_PDF_CONCURRENCY": "1",
    }
    results: list[tuple[int, float, bytes, str | None]] = []

    def ask_for_pdf(url: str, number: int) -> None:
        note = f"{number}{EMOJI_NOTE[1:]}"  # six different notes: no PDF comes from the cache
        body = json.dumps({"answers": dict(NINE_MONTHS["answers"], notes=note)}).encode()
        request = urllib.request.Request(
            f"{url}/api/v1/report.pdf", data=body, headers={"Content-Type": "application/json"}
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                results.append((response.status, time.monotonic() - started, response.read(), None))
        except urllib.error.HTTPError as refused:
            results.append((refused.code, time.monotonic() - started, refused.read(), refused.headers["Retry-After"]))

    with gunicorn(**settings) as server:
        threads = [threading.Thread(target=ask_for_pdf, args=(server.url, n)) for n in range(6)]
        for thread in threads:
            thread.start()
        probes: list[float] = []
        while any(thread.is_alive() for thread in threads) or len(probes) < 5:
            started = time.monotonic()
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=30) as response:
                assert response.status == 200
            probes.append(time.monotonic() - started)
            time.sleep(0.05)
        for thread in threads:
            thread.join()
    assert len(results) == 6
    for status, seconds, data, retry_after in results:
        assert seconds < time_limit + 5  # its time limit holds: a stall (once 40 s) would not
        assert (status == 200 and data.startswith(b"%PDF-")) or (status == 503 and retry_after), (status, data[:200])
    assert any(status == 200 for status, *_ in results)
    rendering = max(seconds for status, seconds, *_ in results if status == 200)
    probes.sort()
    median, longest = probes[len(probes) // 2], probes[-1]
    print(f"/healthz while six PDFs rendered: median {median * 1000:.0f} ms, max {longest * 1000:.0f} ms;"
          f" the longest PDF took {rendering * 1000:.0f} ms")  # fmt: skip
    # A web worker held by a rendering would keep /healthz waiting about as long as the rendering.
    # Measured against the same run's PDF, not a clock: a busy machine slows both alike.
    assert longest < rendering / 2
    assert median < rendering / 10


def test_the_clinicians_pdf_wraps_unbroken_runs_everywhere(db_app: Flask, rules: RuleSet) -> None:
    """Every free text on the clinician's page (reference, label, notes) as one unbroken run."""
    make_staff(db_app)
    clinic = db_app.test_client()
    sign_in(clinic)
    link = make_case(clinic, reference="\U0001f600" * 40, label="\U0001f600" * 80)
    answers = dict(NINE_MONTHS["answers"], notes=EMOJI_NOTE)
    assert answer_link(db_app.test_client(), link, rules, answers).status_code == 302
    case = only_case(db_app)
    with db_app.app_context():
        check_id = db.session.scalar(select(func.max(Submission.id)).where(Submission.case_id == case.id))
    response = clinic.get(f"/staff/submissions/{check_id}.pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")


def test_a_slots_folder_that_cannot_be_made_is_a_clear_503(app: Flask, client: FlaskClient) -> None:
    app.instance_path = "/dev/null/instance"  # under a file: not even root can make it
    response = client.post("/api/v1/report.pdf", json={"answers": NINE_MONTHS["answers"]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "300"
    assert response.get_json() == {"errors": {"request": str(reports.NOT_SET_UP)}}
