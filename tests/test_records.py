"""Stored submissions are shown as they were made, whatever today's rules say (SPEC section 7)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from checker.db import db
from checker.engine import RuleSet, assess
from checker.models import Submission
from checker.stored import archived_rules

from .conftest import make_staff, sign_in
from .test_reports_and_fhir import pdf_text

# Answers sent under rules 2026.1: no eye_closure question, the stroke question without a time frame.
ANSWERS_2026_1 = {
    "rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no", "rf_progressive": "no",
    "cause": "ramsay_hunt", "time_since_onset": "6m_12m", "initial_severity": "complete", "recovery": "mostly",
    "saq_eye_smile": 4, "saq_eye_speak": 3, "saq_eye_pucker": 4, "saq_neck_smile": 2, "saq_face_tight_eyes": 1,
    "saq_mouth_eyes": 3, "saq_neck_eyes": 1, "saq_tears_eating": 1, "saq_chin_dimple": 1, "twitching": "never",
    "asymmetry": "slight", "tightness_rest": "sometimes", "pattern": "consistent", "daily_impact": "moderate",
    "treatments": ["none"], "notes": "Worse when tired.",
}  # fmt: skip


def old_rules() -> RuleSet:
    found = [r for r in archived_rules().values() if r.version == "2026.1"]
    assert len(found) == 1, "the shipped 2026.1 rules file must still compile"
    return found[0]


def store_as_2026_1(app: Flask, reason: str | None = None) -> int:
    """A submission as the 2026.1 release stored it: the API's JSON, nothing more."""
    made = assess(old_rules(), ANSWERS_2026_1)
    result = made.to_json()
    if reason is not None:
        result["reasons"] = [{"rule": "stage-3", "text": reason}]
    with app.app_context():
        record = Submission(
            answers=ANSWERS_2026_1,
            result=result,
            outcome=made.outcome,
            triage=made.triage,
            saq_total=made.saq_total,
            rules_version=made.rules.version,
            rules_sha256=made.rules.sha256,
        )
        db.session.add(record)
        db.session.commit()
        return record.id


