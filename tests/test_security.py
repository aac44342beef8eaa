"""Headers, cookies and rate limits."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checker import create_app
from checker.engine import RuleSet
from checker.web.limits import rate_limits
from checker.web.security import SecurityHeaders

from .conftest import ROOT, TEST_CONFIG, VIGNETTES, csrf_token, walk


@pytest.mark.parametrize("url", ["/", "/questions/safety", "/api/v1/questionnaire", "/static/checker.css", "/nope"])
def test_security_headers_everywhere(client: FlaskClient, url: str) -> None:
    with client.get(url) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "http" not in csp  # no third-party origin
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in headers  # plain HTTP here


def test_a_response_keeps_security_headers_it_set_itself() -> None:
    def framed(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("x-frame-options", "SAMEORIGIN")])
        return [b"ok"]

    seen: list[tuple[str, str]] = []
    SecurityHeaders(framed)({"wsgi.url_scheme": "https"}, lambda status, headers, exc_info=None: seen.extend(headers))
    names = [name.lower() for name, _ in seen]
    assert names.count("x-frame-options") == 1
    assert ("x-frame-options", "SAMEORIGIN") in seen
    assert "strict-transport-security" in names
    assert "content-security-policy" in names


def test_hsts_over_https(client: FlaskClient) -> None:
    response = client.get("/", base_url="https://clinic.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_behind_a_trusted_proxy() -> None:
    app = create_app({**TEST_CONFIG, "PROXIES": 1})
    response = app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in response.headers
    untrusted = create_app(TEST_CONFIG).test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in untrusted.headers


def test_production_session_cookie_flags() -> None:
    app = create_app(
        {
            **TEST_CONFIG,
            "ENV": "production",
            "BASE_URL": "https://selfcheck.clinic.example",
            "SECRET_KEY": "5f1c0e9a7b3d28c64e0f9a1b7c3d5e2f8a6b4c0d9e1f3a5b7c9d0e2f4a6b8c1d",
        }
    )
    client = app.test_client()
    response = client.get("/questions/safety", base_url="https://clinic.example")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_templates_have_no_inline_script_or_style() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        if path.parent.name == "pdf":
            continue  # PDFs are made by WeasyPrint, never served as pages
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert " style=" not in text, path
        assert "<style" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path


@pytest.fixture
def limited() -> Flask:
    app = create_app(
        {
            **TEST_CONFIG,
            "RATELIMIT_ENABLED": True,
            "RATE_LIMIT_API": "3 per minute",
            "RATE_LIMIT_SIGN_IN": "2 per minute",
            "RATE_LIMIT_REQUESTS": "2 per minute",
            "RATE_LIMIT_QUESTIONS": "3 per minute",
        }  # fmt: skip
    )
    with app.app_context():
        rate_limits().reset()
    return app


def test_api_limit_answers_429_json(limited: Flask) -> None:
    client = limited.test_client()
    statuses = [client.post("/api/v1/assess", json={"answers": VIGNETTES[0]["answers"]}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.post("/api/v1/assess", json={"answers": {}})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60  # when the minute's window ends
    assert response.get_json() == {"errors": {"request": "Too many requests. Please wait a minute and try again."}}


def test_form_limits_answer_a_429_page(limited: Flask) -> None:
    client = limited.test_client()
    page = client.get("/staff/sign-in").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "email": "a@b.example", "password": "wrong wrong wrong"}
    statuses = [client.post("/staff/sign-in", data=data).status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert "Please wait a moment" in client.post("/staff/sign-in", data=data).get_data(as_text=True)
    assert client.get("/staff/sign-in").status_code == 200  # reading the page is not limited
    questions = [client.post("/questions/safety", data={"csrf_token": csrf_token(page)}).status_code for _ in range(4)]
    assert questions[-1] == 429
    # Correcting mistakes in the consultation form never locks a person out: only stored requests count.
    requests = [
        client.post("/request-consultation", data={"csrf_token": csrf_token(page)}).status_code for _ in range(6)
    ]
    assert requests == [422] * 6


def test_stored_consultation_requests_are_limited(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(
        {
            **TEST_CONFIG,
            "RATELIMIT_ENABLED": True,
            "RATE_LIMIT_REQUESTS": "2 per minute",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}",
        }  # fmt: skip
    )
    with app.app_context():
        upgrade()
        rate_limits().reset()
    client = app.test_client()
    page = client.get("/request-consultation").get_data(as_text=True)
    wrong = {"csrf_token": csrf_token(page), "name": "Ana", "contact_time": "any", "consent": "y"}  # no phone or email
    right = {**wrong, "phone": "555 123 4567"}
    statuses = [client.post("/request-consultation", data=data).status_code for data in (wrong, wrong, right, right)]
    assert statuses == [422, 422, 302, 302]
    assert client.post("/request-consultation", data=right).status_code == 429


def test_parallel_consultation_requests_are_counted_before_they_are_stored(tmp_path: Path) -> None:
    """Twenty at once from one address against a limit of five: five stored, never more."""
    import threading

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from checker.db import db
    from checker.models import ConsultationRequest

    app = create_app(
        {**TEST_CONFIG, "RATELIMIT_ENABLED": True, "RATE_LIMIT_REQUESTS": "5 per minute",
         "DATABASE_URL": f"sqlite:///{tmp_path / 'burst.db'}"}
    )  # fmt: skip
    with app.app_context():
        upgrade()
        rate_limits().reset()
    clients = [app.test_client() for _ in range(20)]
    forms = [csrf_token(c.get("/request-consultation").get_data(as_text=True)) for c in clients]
    start, statuses = threading.Barrier(20), [0] * 20

    def send(number: int) -> None:
        data = {"csrf_token": forms[number], "name": "Ana", "phone": "555 123 4567", "contact_time": "any",
                "consent": "y"}  # fmt: skip
        start.wait()
        statuses[number] = clients[number].post("/request-consultation", data=data).status_code

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(ConsultationRequest))
        db.engine.dispose()
    assert sorted(statuses) == [302] * 5 + [429] * 15
    assert stored == 5


def test_limits_are_kept_where_the_configuration_says() -> None:
    from limits.storage import MemoryStorage, RedisStorage

    with create_app(TEST_CONFIG).app_context():
        assert isinstance(rate_limits().storage, MemoryStorage)
    with create_app({**TEST_CONFIG, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"}).app_context():
        assert isinstance(rate_limits().storage, RedisStorage)


def test_patient_pages_set_only_the_session_cookie(client: FlaskClient) -> None:
    response = client.get("/questions/safety")
    cookies = response.headers.getlist("Set-Cookie")
    assert [c.split("=", 1)[0] for c in cookies] == ["session"]


def test_pages_with_answers_or_records_are_never_cached(client: FlaskClient) -> None:
    for url in (
        "/",
        "/questions/safety",
        "/check-answers",
        "/result",
        "/urgent",
        "/staff/sign-in",
        "/api/v1/questionnaire",
    ):
        assert client.get(url).headers.get("Cache-Control") == "no-store", url
    with client.get("/static/checker.css") as static:
        assert static.headers.get("Cache-Control") != "no-store"


def test_every_pdf_route_has_its_own_rate_limit(rules: RuleSet) -> None:
    """Rendering is the costliest work: one client cannot ask for PDFs without end."""
    app = create_app({**TEST_CONFIG, "RATELIMIT_ENABLED": True, "RATE_LIMIT_PDF": "2 per minute"})
    client = app.test_client()
    walk(client, rules, VIGNETTES[0]["answers"])
    assert [client.get("/result.pdf").status_code for _ in range(3)] == [200, 200, 429]
    api = app.test_client()
    body = {"answers": VIGNETTES[0]["answers"]}
    assert [api.post("/api/v1/report.pdf", json=body).status_code for _ in range(3)] == [200, 200, 429]


def test_limits_in_memory_start_no_threads_and_sweep_old_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's memory storage starts a timer thread again and again under load; ours sweeps inline."""
    import threading

    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from checker.web.limits import SweptMemoryStorage

    storage = SweptMemoryStorage()
    counter = FixedWindowRateLimiter(storage)
    started = threading.active_count()
    item = parse("5 per second")
    assert [counter.hit(item, "api", "10.0.0.1") for _ in range(6)] == [True] * 5 + [False]
    for number in range(200):
        counter.hit(item, "api", f"10.0.1.{number}")
    assert threading.active_count() == started
    assert len(storage.storage) == 201
    sweep_due, windows_ended = time.monotonic() + 2, time.time() + 2
    monkeypatch.setattr(time, "monotonic", lambda: sweep_due)
    monkeypatch.setattr(time, "time", lambda: windows_ended)
    counter.hit(item, "api", "10.0.0.2")
    assert len(storage.storage) == 1


