"""Operators see what happens: request ids, one JSON log stream, and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import update

from checker import create_app, health
from checker.config import StartupError
from checker.db import db, utcnow
from checker.mail import new_message_id, queue_notice, send_due
from checker.models import OutboxMessage
from checker.web.logs import JsonFormatter, TextFormatter

from . import log_audit
from .conftest import ROOT, TEST_CONFIG, VIGNETTES, Inbox, csrf_token, make_staff, sign_in
from .databases import free_port
from .servers import HttpClient, gunicorn
from .test_clinic import text_of
from .test_pdf_isolation import every_slot_taken

NINE_MONTHS = next(case for case in VIGNETTES if case["name"] == "nine-months-established")


def metric(client: FlaskClient, name: str, **labels: str) -> float:
    """One series' value on /metrics (0 when it has not been counted yet)."""
    page = client.get("/metrics").get_data(as_text=True)
    for line in page.splitlines():
        if line.startswith(name + "{" if labels else name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if labels else {}
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_every_answer_carries_a_request_id_and_keeps_a_sane_one(client: FlaskClient) -> None:
    made = client.get("/").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/").headers["X-Request-ID"] != made
    assert client.get("/", headers={"X-Request-ID": "nginx-4f2a9c01"}).headers["X-Request-ID"] == "nginx-4f2a9c01"
    for strange in ("short", "x" * 129, "a\tb" * 5, "abcdefgh\u00e9ijk", "/i/../../etc/passwd"):
        assert client.get("/", headers={"X-Request-ID": strange}).headers["X-Request-ID"] != strange
    assert client.get("/no-such-page").headers["X-Request-ID"]  # errors too
    with client.get("/static/checker.css") as static:
        assert static.headers["X-Request-ID"]


def test_a_line_logged_during_a_request_carries_its_id(tmp_path: Path) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "LOG_FORMAT": "json"})
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(JsonFormatter().format(record))

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        answer = app.test_client().get("/i/abcdefghijklmnopqrstuvwxyz012345", headers={"X-Request-ID": "req-00000001"})
    finally:
        logging.getLogger().removeHandler(keep)
    assert answer.status_code == 503  # no tables: the database line and the request's line
    lines = [json.loads(text) for text in records]
    assert {line["logger"] for line in lines} >= {"checker", "checker.access"}
    assert all(line["request_id"] == "req-00000001" for line in lines)
    access = next(line for line in lines if line["logger"] == "checker.access")
    assert access["route"] == "/i/<token>"
    assert access["status"] == 503
    assert access["method"] == "GET"
    assert "abcdefghijklmnopqrstuvwxyz012345" not in json.dumps(lines)


def test_a_traceback_is_one_field_of_frames_without_the_errors_text() -> None:
    def fail() -> None:
        secret = "Ada Example, 555 0100"
        raise ValueError(secret)

    try:
        fail()
    except ValueError:
        record = logging.LogRecord("checker", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["error"] == "ValueError"
    assert "in fail" in line["traceback"]
    assert __file__ in line["traceback"]
    text = TextFormatter().format(record)
    assert "in fail" in text
    assert "ValueError" in text
    assert "Ada" not in json.dumps(line)
    assert "Ada" not in text


def test_metrics_count_a_request_a_refused_pdf_and_an_outbox_failure(tmp_path: Path) -> None:
    port = free_port()  # nothing listens: every send fails
    app = create_app(
        {**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "MAIL_SERVER": "127.0.0.1",
         "MAIL_PORT": port, "BASE_URL": "https://selfcheck.example", "CLINIC_EMAIL": "desk@clinic.example"}
    )  # fmt: skip
    app.instance_path = str(tmp_path)
    with app.app_context():
        upgrade()
    client = app.test_client()
    route = {"route": "/healthz", "method": "GET", "status": "200"}
    before = metric(client, "checker_http_requests_total", **route)
    client.get("/healthz")
    assert metric(client, "checker_http_requests_total", **route) == before + 1
    assert metric(client, "checker_http_request_duration_seconds_count", route="/healthz") >= before + 1

    busy = metric(client, "checker_pdfs_total", result="busy")
    with every_slot_taken(app):
        answers = dict(NINE_MONTHS["answers"], notes="a PDF no other test asks for (none in the cache)")
        assert client.post("/api/v1/report.pdf", json={"answers": answers}).status_code == 503
    assert metric(client, "checker_pdfs_total", result="busy") == busy + 1

    assessed = metric(client, "checker_results_total", channel="api", outcome="stage-3", triage="routine")
    assert client.post("/api/v1/assess", json={"answers": NINE_MONTHS["answers"]}).status_code == 200
    assert metric(client, "checker_results_total", channel="api", outcome="stage-3", triage="routine") == (assessed + 1)

    assert metric(client, "checker_outbox_messages", state="failing") == 0
    with app.app_context():
        queue_notice("New request", "A consultation request is waiting.")
        db.session.commit()
        assert metric(client, "checker_outbox_messages", state="waiting") == 1
        assert send_due() == (0, 1)
    assert metric(client, "checker_outbox_messages", state="failing") == 1
    assert metric(client, "checker_outbox_messages", state="waiting") == 0
    page = client.get("/metrics").get_data(as_text=True)
    assert re.search(r"^checker_outbox_oldest_unsent_seconds \S+$", page, flags=re.MULTILINE)  # served, a number


def test_metrics_are_served_to_the_allowed_addresses_only(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/plain; version=")
    assert "# TYPE checker_http_requests_total counter" in page.get_data(as_text=True)
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    assert client.post("/metrics").status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "not an address"}).status_code == 404
    networks = create_app({**TEST_CONFIG, "METRICS_ALLOW": "10.0.0.0/8 fd00::/8"}).test_client()
    assert networks.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert networks.get("/metrics").status_code == 404  # loopback is not in the list
    nobody = create_app({**TEST_CONFIG, "METRICS_ALLOW": ""}).test_client()
    assert nobody.get("/metrics").status_code == 404
    # A made-up method or path makes no series of its own: labels come from small fixed sets.
    client.open("/no/such/page/a1b2c3", method="BREW")
    page = client.get("/metrics").get_data(as_text=True)
    assert 'method="other",route="(no route)"' in page
    assert "BREW" not in page
    assert "a1b2c3" not in page