def test_a_2026_1_submission_opens_prints_and_exports_as_it_was(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    # The stored reason differs from anything today's rules would write: it must be what is shown.
    record_id = store_as_2026_1(db_app, reason="The reason exactly as this patient was shown it.")
    page = db_client.get(f"/staff/submissions/{record_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "The reason exactly as this patient was shown it." in html
    assert "Established synkinesis" in html
    assert "44.4" in html
    assert "2026.1 (26478a2f4ee6)" in html
    assert "Did your face droop suddenly, together with any of these?" in html  # 2026.1's wording, as asked
    assert "Is this new: in the last few days" not in html
    assert re.search(r"Today(&#39;|')s rules \(2026\.2\) would read it differently:\s*they ask questions", html)
    assert "eye_closure" in html

    pdf = db_client.get(f"/staff/submissions/{record_id}.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert "The reason exactly as this patient was shown it." in " ".join(text.split())
    assert "Rules 2026.1 (26478a2f4ee6)" in text

    fhir = db_client.get(f"/staff/submissions/{record_id}.fhir.json")
    assert fhir.status_code == 200
    bundle = json.loads(fhir.data)
    assert bundle["meta"]["tag"][0]["code"] == "rules-2026.1"
    response = bundle["entry"][0]["resource"]
    assert response["questionnaire"].endswith("|2026.1")
    observations = {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in bundle["entry"][1:]}
    assert observations["outcome"]["valueCodeableConcept"]["coding"][0]["code"] == "stage-3"
    assert observations["outcome"]["note"][0]["text"] == "The reason exactly as this patient was shown it."
    assert observations["saq-total"]["valueQuantity"]["value"] == 44.4


def test_today_s_different_reading_is_a_notice_not_a_change(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    rules = db_app.extensions["checker.rules"]
    answers = {**ANSWERS_2026_1, "eye_closure": "yes"}
    today = assess(rules, answers)
    assert today.outcome == "stage-3"
    with db_app.app_context():
        # As an earlier release of the rules (another file, another sha256) saw the same answers.
        record = Submission.of(answers, today)
        record.result = {**record.result, "outcome": "stage-2", "reasons": [{"rule": "stage-2", "text": "Then."}]}
        record.result.pop("reason_templates")
        record.outcome, record.rules_version, record.rules_sha256 = "stage-2", "2026.0", "0" * 64
        db.session.add(record)
        db.session.commit()
        record_id = record.id
    html = db_client.get(f"/staff/submissions/{record_id}").get_data(as_text=True)
    heading = re.search(r"<h1[^>]*>\s*(.*?)\s*</h1>", html, re.S)
    assert heading is not None
    assert heading.group(1) == "Early signs"  # the stored stage, not today's
    assert "Then." in html
    notice = html[html.index("would read it differently") :][:600]
    assert "Established synkinesis" in notice


def test_a_new_submission_keeps_reasons_that_read_in_spanish(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    rules = db_app.extensions["checker.rules"]
    answers = {**ANSWERS_2026_1, "eye_closure": "yes"}
    with db_app.app_context():
        record = Submission.of(answers, assess(rules, answers))
        db.session.add(record)
        db.session.commit()
        record_id = record.id
    english = db_client.get(f"/staff/submissions/{record_id}").get_data(as_text=True)
    assert "would read it differently" not in english  # made with today's rules: no notice
    spanish = db_client.get(f"/staff/submissions/{record_id}?lang=es").get_data(as_text=True)
    assert "The weakness started" not in spanish  # the reasons are rebuilt from their templates, translated


def test_a_damaged_stored_result_still_opens(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    rules = db_app.extensions["checker.rules"]
    answers = {**ANSWERS_2026_1, "eye_closure": "yes"}
    with db_app.app_context():
        record = Submission.of(answers, assess(rules, answers))
        broken = [{"rule": "stage-3", "template": "{x}", "values": {"x": {"nested": 1}}}, {"no": "keys"}]
        record.result = {**record.result, "reason_templates": broken}
        db.session.add(record)
        db.session.commit()
        record_id = record.id
    for suffix in ("", ".pdf", ".fhir.json"):
        assert db_client.get(f"/staff/submissions/{record_id}{suffix}").status_code == 200
    html = db_client.get(f"/staff/submissions/{record_id}").get_data(as_text=True)
    assert "The weakness started between 6 and 12 months ago" in html  # the stored text, as shown then


def test_the_rules_file_is_kept_with_the_first_result_it_makes(db_app: Flask, db_client: FlaskClient) -> None:
    from sqlalchemy import select

    from checker.models import RulesText
    from checker.stored import new_submission

    rules = db_app.extensions["checker.rules"]
    answers = {**ANSWERS_2026_1, "eye_closure": "yes"}
    with db_app.app_context():
        for _ in range(2):
            db.session.add(new_submission(answers, assess(rules, answers)))
            db.session.commit()
        kept = db.session.scalars(select(RulesText)).all()
        assert [(k.sha256, k.version) for k in kept] == [(rules.sha256, "2026.2")]
        assert hashlib.sha256(kept[0].text.encode()).hexdigest() == rules.sha256  # the file, byte for byte


def test_a_rules_file_known_only_to_the_database_still_words_its_submissions(
    db_app: Flask, db_client: FlaskClient
) -> None:
    """A clinic's own edited file, long replaced: its words come back from the database."""
    from checker.engine import load_rules_text
    from checker.models import RulesText

    current_text = db_app.extensions["checker.rules_text"]
    edited = current_text.replace("Does the eye on the weak side close all the way?", "Can you shut that eye fully?")
    old = load_rules_text(edited, "clinic-rules.yaml")
    answers = {**ANSWERS_2026_1, "eye_closure": "yes"}
    with db_app.app_context():
        db.session.add(RulesText(sha256=old.sha256, version=old.version, text=edited))
        db.session.add(Submission.of(answers, assess(old, answers)))
        db.session.commit()
    make_staff(db_app)
    sign_in(db_client)
    html = db_client.get("/staff/submissions/1").get_data(as_text=True)
    assert "Can you shut that eye fully?" in html


def test_rules_check_against_the_database_lists_what_would_read_differently(db_app: Flask, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    url = db_app.config["SQLALCHEMY_DATABASE_URI"]
    store_as_2026_1(db_app)
    rules = db_app.extensions["checker.rules"]
    answers = {**ANSWERS_2026_1, "eye_closure": "yes"}
    with db_app.app_context():
        same = Submission.of(answers, assess(rules, answers))
        changed = Submission.of(answers, assess(rules, answers))
        changed.result = {**changed.result, "outcome": "stage-2"}
        db.session.add_all([same, changed])
        db.session.commit()
    env = {**os.environ, "CHECKER_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "checker", "rules", "check", "--against-database"],
        env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[1] == "submission 1 (rules 2026.1): needs answers it does not have or does not accept: eye_closure"
    assert lines[2] == "submission 3 (rules 2026.2): outcome stage-2 -> stage-3"
    assert lines[3] == "3 stored submissions: 1 read the same, 2 differently"