def test_every_form_refuses_nul_characters() -> None:
    """Each form class of the app (the question pages' too) reports a NUL as a field error."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import checker
    from checker.questionnaire.forms import build_forms
    from checker.web.security import Form

    for module in pkgutil.walk_packages(checker.__path__, "checker."):
        importlib.import_module(module.name)
    found: list[type] = []
    pending: list[type] = [FlaskForm]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("checker."):
                found.append(sub)
    with create_app(TEST_CONFIG).app_context():
        from checker.rules import current_rules

        found += build_forms(current_rules()).values()
    assert len(found) > 15
    assert [form.__name__ for form in found if not issubclass(form, Form)] == []


def test_a_json_body_is_never_taken_as_a_form(client: FlaskClient, rules: RuleSet) -> None:
    """Flask-WTF reads JSON as form data; here it would skip the NUL screening and tamper checks."""
    first = rules.pages[0]
    case = VIGNETTES[0]["answers"]
    answers = {q.id: case[q.id] for q in first.questions if q.id in case}
    answers["csrf_token"] = csrf_token(client.get(f"/questions/{first.id}").get_data(as_text=True))
    posted = client.post(f"/questions/{first.id}", data=json.dumps(answers), content_type="application/json")
    assert posted.status_code == 200  # the page again, nothing saved
    assert client.get("/check-answers").headers["Location"] == f"/questions/{first.id}"
    broken = client.post("/start-again", data="{not json", content_type="application/json")
    assert broken.status_code == 302  # an empty form, not a 400 from reading the JSON


def test_a_form_token_is_signed_only_when_a_page_shows_it(client: FlaskClient) -> None:
    """A posted form that ends in a redirect signs no new token; one that is shown does, and it is valid."""
    from flask import g

    from checker.questionnaire.forms import ActionForm

    app = client.application
    with app.test_request_context("/start-again", method="POST", data={"csrf_token": "x"}):
        form = ActionForm()
        assert "csrf_token" not in g  # made, and even checked, without signing one
        assert not form.validate()
        assert "csrf_token" not in g
        shown = str(form.csrf_token)
        assert g.csrf_token in shown
    page = client.get("/questions/safety").get_data(as_text=True)
    answers = {name: "no" for name in re.findall(r'name="(rf_[a-z_]+)"', page)}
    response = client.post("/questions/safety", data={"csrf_token": csrf_token(page), **answers})
    assert response.status_code == 302
    assert response.location.endswith("/questions/cause")


def test_fields_not_sent_give_the_default_without_an_exception(client: FlaskClient) -> None:
    """Query and form fields: ``get`` of a name not sent returns the default (werkzeug's raised
    and caught an HTTP exception for it); what was sent reads as before, converted or not."""
    from flask import request

    from checker.web.security import Fields

    app = client.application
    with app.test_request_context("/?n=7&n=8&word=x", method="POST", data={"a": "1"}):
        assert isinstance(request.args, Fields)
        assert isinstance(request.form, Fields)
        assert request.args.get("missing") is None
        assert request.form.get("missing", "d") == "d"
        assert request.args.get("n") == "7"
        assert request.args.get("n", type=int) == 7
        assert request.args.get("word", -1, type=int) == -1  # not a number: the default, as before
        assert request.args.getlist("n") == ["7", "8"]
        assert request.form.get("a") == "1"
    with app.test_request_context("/?a%00b=c", method="POST", data={"x\x00": "y"}):
        assert isinstance(request.form, Fields)
        assert request.form.get("x") == "y"


def test_the_form_token_is_written_as_wtforms_writes_it(app: Flask) -> None:
    """The token field writes its hidden input itself (a twentieth of a page's work, through
    WTForms' general widget): the same markup, and the widget still does any attributes."""
    from wtforms.csrf.core import CSRFTokenField

    from checker.questionnaire.forms import ActionForm

    with app.test_request_context("/"):
        token = ActionForm().csrf_token
        written = token.__html__()
        assert written == CSRFTokenField.__call__(token)
        assert re.fullmatch(r'<input id="csrf_token" name="csrf_token" type="hidden" value="[\w.-]{40,}">', written)
        with_class = token(class_="x")
        assert 'class="x"' in with_class
        assert with_class == CSRFTokenField.__call__(token, class_="x")
