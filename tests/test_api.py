"""The JSON API of SPEC section 5, with every error behaviour."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from checker.engine import RuleSet

from .conftest import VIGNETTES


@pytest.mark.parametrize("case", VIGNETTES, ids=[c["name"] for c in VIGNETTES])
def test_assess_matches_the_worked_cases(client: FlaskClient, case: dict[str, Any]) -> None:
    response = client.post("/api/v1/assess", json={"answers": case["answers"]})
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["outcome", "triage", "red_flags", "saq", "reasons", "rules"]
    assert body["outcome"] == case["expect"]["outcome"]
    assert body["triage"] == case["expect"]["triage"]
    assert body["red_flags"] == case["expect"]["red_flags"]
    if case["expect"]["saq_total"] is None:
        assert body["saq"] is None
    else:
        assert body["saq"]["total"] == pytest.approx(case["expect"]["saq_total"], abs=0.05)
    if body["outcome"] is not None:
        assert body["reasons"]
        assert all(r["rule"] == body["outcome"] and r["text"] for r in body["reasons"])


def test_assess_reports_the_rules_version_and_hash(client: FlaskClient, rules: RuleSet) -> None:
    body = client.post("/api/v1/assess", json={"answers": VIGNETTES[0]["answers"]}).get_json()
    assert body["rules"] == {"version": rules.version, "sha256": rules.sha256}


def test_assess_trace_on_request(client: FlaskClient) -> None:
    body = client.post("/api/v1/assess?trace=1", json={"answers": VIGNETTES[4]["answers"]}).get_json()
    assert body["trace"]["outcome_rules"][-1]["outcome"] == "stage-3"
    assert "trace" not in client.post("/api/v1/assess", json={"answers": VIGNETTES[4]["answers"]}).get_json()
    other = client.post("/api/v1/assess?x=1&trace=true", json={"answers": VIGNETTES[4]["answers"]}).get_json()
    assert "trace" in other
    assert "trace" not in client.post("/api/v1/assess?trace=0", json={"answers": VIGNETTES[4]["answers"]}).get_json()


def test_every_problem_is_listed(client: FlaskClient) -> None:
    answers = copy.deepcopy(VIGNETTES[4]["answers"])
    answers["rf_eye"] = "perhaps"
    answers["saq_eye_smil"] = 3
    del answers["pattern"]
    response = client.post("/api/v1/assess", json={"answers": answers})
    assert response.status_code == 400
    assert response.get_json() == {
        "errors": {
            "rf_eye": "'perhaps' is not one of: yes, no",
            "saq_eye_smil": "unknown question id (did you mean 'saq_eye_smile'?)",
            "pattern": "an answer is required",
        }
    }


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        ('"answers"', "body"),
        ('{"answers": [1]}', "answers"),
        ("{}", "answers"),
        ('{"answers": {}, "extra": 1}', "body"),
        ("[" * 20_000 + "]" * 20_000, "body"),
        ('{"answers": {"rf_eye": "\\ud800"}}', "body"),  # half a UTF-16 pair is not text
        ('{"answers": {"rf_\\ud800": "yes"}}', "body"),  # in a key it made a 500 once
    ],
)
def test_malformed_bodies_are_400(client: FlaskClient, body: str, key: str) -> None:
    response = client.post("/api/v1/assess", data=body, content_type="application/json")
    assert response.status_code == 400
    assert key in response.get_json()["errors"]


def test_non_utf8_body_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/assess", data=b'{"answers": {"\xff": 1}}', content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_other_content_types_are_415(client: FlaskClient, content_type: str | None) -> None:
    response = client.post("/api/v1/assess", data=json.dumps({"answers": {}}), content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["errors"]["body"]


def test_bodies_over_64_kib_are_413(client: FlaskClient) -> None:
    answers = dict(VIGNETTES[0]["answers"], notes="x" * (65 * 1024))
    response = client.post("/api/v1/assess", json={"answers": answers})
    assert response.status_code == 413
    assert "64 KiB" in response.get_json()["errors"]["body"]


def test_json_errors_for_wrong_method_and_path(client: FlaskClient) -> None:
    assert client.get("/api/v1/assess").status_code == 405
    assert client.get("/api/v1/assess").get_json()["errors"]
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.get_json() == {"errors": {"request": "There is no such endpoint."}}


def test_assess_needs_no_csrf_token_and_sets_no_cookie(client: FlaskClient) -> None:
    response = client.post("/api/v1/assess", json={"answers": VIGNETTES[0]["answers"]})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_questionnaire_catalogue(client: FlaskClient, rules: RuleSet) -> None:
    body = client.get("/api/v1/questionnaire").get_json()
    assert body["rules"]["version"] == rules.version
    assert body["language"] == "en"
    questions = {q["id"]: q for page in body["pages"] for q in page["questions"]}
    assert list(questions) == list(rules.questions)
    assert [o["code"] for o in questions["saq_eye_smile"]["options"]] == [1, 2, 3, 4, 5]
    assert questions["treatments"]["alone"] == ["none"]
    assert questions["notes"]["required"] is False
    pages = {page["id"]: page for page in body["pages"]}
    assert pages["weakness"]["ask_when"] == {"answer": "cause", "is_not": "none"}
    assert body["stop_when"] == [{"red_flag": "stroke_signs", "when": {"answer": "rf_stroke_signs", "is": "yes"}}]


def test_stroke_yes_is_the_emergency_whatever_later_pages_hold(client: FlaskClient) -> None:
    answers = {"rf_stroke_signs": "yes", "cause": "not-a-cause", "saq_eye_smile": 9, "treatments": "none"}
    body = client.post("/api/v1/assess", json={"answers": answers}).get_json()
    assert (body["triage"], body["outcome"], body["saq"]) == ("emergency", None, None)


@pytest.mark.parametrize(
    "others",
    [
        {"rf_eye": "maybe"},
        {"rf_ear_rash": True, "rf_both_sides": 3},
        {"no_such_question": 1},
        {"rf_eye": "yes", "x": 1},
    ],
)
def test_stroke_yes_comes_before_every_other_problem(client: FlaskClient, others: dict[str, Any]) -> None:
    """A bad code on the safety page itself, or an id outside the contract: the emergency still
    comes first, as on the pages (an answer it cannot read is left out, never a 400 first)."""
    answered = client.post("/api/v1/assess", json={"answers": {"rf_stroke_signs": "yes", **others}})
    assert answered.status_code == 200
    body = answered.get_json()
    assert (body["triage"], body["outcome"], body["red_flags"][0]) == ("emergency", None, "stroke_signs")
    assert ("eye_exposure" in body["red_flags"]) == (others.get("rf_eye") == "yes")  # those given are reported


def test_the_catalogue_is_in_the_language_the_address_asks_for(client: FlaskClient) -> None:
    spanish = client.get("/api/v1/questionnaire?lang=es").get_json()
    assert spanish["language"] == "es"
    assert "¿Tiene débiles los dos lados de la cara?" in str(spanish)
    assert client.get("/api/v1/questionnaire?lang=es").headers.get("Set-Cookie") is None  # nothing remembered
    assert client.get("/api/v1/questionnaire").get_json()["language"] == "en"
    assert client.get("/api/v1/questionnaire?lang=xx").get_json()["language"] == "en"


def test_a_flood_of_unknown_keys_gets_a_short_answer(client: FlaskClient) -> None:
    """64 KiB of near-miss question ids: a bounded list, not a did-you-mean for each."""
    answers = {f"rf_eye{n}": "yes" for n in range(2800)}
    answers["x" * 5000] = "yes"
    body = json.dumps({"answers": answers})
    assert len(body) < 65_536
    response = client.post("/api/v1/assess", data=body, content_type="application/json")
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert len(response.data) < 5_000
    assert errors["rf_eye0"] == "unknown question id (did you mean 'rf_eye'?)"
    assert errors["answers"] == "2781 more unknown question ids, not listed"
    assert sum(1 for message in errors.values() if message.startswith("unknown question id")) == 20


@pytest.mark.parametrize("path", ["/api/v1/assess", "/api/v1/report.pdf", "/api/v1/report.fhir.json"])
@pytest.mark.parametrize(
    "surrogate",
    [b"\\ud83d", b"\xed\xa0\xbd"],  # escaped, and as the (invalid) UTF-8 bytes of one
)
def test_a_lone_surrogate_in_a_note_is_a_400(client: FlaskClient, path: str, surrogate: bytes) -> None:
    body = b'{"answers": {"rf_stroke_signs": "no", "notes": "tight ' + surrogate + b' in the mornings"}}'
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"errors": {"body": "not valid JSON"}}


@pytest.mark.parametrize("path", ["/api/v1/assess", "/api/v1/report.pdf", "/api/v1/report.fhir.json"])
def test_a_nul_in_a_note_is_a_field_error(client: FlaskClient, path: str) -> None:
    body = {"answers": {"rf_stroke_signs": "no", "notes": "tight\u0000 in the mornings"}}
    response = client.post(path, json=body)
    assert response.status_code == 400
    assert response.get_json()["errors"]["notes"] == "must not contain the NUL character"
