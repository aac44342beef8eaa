"""Hostile and random input (Hypothesis): never a 500 or a traceback, never a stored row from an
invalid submission, and the same input always gives the same result."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from checker.db import db
from checker.engine import AnswerErrors, Kind, RuleSet, assess, load_rules
from checker.models import ConsultationRequest

from .conftest import RULES_PATH, csrf_token

RULES = load_rules(RULES_PATH)
QUESTION_IDS = list(RULES.questions)
FIXTURES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def any_code(question_id: str) -> st.SearchStrategy[Any]:
    question = RULES.questions[question_id]
    codes = list(question.codes)
    if question.kind is Kind.TEXT:
        return st.text(st.characters(exclude_characters="\x00"), max_size=1200)  # a NUL is never valid
    if question.kind is Kind.SEVERAL:
        return st.lists(st.sampled_from(codes), min_size=1, max_size=4)
    return st.sampled_from(codes)


messy_answers = st.dictionaries(
    st.sampled_from(QUESTION_IDS) | st.text(max_size=12),
    json_values | st.sampled_from(["yes", "no", "none", 1, 5, ["none", "surgery"]]),
    max_size=30,
)


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, Any]:
    answers = {qid: draw(any_code(qid)) for qid in QUESTION_IDS}
    treatments = answers["treatments"]
    if "none" in treatments and len(set(treatments)) > 1:
        answers["treatments"] = ["none"]
    answers["notes"] = answers["notes"][:1000]
    return answers


@given(messy_answers)
@settings(max_examples=400, deadline=None)
def test_engine_never_fails_except_with_answer_errors(answers: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    try:
        first = assess(RULES, answers).to_json(trace=True)
    except AnswerErrors as exc:
        errors = exc.errors
    if errors:
        return  # invalid answers are named, never a crash
    assert assess(RULES, answers).to_json(trace=True) == first


@given(valid_answers())
@settings(max_examples=300, deadline=None)
def test_valid_answers_always_give_a_sound_result(answers: dict[str, Any]) -> None:
    result = assess(RULES, answers)
    assert result.triage in RULES.severity
    if result.stopped:
        assert result.outcome is None
    else:
        assert result.outcome in RULES.outcomes
        assert result.reasons
        # The score exists exactly when the linked-movement page was asked.
        assert (result.saq_total is not None) == any(p.id == "linked" for p in result.plan.asked)
        assert result.saq_total is None or 20.0 <= result.saq_total <= 100.0
    assert assess(RULES, answers).to_json() == result.to_json()


@given(json_values)
@FIXTURES
def test_api_answers_200_or_400_to_any_json(client: FlaskClient, body: Any) -> None:
    response = client.post("/api/v1/assess", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400)
    assert response.is_json


@given(messy_answers)
@FIXTURES
def test_api_is_deterministic(client: FlaskClient, answers: dict[str, Any]) -> None:
    first = client.post("/api/v1/assess", json={"answers": answers})
    second = client.post("/api/v1/assess", json={"answers": answers})
    assert first.status_code in (200, 400)
    assert first.get_json() == second.get_json()


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
@FIXTURES
def test_cli_prints_json_and_exits_0_or_1(app: Flask, raw: bytes) -> None:
    result = app.test_cli_runner().invoke(args=["assess", "-"], input=raw)
    assert result.exit_code in (0, 1)
    assert isinstance(json.loads(result.output), dict)


form_values = st.lists(st.text(max_size=40) | st.sampled_from(["yes", "no", "1", "5", "none", "surgery"]), max_size=3)


@given(st.sampled_from([p.id for p in RULES.pages]), st.dictionaries(st.sampled_from(QUESTION_IDS), form_values))
@FIXTURES
def test_question_pages_never_fail(
    client: FlaskClient, rules: RuleSet, page_id: str, data: dict[str, list[str]]
) -> None:
    token = csrf_token(client.get("/questions/safety").get_data(as_text=True))
    response = client.post(f"/questions/{page_id}", data={"csrf_token": token, **data})
    assert response.status_code in (200, 302, 400)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.text(max_size=200),
            "phone": st.text(max_size=50),
            "email": st.text(max_size=300),
            "contact_time": st.text(max_size=12) | st.sampled_from(["morning", "any"]),
            "consent": st.sampled_from(["y", "", "no"]),
            "message": st.text(max_size=1200),
        },
    )
)
@FIXTURES
def test_invalid_consultation_requests_store_nothing(db_app: Flask, data: dict[str, str]) -> None:
    client = db_app.test_client()
    with db_app.app_context():
        before = db.session.scalar(select(func.count(ConsultationRequest.id)))
    token = csrf_token(client.get("/request-consultation").get_data(as_text=True))
    response = client.post("/request-consultation", data={"csrf_token": token, **data})
    assert response.status_code in (302, 422)
    with db_app.app_context():
        after = db.session.scalar(select(func.count(ConsultationRequest.id)))
    assert after == before + (1 if response.status_code == 302 else 0)
