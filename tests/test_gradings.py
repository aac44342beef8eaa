"""Clinicians' gradings on a case: saved with the server's scores, amended as new versions,
never edited; refused with a field error when wrong; audited; merged and purged with the case."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from checker.cases import merge
from checker.db import db, utcnow
from checker.engine import RuleSet
from checker.grading import SCALES
from checker.models import AuditEvent, Case, Grading, GradingVersion, Submission
from checker.retention import purge

from .conftest import csrf_token, seed_case_over_months
from .test_clinic import text_of

TYPICAL = {  # Sunnybrook: resting 10, voluntary 72, synkinesis 8, composite 54 (tests/test_grading.py)
    "rest_eye": "narrow",
    "rest_cheek": "more",
    "rest_mouth": "normal",
    **{f"move_{k}": v for k, v in zip(("brow", "eye", "smile", "snarl", "pucker"), "35334", strict=True)},
    **{f"synk_{k}": v for k, v in zip(("brow", "eye", "smile", "snarl", "pucker"), "10322", strict=True)},
}


def grade(staff: FlaskClient, case_id: int, scale: str, items: dict[str, str], **fields: str) -> Any:
    token = csrf_token(text_of(staff.get(f"/staff/cases/{case_id}/gradings/{scale}")))
    data = {"csrf_token": token, "side": "left", "visit_on": date.today().isoformat(), **items, **fields}
    return staff.post(f"/staff/cases/{case_id}/gradings/{scale}", data=data)


def test_a_sunnybrook_grading_is_saved_with_the_servers_scores(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    case_id = seed_case_over_months(db_app, rules)
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert "No grading yet." in page
    assert f"/staff/cases/{case_id}/gradings/sunnybrook" in page
    saved = grade(
        staff, case_id, "sunnybrook", TYPICAL, notes="Photos 1 to 9.", composite="100"
    )  # a total sent is ignored
    assert saved.status_code == 302
    shown = text_of(staff.get(saved.headers["Location"]))
    assert "Grading saved." in shown
    assert "Composite 54" in shown
    with db_app.app_context():
        version = db.session.scalars(select(GradingVersion)).one()
        assert version.scores == {"resting": 10, "voluntary": 72, "synkinesis": 8, "composite": 54}
        assert version.item_values == TYPICAL
        assert (version.number, version.side, version.notes, version.reason) == (1, "left", "Photos 1 to 9.", "")
        assert version.rater is not None
        assert version.rater.email == "nurse@clinic.example"
        actions = [
            event.action for event in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))
        ]
        assert "saved grading" in actions
        assert "viewed grading" in actions
    case_page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert "Composite 54" in case_page
    assert "No grading yet." not in case_page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rest_eye": ""}, "Eye (palpebral fissure): Choose one."),
        ({"move_smile": "6"}, "Open-mouth smile: Choose one."),
        ({"synk_eye": "9"}, "Gentle eye closure: Choose one."),
        ({"side": ""}, "Choose the affected side"),
        ({"side": "both"}, "Not a valid choice"),
        ({"visit_on": ""}, "Enter the date, like 2026-03-14"),
        ({"visit_on": (date.today() + timedelta(days=2)).isoformat()}, "not after today"),
        ({"notes": "x" * 2001}, "Write 2000 characters or fewer"),
    ],
)
def test_a_wrong_grading_is_refused_with_its_field_named_and_nothing_saved(
    db_app: Flask, staff: FlaskClient, rules: RuleSet, change: dict[str, str], message: str
) -> None:
    case_id = seed_case_over_months(db_app, rules)
    items = {key: value for key, value in TYPICAL.items() if key not in change}
    fields = {key: value for key, value in change.items() if key not in TYPICAL}
    items |= {key: value for key, value in change.items() if key in TYPICAL}
    refused = grade(staff, case_id, "sunnybrook", items, **fields)
    assert refused.status_code == 200
    page = text_of(refused)
    assert "There is a problem" in page
    assert message in page
    assert 'value="narrow" data-points="1" checked' in page or change.get("rest_eye") == ""  # what was chosen is kept
    with db_app.app_context():
        assert db.session.scalars(select(Grading)).all() == []


def test_an_eface_grading_keeps_every_raw_value_and_refuses_out_of_range(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    case_id = seed_case_over_months(db_app, rules)
    items = {"brow_rest": "80", "fissure_rest": "120", "fold_depth_rest": "50", "commissure_rest": "100"}
    items |= dict(zip(
        ("brow_elevation", "gentle_eye_closure", "full_eye_closure", "fold_depth_smile",
         "fold_orientation_smile", "commissure_smile", "lower_lip"),
        ("60", "100", "90", "40", "50", "45", "70"), strict=True,
    ))  # fmt: skip
    items |= {"ocular_synkinesis": "70", "midfacial_synkinesis": "40", "mentalis_synkinesis": "90"}
    items["platysmal_synkinesis"] = "101"
    refused = grade(staff, case_id, "eface", items)
    assert "Platysmal synkinesis: Enter a whole number from 0 to 100." in text_of(refused)
    assert 'value="120"' in text_of(refused)
    items["platysmal_synkinesis"] = "100"
    saved = grade(staff, case_id, "eface", items, side="right")
    assert "Static 77.5" in text_of(staff.get(saved.headers["Location"]))
    with db_app.app_context():
        version = db.session.scalars(select(GradingVersion)).one()
        assert version.scores == {"static": 77.5, "dynamic": 65.0, "synkinesis": 75.0}
        assert version.item_values["fissure_rest"] == 120


def test_an_amendment_is_a_new_version_and_the_first_stays(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    case_id = seed_case_over_months(db_app, rules)
    saved = grade(staff, case_id, "sunnybrook", TYPICAL)
    grading_url = saved.headers["Location"]
    form = text_of(staff.get(f"{grading_url}/amend"))
    assert 'value="narrow" data-points="1" checked' in form  # opened on the latest version
    token = csrf_token(form)
    amended = {**TYPICAL, "synk_smile": "1"}  # synkinesis 8 -> 6, composite 54 -> 56
    data = {"csrf_token": token, "side": "left", "visit_on": date.today().isoformat(), "based_on": "1", **amended}
    no_reason = staff.post(f"{grading_url}/amend", data=data)
    assert "Say why the grading is amended" in text_of(no_reason)
    done = staff.post(f"{grading_url}/amend", data={**data, "reason": "Smile synkinesis graded on the wrong side."})
    assert done.status_code == 302
    page = text_of(staff.get(grading_url))
    assert "Grading amended: version 2." in page
    assert "Composite 56" in page
    assert "Composite 54" in page
    assert "Smile synkinesis graded on the wrong side." in page
    stale = staff.post(f"{grading_url}/amend", data={**data, "reason": "Another change."})  # opened on version 1
    assert "Someone amended this grading after you opened it" in text_of(staff.get(stale.headers["Location"]))
    with db_app.app_context():
        versions = db.session.scalars(select(GradingVersion).order_by(GradingVersion.number)).all()
        assert [(v.number, v.scores["composite"]) for v in versions] == [(1, 54), (2, 56)]
        assert versions[0].item_values == TYPICAL  # the first version is unchanged
        assert db.session.scalar(select(AuditEvent.target).where(AuditEvent.action == "amended grading")).endswith(
            "(sunnybrook, version 2)"
        )


def test_house_brackmann_shows_each_grades_descriptors(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    case_id = seed_case_over_months(db_app, rules)
    form = text_of(staff.get(f"/staff/cases/{case_id}/gradings/house-brackmann"))
    assert "III: Moderate dysfunction" in form
    assert "Closes completely with effort." in form
    saved = grade(staff, case_id, "house-brackmann", {"grade": "III"})
    assert "Grade III" in text_of(staff.get(saved.headers["Location"]))


def test_unknown_scales_and_gradings_are_not_found(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    case_id = seed_case_over_months(db_app, rules)
    assert staff.get(f"/staff/cases/{case_id}/gradings/made-up").status_code == 404
    assert staff.get("/staff/gradings/999").status_code == 404
    assert staff.get("/staff/gradings/999/amend").status_code == 404


def test_gradings_need_a_signed_in_staff_member(db_app: Flask, rules: RuleSet) -> None:
    case_id = seed_case_over_months(db_app, rules)
    anonymous = db_app.test_client()
    for url in (f"/staff/cases/{case_id}/gradings/sunnybrook", "/staff/gradings/1", "/staff/grading"):
        assert anonymous.get(url).status_code == 302
    assert anonymous.post(f"/staff/cases/{case_id}/gradings/sunnybrook", data=TYPICAL).status_code in (302, 400)
    with db_app.app_context():
        assert db.session.scalars(select(Grading)).all() == []


def test_how_grading_works_cites_its_sources(staff: FlaskClient) -> None:
    page = text_of(staff.get("/staff/grading"))
    assert "Ross BG" in page
    assert "Banks CA" in page
    assert "House JW" in page
    assert "Cabrol C" in page
    assert "about 0.48" in page


def _grading(case_id: int, created_at: datetime, composite: int = 54) -> Grading:
    grading = Grading(case_id=case_id, scale="sunnybrook", created_at=created_at)
    grading.versions.append(
        GradingVersion(
            number=1,
            side="left",
            visit_on=created_at.date(),
            item_values=TYPICAL,
            scores={"composite": composite},
            created_at=created_at,
        )
    )
    return grading


def test_a_merge_moves_the_gradings(db_app: Flask) -> None:
    with db_app.app_context():
        source, target = Case(reference="MRN-A"), Case(reference="MRN-B")
        db.session.add_all([source, target])
        db.session.flush()
        db.session.add(_grading(source.id, utcnow()))
        merge(source, target)
        db.session.commit()
        assert db.session.scalars(select(Grading.case_id)).all() == [target.id]


def test_purge_keeps_a_grading_while_any_version_is_recent(db_app: Flask) -> None:
    """Past retention (RETENTION_DAYS, as self-checks): a grading goes, versions and all, once
    even its latest version is old; a case with only a recent grading is kept."""
    now = utcnow()
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    with db_app.app_context():
        gone, kept, amended = Case(reference="gone"), Case(reference="kept"), Case(reference="amended")
        db.session.add_all([gone, kept, amended])
        db.session.flush()
        late = _grading(amended.id, old)
        late.versions.append(
            GradingVersion(number=2, side="left", visit_on=old.date(), item_values={}, scores={}, created_at=recent)
        )
        db.session.add_all([_grading(gone.id, old), _grading(kept.id, recent), late])
        # a self-check past retention on the first case makes purge look at it
        db.session.add(
            Submission(answers={}, result={}, triage="routine", rules_version="x", rules_sha256="y",
                       submitted_at=old, case_id=gone.id)
        )  # fmt: skip
        db.session.commit()
        counts = purge(now)
        assert counts["gradings"] == 1
        assert sorted(db.session.scalars(select(Grading.case_id))) == sorted([kept.id, amended.id])
        assert db.session.scalar(select(func.count()).select_from(GradingVersion)) == 3
        assert db.session.get(Case, gone.id) is None  # nothing left on it
        assert db.session.get(Case, kept.id) is not None


def test_tampered_and_expired_posts_save_nothing_and_keep_what_was_typed(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    case_id = seed_case_over_months(db_app, rules)
    url = f"/staff/cases/{case_id}/gradings/sunnybrook"
    data = {"side": "left", "visit_on": date.today().isoformat(), **TYPICAL}
    expired = staff.post(url, data=data)  # no CSRF token: as after a lapsed session
    page = text_of(expired)
    assert expired.status_code == 200
    assert "The form had expired. Nothing was saved" in page
    assert 'value="narrow" data-points="1" checked' in page  # the grading is still on the page
    token = csrf_token(page)
    padded = staff.post(url, data={**data, "csrf_token": token, "move_brow": "3" + " " * 40 + "x"})
    assert "Forehead wrinkle (brow lift): Choose one." in text_of(padded)
    huge = staff.post(url, data={**data, "csrf_token": token, "rest_mouth": "n" * 100_000})
    assert huge.status_code in (200, 413)
    assert "n" * 21 not in text_of(huge)
    with db_app.app_context():
        assert db.session.scalars(select(Grading)).all() == []
    saved = grade(staff, case_id, "sunnybrook", TYPICAL)
    amend = f"{saved.headers['Location']}/amend"
    token = csrf_token(text_of(staff.get(amend)))
    for based_on in ("0", "2", "", "1; DROP TABLE grading"):
        refused = staff.post(amend, data={**data, "csrf_token": token, "reason": "x", "based_on": based_on})
        assert refused.status_code == 302
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GradingVersion)) == 1


MODERATE = {  # Sunnybrook: resting 15, voluntary 48, synkinesis 7, composite 26
    "rest_eye": "narrow",
    "rest_cheek": "less",
    "rest_mouth": "pulled",
    **{f"move_{k}": v for k, v in zip(("brow", "eye", "smile", "snarl", "pucker"), "23223", strict=True)},
    **{f"synk_{k}": v for k, v in zip(("brow", "eye", "smile", "snarl", "pucker"), "21211", strict=True)},
}


def test_three_checks_and_two_gradings_share_one_time_axis_on_the_page_and_the_pdf(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    import io

    import pikepdf

    from .test_cases import _struct_nodes, tagged
    from .test_reports_and_fhir import pdf_text

    case_id = seed_case_over_months(db_app, rules, sums=[26, 21, 17])  # 12 May 2025, 10 Feb and 11 Nov 2026
    grade(staff, case_id, "sunnybrook", MODERATE, visit_on="2025-08-15")
    grade(staff, case_id, "sunnybrook", TYPICAL, visit_on="2026-08-01")
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert "SAQ total and clinician grading over time" in page
    assert page.count('class="trend__point"') == 3
    assert page.count('class="trend__grade"') == 2
    assert page.count('class="trend__event-mark"') == 2  # the toxin sessions, on the same axis
    assert "Sunnybrook 26" in page
    assert "Sunnybrook 54" in page
    assert "+28" in page  # the change between the two gradings
    assert "about 0.48" in page  # the caveat on reading it
    with db_app.app_context():
        latest = db.session.scalar(select(func.max(Submission.id)).where(Submission.case_id == case_id))
    response = staff.get(f"/staff/submissions/{latest}.pdf")
    with pikepdf.open(io.BytesIO(response.data)) as pdf:
        assert len(pdf.pages) == 1
        assert tuple(round(float(v)) for v in pdf.pages[0].MediaBox[2:]) == (612, 792)
        figures = [str(n.get("/Alt", "")) for n in _struct_nodes(pdf.Root.StructTreeRoot) if n.get("/S") == "/Figure"]
    assert tagged(response.data) == []
    assert len(figures) == 1
    assert "Sunnybrook composite at 2 visits: 26 at the first, 54 at the latest" in figures[0]
    text = " ".join(pdf_text(response.data).split())
    assert "Sunnybrook 54" in text
    assert "Composite 54" in text  # the latest grading, with its parts


def test_the_gradings_csv_has_one_row_per_grading_with_every_raw_item_and_score(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    import csv
    import io

    case_id = seed_case_over_months(db_app, rules)
    other = seed_case_over_months(db_app, rules, reference="MRN-OTHER")
    saved = grade(staff, case_id, "sunnybrook", TYPICAL, notes="=HYPERLINK(1)")
    amend = f"{saved.headers['Location']}/amend"
    token = csrf_token(text_of(staff.get(amend)))
    data = {"side": "left", "visit_on": date.today().isoformat(), "based_on": "1", "reason": "Re-graded."}
    staff.post(amend, data={"csrf_token": token, **data, **TYPICAL, "synk_smile": "1", "notes": "=HYPERLINK(1)"})
    grade(staff, case_id, "house-brackmann", {"grade": "III"})
    grade(staff, other, "house-brackmann", {"grade": "II"})
    assert "Download this case's gradings as CSV" in text_of(staff.get(f"/staff/cases/{case_id}"))
    response = staff.get(f"/staff/gradings.csv?case={case_id}")
    assert response.mimetype == "text/csv"
    assert f'filename="gradings-case-{case_id}-' in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    header = next(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(header) == len(set(header))  # every column named once
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [(row["scale"], row["version"]) for row in rows] == [("sunnybrook", "2"), ("house-brackmann", "1")]
    sunnybrook, house_brackmann = rows
    assert (sunnybrook["sunnybrook_composite"], sunnybrook["sunnybrook_synkinesis"]) == ("56", "6")
    assert sunnybrook["sunnybrook_item_synk_smile"] == "1"
    assert sunnybrook["sunnybrook_item_rest_eye"] == "narrow"
    assert sunnybrook["eface_static"] == ""  # another scale's columns stay empty
    assert sunnybrook["notes"] == "'=HYPERLINK(1)"  # never run as a formula
    assert sunnybrook["amended_because"] == "Re-graded."
    assert sunnybrook["rated_by"] == "nurse@clinic.example"
    assert (
        house_brackmann["house-brackmann_grade"] == "3"
    )  # the score: the grade's number    assert house_brackmann["sunnybrook_composite"] == ""
    every = list(csv.DictReader(io.StringIO(staff.get("/staff/gradings.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert len(every) == 3
    for bad in ("abc", "-1", "99999999999", "1e3"):
        assert staff.get(f"/staff/gradings.csv?case={bad}").status_code == 404
    with db_app.app_context():
        targets = db.session.scalars(
            select(AuditEvent.target).where(AuditEvent.action == "exported gradings CSV")
        ).all()
        assert targets == [f"case {case_id}", "all cases"]


EFACE_ITEMS = dict(  # static 77.5, dynamic 65.0, synkinesis 75.0 (tests/test_grading.py)
    zip(
        [item.id for item in SCALES["eface"].items],
        ["80", "120", "50", "100", "60", "100", "90", "40", "50", "45", "70", "70", "40", "90", "100"],
        strict=True,
    )
)


@pytest.mark.parametrize(
    ("scale", "items"),
    [("sunnybrook", TYPICAL), ("sunnybrook", MODERATE), ("eface", EFACE_ITEMS), ("house-brackmann", {"grade": "IV"})],
)
def test_each_scales_questionnaire_computes_the_servers_scores_from_the_exported_response(
    db_app: Flask, staff: FlaskClient, rules: RuleSet, scale: str, items: dict[str, str]
) -> None:
    """fhirpathpy evaluates each calculatedExpression of the scale's Questionnaire on the
    grading's QuestionnaireResponse: the same numbers as the server's."""
    from fhirpathpy import evaluate
    from fhirpathpy.models import models

    case_id = seed_case_over_months(db_app, rules)
    saved = grade(staff, case_id, scale, items)
    questionnaire = staff.get(f"/api/v1/fhir/Questionnaire/grading-{scale}").get_json()
    assert questionnaire["resourceType"] == "Questionnaire"
    download = staff.get(f"{saved.headers['Location']}.fhir.json")
    assert download.status_code == 200
    bundle = json.loads(download.data)
    response = bundle["entry"][0]["resource"]
    assert response["questionnaire"] == questionnaire["url"]
    observations = [entry["resource"] for entry in bundle["entry"][1:]]
    assert {o["category"][0]["coding"][0]["code"] for o in observations} == {"exam"}
    with db_app.app_context():
        stored = db.session.scalars(select(GradingVersion)).one().scores
    assert {o["code"]["coding"][0]["code"]: o["valueQuantity"]["value"] for o in observations} == {
        f"score-{name}": value for name, value in stored.items()
    }
    scores = next(item for item in questionnaire["item"] if item["linkId"] == "scores")["item"]
    assert len(scores) == len(stored)
    for item in scores:
        expression = item["extension"][0]["valueExpression"]["expression"]
        computed = evaluate(response, expression, {"resource": response}, models["r4"])
        assert [float(value) for value in computed] == [float(stored[item["linkId"].removeprefix("score.")])], item
    # Unanswered, a score is left empty rather than guessed.
    for item in scores:
        expression = item["extension"][0]["valueExpression"]["expression"]
        empty = {**response, "item": [part for part in response["item"] if part["linkId"] != "scores"][:2]}
        assert evaluate(empty, expression, {"resource": empty}, models["r4"]) == []


def test_the_grading_fhir_export_is_signed_in_only_audited_and_unknown_scales_are_not_found(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    case_id = seed_case_over_months(db_app, rules)
    saved = grade(staff, case_id, "house-brackmann", {"grade": "II"})
    assert db_app.test_client().get(f"{saved.headers['Location']}.fhir.json").status_code == 302
    assert staff.get("/api/v1/fhir/Questionnaire/grading-made-up").status_code == 404
    first = json.loads(staff.get(f"{saved.headers['Location']}.fhir.json").data)
    again = json.loads(staff.get(f"{saved.headers['Location']}.fhir.json").data)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in again["entry"]]  # stable ids
    assert first["entry"][0]["resource"]["subject"]["identifier"]["value"] == "MRN-100231"
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "exported grading FHIR")) == 2


# R4 Questionnaire invariants (FHIR R4, Questionnaire): on each item, and on the whole.
ITEM_INVARIANTS = {
    "que-1": "(type = 'group' implies item.exists()) and (type = 'display' implies item.empty())",
    "que-3": "type != 'display' or code.empty()",
    "que-4": "answerOption.empty() or answerValueSet.empty()",
    "que-5": "(type = 'choice' or type = 'open-choice' or type = 'decimal' or type = 'integer' or type = 'date' "
    "or type = 'dateTime' or type = 'time' or type = 'string' or type = 'quantity') "
    "or (answerValueSet.empty() and answerOption.empty())",
    "que-6": "type != 'display' or (required.empty() and repeats.empty())",
    "que-8": "(type != 'group' and type != 'display') or initial.empty()",
    "que-9": "type != 'display' or readOnly.empty()",
    "que-10": "(type in ('boolean' | 'decimal' | 'integer' | 'string' | 'text' | 'url' | 'open-choice')) "
    "or maxLength.empty()",
    "que-11": "answerOption.empty() or initial.empty()",
    "que-12": "enableWhen.count() > 1 implies enableBehavior.exists()",
    "que-13": "repeats = true or initial.count() <= 1",
}
RESOURCE_INVARIANTS = {
    "que-0": "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')",
    "que-2": "descendants().linkId.isDistinct()",
}


@pytest.mark.parametrize("path", [*(f"grading-{scale}" for scale in SCALES), "synkinesis-self-check"])
def test_each_questionnaire_keeps_the_r4_invariants(client: FlaskClient, path: str) -> None:
    """The scales' Questionnaires and the self-check's own."""
    from fhirpathpy import evaluate
    from fhirpathpy.models import models

    questionnaire = client.get(f"/api/v1/fhir/Questionnaire/{path}").get_json()
    broken = [name for name, rule in RESOURCE_INVARIANTS.items() if evaluate(questionnaire, rule) != [True]]

    def walk(items: list[dict[str, object]]) -> None:
        for item in items:
            broken.extend(
                f"{name} at {item['linkId']}"
                for name, rule in ITEM_INVARIANTS.items()
                if evaluate(item, rule, {}, models["r4"]) != [True]
            )
            walk(item.get("item", []))  # type: ignore[arg-type]

    walk(questionnaire["item"])
    assert broken == []


def test_the_case_bundle_holds_every_check_and_every_grading(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    case_id = seed_case_over_months(db_app, rules, sums=[26, 21, 17])
    grade(staff, case_id, "sunnybrook", TYPICAL)
    grade(staff, case_id, "house-brackmann", {"grade": "III"})
    assert db_app.test_client().get(f"/staff/cases/{case_id}.fhir.json").status_code == 302
    assert "Download the whole case as FHIR (JSON)" in text_of(staff.get(f"/staff/cases/{case_id}"))
    download = staff.get(f"/staff/cases/{case_id}.fhir.json")
    bundle = json.loads(download.data)
    assert bundle["resourceType"] == "Bundle"
    resources = [entry["resource"] for entry in bundle["entry"]]
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    assert len(responses) == 3 + 2  # three self-checks, two gradings
    assert sum(1 for r in responses if "/Questionnaire/grading-" in r["questionnaire"]) == 2
    exams = [
        r for r in resources if r["resourceType"] == "Observation" and r["category"][0]["coding"][0]["code"] == "exam"
    ]
    assert len(exams) == 4 + 1  # Sunnybrook's four scores, House–Brackmann's grade
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "exported case FHIR")) == 1
    assert staff.get("/staff/cases/999999.fhir.json").status_code == 404


def test_eface_subscores_join_the_time_axis_when_asked(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    case_id = seed_case_over_months(db_app, rules, sums=[26, 21, 17])
    grade(staff, case_id, "sunnybrook", TYPICAL, visit_on="2026-08-01")
    grade(staff, case_id, "eface", EFACE_ITEMS, visit_on="2026-08-01")
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert page.count('class="trend__grade"') == 1  # Sunnybrook only, unless asked
    assert "Show the eFACE subscores on the chart" in page
    shown = text_of(staff.get(f"/staff/cases/{case_id}?eface=1"))
    assert shown.count('class="trend__grade"') == 4  # and the three eFACE subscores
    for row in ("eFACE static 77.5", "eFACE dynamic 65.0", "eFACE synkinesis 75.0", "Sunnybrook 54"):
        assert row in shown
    assert "Hide the eFACE subscores" in shown
