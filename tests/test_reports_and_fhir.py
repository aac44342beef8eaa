"""PDF summaries and FHIR R4 resources: text, rendering, validation and round trips."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pypdfium2
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from flask import Flask
from flask.testing import FlaskClient
from PIL import ImageChops
from pypdf import PdfReader
from sqlalchemy import select

from checker.db import db
from checker.engine import RuleSet
from checker.models import AuditEvent, Submission

from .conftest import VIGNETTES, csrf_token, make_staff, sign_in, walk

BY_NAME = {case["name"]: case for case in VIGNETTES}
NINE_MONTHS = BY_NAME["nine-months-established"]


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_patient_pdf_has_everything_for_the_visit(client: FlaskClient, rules: RuleSet) -> None:
    answers = dict(NINE_MONTHS["answers"], rf_progressive="yes")
    walk(client, rules, answers)
    assert 'href="/result.pdf"' in client.get("/result").get_data(as_text=True)
    response = client.get("/result.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="synkinesis-self-check-')
    text = pdf_text(response.data)
    for expected in [
        "Completed on",
        "Established synkinesis",
        "44.4",
        "The weakness started between 6 and 12 months ago",  # a reason
        "See a doctor within the next few days",  # the triage box
        "Weakness getting worse, coming back, or a lump",  # the red flag
        "a change smaller than about 13 to 28 points",  # the score's limits
        "What to do next",
        "When I smile, my eye closes or gets narrower.",  # an answer in the questionnaire's wording
        "Most of the time, or moderate",
        "555 0100",  # the clinic's phone
        "Rules version 2026.2",
        "not a diagnosis",
    ]:
        assert expected in text, expected
    assert "Change" not in text  # no web-only links


def test_pdf_page_renders_to_a_picture(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, NINE_MONTHS["answers"])
    document = pypdfium2.PdfDocument(client.get("/result.pdf").data)
    assert len(document) >= 2
    image = document[0].render(scale=1).to_pil()
    width, height = image.size
    assert abs(width - 612) <= 1  # US Letter at 72 dpi (612 x 792 points), the default paper
    assert abs(height - 792) <= 1
    grey = image.convert("L")
    dark = sum(grey.histogram()[:128])
    assert dark > 2000  # text was drawn: the page is not blank
    assert grey.getpixel((2, 2)) > 250  # the margin is white
    document.close()


def _brand_pixels(app: Flask, answers: dict[str, Any]) -> int:
    """How many pixels of the score bar's colour page 1 of a patient's PDF has."""
    client = app.test_client()
    walk(client, app.extensions["checker.rules"], answers)
    document = pypdfium2.PdfDocument(client.get("/result.pdf").data)
    image = document[0].render(scale=2).to_pil().convert("RGB")
    document.close()
    bands = [
        band.point(lambda v, c=c: 255 if abs(v - c) < 24 else 0)
        for band, c in zip(image.split(), (17, 79, 107), strict=True)
    ]
    near = ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])  # near the colour in all three
    return int(near.histogram()[255])


def test_the_pdf_score_bar_is_filled_to_the_score(app: Flask) -> None:
    """The bar fills in the brand colour in proportion to the score, with 20 and 100 at its ends (it
    was once a full black bar whatever the score)."""
    low = dict(NINE_MONTHS["answers"], **{q: 1 for q in NINE_MONTHS["answers"] if q.startswith("saq_")})
    low["saq_eye_smile"] = 5  # 22.2: a sliver of bar
    high = dict(NINE_MONTHS["answers"], **{q: 5 for q in NINE_MONTHS["answers"] if q.startswith("saq_")})  # 100
    sliver, middle, full = (_brand_pixels(app, answers) for answers in (low, NINE_MONTHS["answers"], high))
    # Headings in the brand colour count in all three: the bar makes the differences, in proportion.
    assert full > middle > sliver
    assert 0.2 < (middle - sliver) / (full - sliver) < 0.37  # 44.4 is (44.4 - 22.2) / (100 - 22.2) = 0.29 of the way
    client = app.test_client()
    walk(client, app.extensions["checker.rules"], NINE_MONTHS["answers"])
    text = pdf_text(client.get("/result.pdf").data)
    assert "44.4 out of 100 20 100" in text  # the bar's two ends are labelled


def test_pdf_needs_a_finished_check(client: FlaskClient) -> None:
    assert client.get("/result.pdf").headers["Location"] == "/result"
    assert client.get("/result.fhir.json").headers["Location"] == "/result"


def test_api_report_pdf(client: FlaskClient) -> None:
    response = client.post("/api/v1/report.pdf", json={"answers": NINE_MONTHS["answers"]})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "Established synkinesis" in pdf_text(response.data)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ({"answers": {"rf_eye": "maybe"}}, "application/json", 400),
        ("{not json", "application/json", 400),
        ({"answers": NINE_MONTHS["answers"]}, "text/plain", 415),
        ({"answers": BY_NAME["stroke-signs"]["answers"]}, "application/json", 400),
    ],
)
def test_api_report_pdf_errors(client: FlaskClient, body: Any, content_type: str, status: int) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/api/v1/report.pdf", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["errors"]


def test_fhir_questionnaire_is_valid_and_follows_the_rules(client: FlaskClient, rules: RuleSet) -> None:
    response = client.get("/api/v1/fhir/Questionnaire/synkinesis-self-check")
    assert response.mimetype == "application/fhir+json"
    resource = response.get_json()
    Questionnaire.model_validate(resource)
    groups = {g["linkId"]: g for g in resource["item"]}
    items = {i["linkId"]: i for g in resource["item"] for i in g["item"]}
    questions = {link: item for link, item in items.items() if link in rules.questions}
    assert list(questions) == list(rules.questions)
    assert items["stop.stroke_signs"]["type"] == "display"  # the emergency stop, shown when it applies
    assert items["stop.stroke_signs"]["enableWhen"] == [
        {
            "question": "rf_stroke_signs",
            "operator": "=",
            "answerCoding": questions["rf_stroke_signs"]["answerOption"][0]["valueCoding"],
        }
    ]
    assert items["saq_total"]["readOnly"] is True  # the score, computed by the form filler
    # The stop's page stays open: answers given beside the stop are kept and reported (as on the
    # web, where the whole page is sent at once); they are required unless the stop applies.
    assert "enableWhen" not in items["rf_eye"]
    assert "enableWhen" not in items["rf_stroke_signs"]
    assert questions["rf_stroke_signs"]["required"] is True
    assert questions["rf_eye"]["required"] is False
    (constraint,) = resource["extension"]
    assert constraint["url"] == "http://hl7.org/fhir/StructureDefinition/questionnaire-constraint"
    link_ids = [
        i["linkId"]
        for g in resource["item"]
        for i in [g, *g["item"], *[c for i in g["item"] for c in i.get("item", [])]]
    ]
    assert len(link_ids) == len(set(link_ids))  # every linkId is unique
    scale = questions["saq_eye_smile"]["answerOption"]
    assert questions["saq_eye_smile"]["type"] == "choice"
    assert [o["valueCoding"]["code"] for o in scale] == ["1", "2", "3", "4", "5"]
    assert [o["extension"][0]["valueDecimal"] for o in scale] == [1, 2, 3, 4, 5]  # ordinalValue
    assert scale[0]["valueCoding"]["display"] == rules.questions["saq_eye_smile"].options[0].label
    cause_codes = [o["valueCoding"]["code"] for o in questions["cause"]["answerOption"]]
    assert cause_codes == list(rules.questions["cause"].codes)
    systems = {o["valueCoding"]["system"] for o in questions["cause"]["answerOption"]}
    assert systems == {"http://localhost/api/v1/fhir/CodeSystem/cause"}  # one code system per question
    none_of_these = next(o for o in questions["treatments"]["answerOption"] if o["valueCoding"]["code"] == "none")
    assert none_of_these["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive", "valueBoolean": True}
    ]
    assert questions["treatments"]["repeats"] is True
    assert questions["notes"]["required"] is False
    assert questions["cause"]["required"] is True
    weakness = groups["page.weakness"]
    assert weakness["enableBehavior"] == "all"
    assert {(e["question"], e["operator"], e["answerCoding"]["code"]) for e in weakness["enableWhen"]} == {
        ("rf_stroke_signs", "!=", "yes"),
        ("cause", "!=", "none"),
    }
    assert "enableWhen" not in groups["page.safety"]


def test_every_vignette_round_trips_through_a_questionnaire_response(client: FlaskClient) -> None:
    for case in VIGNETTES:
        expected = client.post("/api/v1/assess", json={"answers": case["answers"]}).get_json()
        bundle = client.post("/api/v1/report.fhir.json", json={"answers": case["answers"]}).get_json()
        Bundle.model_validate(bundle)
        response = bundle["entry"][0]["resource"]
        QuestionnaireResponse.model_validate(response)
        back = client.post(  # a client that names plain JSON gets /api/v1/assess's answer
            "/api/v1/fhir/QuestionnaireResponse/$assess",
            data=json.dumps(response),
            content_type="application/fhir+json",
            headers={"Accept": "application/json"},
        )
        assert back.status_code == 200, back.get_json()
        assert back.get_json() == expected, case["name"]


def test_bundle_carries_outcome_triage_and_score(client: FlaskClient) -> None:
    answers = BY_NAME["ramsay-hunt-eye-and-ear"]["answers"]
    bundle = client.post("/api/v1/report.fhir.json", json={"answers": answers}).get_json()
    observations = {
        e["resource"]["code"]["coding"][0]["code"]: e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert observations["outcome"]["valueCodeableConcept"]["coding"][0]["code"] == "stage-1"
    assert observations["triage"]["valueCodeableConcept"]["coding"][0]["code"] == "urgent"
    flags = [c["valueCodeableConcept"]["coding"][0]["code"] for c in observations["triage"]["component"]]
    assert flags == ["eye_exposure", "ear_rash"]
    assert "saq-total" not in observations  # under 3 weeks the linked movements are not asked: no score
    response_url = bundle["entry"][0]["fullUrl"]
    assert all(o["derivedFrom"][0]["reference"] == response_url for o in observations.values())
    later = client.post("/api/v1/report.fhir.json", json={"answers": BY_NAME["four-months-eye-gap"]["answers"]})
    scores = [
        e["resource"]
        for e in later.get_json()["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "saq-total"
    ]
    assert [o["valueQuantity"]["value"] for o in scores] == [20.0]


def _response_for(client: FlaskClient, answers: dict[str, Any]) -> dict[str, Any]:
    bundle = client.post("/api/v1/report.fhir.json", json={"answers": answers}).get_json()
    response: dict[str, Any] = bundle["entry"][0]["resource"]
    return response


def _assess_response(client: FlaskClient, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        "/api/v1/fhir/QuestionnaireResponse/$assess",
        data=data,
        content_type="application/json",
        headers={"Accept": "application/json"},
    )


def test_assess_response_errors(client: FlaskClient) -> None:
    """In plain JSON (asked for by name), with the same status codes as in FHIR."""
    good = _response_for(client, NINE_MONTHS["answers"])
    assert _assess_response(client, "{oops").get_json() == {"errors": {"body": "not valid JSON"}}
    assert _assess_response(client, "{oops").status_code == 400
    assert _assess_response(client, {"resourceType": "Patient"}).get_json() == {
        "errors": {"body": "expected a FHIR QuestionnaireResponse"}
    }
    broken = copy.deepcopy(good)
    broken["status"] = 42
    assert "not a valid QuestionnaireResponse" in _assess_response(client, broken).get_json()["errors"]["body"]
    other = copy.deepcopy(good)
    other["questionnaire"] = "http://example.org/Questionnaire/phq9"
    assert "questionnaire" in _assess_response(client, other).get_json()["errors"]
    unknown = copy.deepcopy(good)
    unknown["item"][0]["item"][0]["linkId"] = "rf_eyes"
    assert _assess_response(client, unknown).get_json()["errors"]["rf_eyes"] == "unknown question id"
    wrong_type = copy.deepcopy(good)
    wrong_type["item"][3]["item"][0]["answer"] = [{"valueString": "four"}]
    assert _assess_response(client, wrong_type).get_json()["errors"] == {
        "saq_eye_smile": "expected valueCoding with system http://localhost/api/v1/fhir/CodeSystem/saq_eye_smile"
    }
    missing = copy.deepcopy(good)
    missing["item"] = missing["item"][:3]
    refused = _assess_response(client, missing)
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["saq_eye_smile"] == "an answer is required"
    assert (
        client.post(
            "/api/v1/fhir/QuestionnaireResponse/$assess", data=json.dumps(good), content_type="text/plain"
        ).status_code
        == 415
    )


def test_patient_fhir_download(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, NINE_MONTHS["answers"])
    response = client.get("/result.fhir.json")
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    Bundle.model_validate(json.loads(response.data))


def test_staff_exports_are_audited(db_app: Flask, db_client: FlaskClient, rules: RuleSet) -> None:
    walk(db_client, rules, dict(NINE_MONTHS["answers"], notes="Tight in the mornings."))
    page = db_client.get("/request-consultation")
    db_client.post(
        "/request-consultation",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "name": "Ada",
            "phone": "555 010 9999",
            "contact_time": "any",
            "consent": "y",
        },  # fmt: skip
    )
    make_staff(db_app)
    staff = db_app.test_client()
    sign_in(staff)
    with db_app.app_context():
        submission_id = db.session.scalar(select(Submission.id))
    detail = staff.get(f"/staff/submissions/{submission_id}").get_data(as_text=True)
    assert f'href="/staff/submissions/{submission_id}.pdf"' in detail
    pdf = staff.get(f"/staff/submissions/{submission_id}.pdf")
    assert pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert f"Self-check {submission_id}" in text
    assert "Tight in the mornings." in text
    assert "Stage 3: established synkinesis" in text  # the clinician's wording
    assert "Mark as reviewed" not in text
    exported = staff.get(f"/staff/submissions/{submission_id}.fhir.json")
    Bundle.model_validate(json.loads(exported.data))
    with db_app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "exported PDF" in actions
    assert "exported FHIR" in actions
    anonymous = db_app.test_client()
    assert anonymous.get(f"/staff/submissions/{submission_id}.pdf").status_code == 302


def test_running_header_text_is_escaped_for_css() -> None:
    from checker.exports.reports import css_string

    assert str(css_string('Harbour "Face" </style>')) == '"Harbour \\22 Face\\22  \\3c /style\\3e "'


def test_pdf_running_header_and_footer_carry_the_clinic_and_number(tmp_path: Any, rules: RuleSet) -> None:
    from checker import create_app

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "CLINIC_NAME": 'Harbour "Face" Clinic', "EMERGENCY_NUMBER": "112"}
    )
    client = app.test_client()
    walk(client, rules, NINE_MONTHS["answers"])
    text = pdf_text(client.get("/result.pdf").data)
    assert 'Harbour "Face" Clinic' in text
    assert "Not a diagnosis. In an emergency, call 112." in text