def test_metrics_behind_a_proxy_see_the_client_not_the_proxy() -> None:
    """Through nginx (one trusted proxy) the client's own address is judged, not nginx's loopback."""
    client = create_app({**TEST_CONFIG, "PROXIES": 1}).test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 404
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("value", ["everyone", "10.0.0.0/33", "127.0.0.1,::1"])
def test_a_wrong_metrics_address_stops_start_up(value: str) -> None:
    with pytest.raises(StartupError, match="CHECKER_METRICS_ALLOW"):
        create_app({**TEST_CONFIG, "METRICS_ALLOW": value})


def test_the_log_audit_finds_what_it_looks_for() -> None:
    """The run's log audit (tests/log_audit.py) would catch a leak: a raw token, an address, seeded data."""
    clean = '{"message": "GET /i/<token> 200"}\n{"message": "opened /i/[token]"}'
    assert log_audit.problems(clean) == []
    assert len(log_audit.problems('{"path": "/resume/AbC123xyz_-987"}')) == 1
    assert len(log_audit.problems("sent to ana.b+1@example.org")) == 1
    assert len(log_audit.problems(f"name {log_audit.SEEDED[0]}")) == 1


def test_a_seeded_journey_leaves_no_personal_data_in_any_log_line(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    """A link emailed by the outbox worker, opened by the patient, and a consultation request
    with a name and phone number, through gunicorn and the worker in JSON: every line of both
    parses, and none holds the token, the address, the name or the number."""
    inbox, smtp_port = smtp
    name, phone, email, _ = log_audit.SEEDED
    database = f"sqlite:///{tmp_path / 'journey.db'}"
    port = free_port()
    env = {
        "CHECKER_SECRET_KEY": "journey-secret-key-0123456789abcdef",
        "CHECKER_DATABASE_URL": database,
        "CHECKER_LOG_FORMAT": "json",
        "CHECKER_BIND": f"127.0.0.1:{port}",
        "CHECKER_BASE_URL": f"http://127.0.0.1:{port}",
        "CHECKER_MAIL_SERVER": "127.0.0.1",
        "CHECKER_MAIL_PORT": str(smtp_port),
        "CHECKER_CLINIC_EMAIL": "desk@clinic.example",
        "CHECKER_RATELIMIT_ENABLED": "false",
        "CHECKER_WORKERS": "1",
    }
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database})
    with app.app_context():
        upgrade()
    make_staff(app)
    with gunicorn(**env) as server:
        staff = HttpClient(server.url)
        assert sign_in(staff).status_code == 302  # type: ignore[arg-type]
        page = staff.get("/staff/invitations").get_data(as_text=True)
        made = staff.post("/staff/invitations", data={"csrf_token": csrf_token(page), "reference": "MRN-LOG-1",
                                                       "email": email, "language": "en", "days": "30"})  # fmt: skip
        assert made.status_code == 302, made.get_data(as_text=True)[:1000]
        worker = subprocess.run(
            [sys.executable, "-m", "checker.worker", "--once"],  # the lean worker deploy/ runs
            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        log_audit.add(worker.stdout + worker.stderr)
        assert worker.returncode == 0, worker.stderr
        link = re.search(r"/i/[A-Za-z0-9_-]+", inbox.messages[-1].get_payload(decode=True).decode())
        assert link is not None
        patient = HttpClient(server.url)
        assert patient.get(link.group(0)).status_code in (200, 302)
        form = patient.get("/request-consultation").get_data(as_text=True)
        request = {"csrf_token": csrf_token(form), "name": name, "phone": phone, "contact_time": "any", "consent": "y"}
        sent = patient.post("/request-consultation", data=request)
        assert sent.status_code == 302, sent.get_data(as_text=True)[:1000]
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=2):
            pass
    worker_lines = [json.loads(line) for line in worker.stderr.splitlines() if line.strip()]
    assert any(line["message"] == "sent 1, failed 0" for line in worker_lines)
    server_lines = [json.loads(line) for line in server.output.splitlines() if line.strip()]
    routes = {line.get("route") for line in server_lines}
    assert {"/i/<token>", "/request-consultation", "/staff/invitations"} <= routes
    assert any(
        line["logger"] == "checker" and "consultation request stored" in line["message"] for line in server_lines
    )
    everything = server.output + worker.stdout + worker.stderr
    assert log_audit.problems(everything) == []
    assert link.group(0)[3:] not in everything


def test_an_outbox_nobody_runs_is_logged_shown_to_staff_and_counted(
    db_app: Flask, staff: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Both workers stopped, a notice 20 minutes overdue: /readyz stays 200 (taking the site
    down sends nothing) but says so, one warning is logged, the inbox tells staff, and the
    metric an alert watches counts it."""
    with db_app.app_context():
        db.session.add(OutboxMessage(subject="New request", body="Waiting.", message_id=new_message_id()))
        db.session.commit()
        assert metric(db_app.test_client(), "checker_outbox_overdue_messages") == 0
        stuck = utcnow() - timedelta(minutes=20)
        db.session.execute(update(OutboxMessage).values(created_at=stuck, next_attempt_at=stuck))
        db.session.commit()
    health._overdue_logged[0] = -health.OVERDUE_LOG_EVERY
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            db_app.extensions.pop(health.ANSWER_KEY, None)
            ready = db_app.test_client().get("/readyz")
            assert ready.status_code == 200
            assert ready.get_json()["checks"]["outbox"].startswith("1 notices due over 15 minutes ago and not sent")
    assert [r.getMessage() for r in caplog.records if r.name == "checker"].count(
        "outbox: 1 notices due over 15 minutes ago and not sent: is 'flask outbox run' running?"
    ) == 1  # once in five minutes, not at every probe
    assert metric(db_app.test_client(), "checker_outbox_overdue_messages") == 1
    page = text_of(staff.get("/staff/"))
    assert "1 email has been due for over 15 minutes and is not sent yet: the email worker may have stopped." in page
    spanish = text_of(staff.get("/staff/", headers={"Accept-Language": "es"}))
    assert "1 correo debía salir hace más de 15 minutos y todavía no se ha enviado: puede que" in spanish


def test_the_lean_worker_writes_the_web_apps_link_address(tmp_path: Path) -> None:
    """python -m checker.worker loads no pages: the one address it writes into emails is the one
    the web app routes."""
    from checker.urls import external_url
    from checker.worker import LINK_ENDPOINT, LINK_RULE, create_worker_app

    config = {**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "BASE_URL": "https://selfcheck.example"}
    web, worker = create_app(config), create_worker_app(config)
    assert LINK_RULE in {rule.rule for rule in web.url_map.iter_rules(LINK_ENDPOINT)}
    addresses = []
    for app in (web, worker):
        with app.app_context():
            addresses.append(external_url(LINK_ENDPOINT, token="AbC-123_x"))
    assert addresses == ["https://selfcheck.example/i/AbC-123_x"] * 2
    from checker.urls import fhir_canon
    from checker.worker import FHIR_ENDPOINT, FHIR_RULE

    assert FHIR_RULE in {rule.rule for rule in web.url_map.iter_rules(FHIR_ENDPOINT)}
    canons = []
    for app in (web, worker):  # the canonical names it files into an EHR are the web app's
        with app.app_context():
            canons.append(fhir_canon().questionnaire)
    assert canons == ["https://selfcheck.example/api/v1/fhir/Questionnaire/synkinesis-self-check"] * 2
    assert "questionnaire.question_page" in web.view_functions
    assert "questionnaire.question_page" not in worker.view_functions  # no pages


def test_the_lean_worker_says_what_is_wrong_in_one_line() -> None:
    env = {**os.environ, "CHECKER_LOG_FORMAT": "xml"}
    done = subprocess.run([sys.executable, "-m", "checker.worker", "--once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: CHECKER_LOG_FORMAT must be 'text' or 'json', not 'xml'"


def test_the_alert_rules_watch_metrics_the_app_serves(db_app: Flask) -> None:
    """deploy/alerts.yml: every series an alert reads is one /metrics has (a renamed metric
    would leave an alert watching nothing, silently)."""
    import yaml

    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= {"CheckerOutboxNotRunning", "CheckerErrorRate"}
    client = db_app.test_client()
    client.get("/healthz")
    page = client.get("/metrics").get_data(as_text=True)
    served = set(re.findall(r"^# TYPE (\w+) (\w+)", page, flags=re.MULTILINE))
    names = {name for name, kind in served} | {f"{name}_total" for name, kind in served if kind == "counter"}
    for rule in alerts:
        assert {"expr", "labels", "annotations"} <= rule.keys(), rule["alert"]
        for name in re.findall(r"\bchecker_\w+", rule["expr"]):
            assert name in names, f"{rule['alert']} reads {name}, which /metrics does not serve"
