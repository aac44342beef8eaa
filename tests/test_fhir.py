"""FHIR for integrators: terminology, the scored Questionnaire, $assess in FHIR terms, stable exports, CORS."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationdefinition import OperationDefinition
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.valueset import ValueSet
from fhirpathpy import evaluate
from fhirpathpy.models import models
from flask import Flask
from flask.testing import FlaskClient

from checker import create_app
from checker.config import StartupError
from checker.engine import RuleSet
from checker.stored import archived_rules

from .conftest import TEST_CONFIG, VIGNETTES, make_staff, sign_in
from .test_cases import answer_link, make_case, only_case
from .test_clinic import text_of

BASE = "http://localhost/api/v1/fhir"
ASSESS = "/api/v1/fhir/QuestionnaireResponse/$assess"
QUESTIONNAIRE = "/api/v1/fhir/Questionnaire/synkinesis-self-check"
FHIR = {"Accept": "application/fhir+json"}
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
BY_NAME = {case["name"]: case for case in VIGNETTES}


def get(client: FlaskClient, canonical: str) -> Any:
    """Follow a canonical URL of this server (they resolve)."""
    assert canonical.startswith(BASE), canonical
    response = client.get("/api/v1/fhir" + canonical[len(BASE) :].split("|")[0])
    assert response.status_code == 200, canonical
    assert response.mimetype == "application/fhir+json"
    return response.get_json()


def items(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in resource.get("item", []):
        found[item["linkId"]] = item
        found.update(items(item))
    return found


def test_every_answer_code_walks_to_its_code_system_and_value_set(client: FlaskClient, rules: RuleSet) -> None:
    questionnaire = client.get(QUESTIONNAIRE).get_json()
    Questionnaire.model_validate(questionnaire)
    assert questionnaire["url"] == f"{BASE}/Questionnaire/synkinesis-self-check"
    assert get(client, questionnaire["url"]) == questionnaire  # the canonical resolves
    checked = 0
    for question in [i for i in items(questionnaire).values() if "answerOption" in i]:
        assert "answerValueSet" not in question  # R4's que-4: answerOption or answerValueSet, never both
        value_set = get(client, f"{BASE}/ValueSet/{question['linkId']}")  # still served, for the same codes
        ValueSet.model_validate(value_set)
        systems = [include["system"] for include in value_set["compose"]["include"]]
        for option in question["answerOption"]:
            coding = option["valueCoding"]
            assert coding["system"] in systems
            code_system = get(client, coding["system"])
            CodeSystem.model_validate(code_system)
            concept = next(c for c in code_system["concept"] if c["code"] == coding["code"])
            assert concept["display"] == coding["display"]
            checked += 1
    assert checked == sum(len(q.options) for q in rules.questions.values())
    # "none" means different things in different questions: different systems.
    cause, treatments = get(client, f"{BASE}/CodeSystem/cause"), get(client, f"{BASE}/CodeSystem/treatments")
    assert cause["url"] != treatments["url"]
    results = get(client, f"{BASE}/CodeSystem/result")
    CodeSystem.model_validate(results)
    codes = [c["code"] for c in results["concept"]]
    assert len(codes) == len(set(codes))
    assert {"stage-3", "urgent", "stroke_signs", "saq-total"} <= set(codes)
    for missing in ("/api/v1/fhir/CodeSystem/nope", "/api/v1/fhir/ValueSet/notes", "/api/v1/fhir/ValueSet/result"):
        response = client.get(missing)
        assert response.status_code == 404
        OperationOutcome.model_validate(response.get_json())


def test_the_questionnaire_carries_spanish_in_translation_extensions(client: FlaskClient) -> None:
    english = client.get(QUESTIONNAIRE).get_json()
    spanish_reader = client.get(QUESTIONNAIRE, headers={"Accept-Language": "es"}).get_json()
    assert english == spanish_reader  # one resource per url|version, whoever asks
    assert english["language"] == "en"
    question = items(english)["rf_stroke_signs"]
    translation = question["_text"]["extension"][0]
    assert translation["url"] == TRANSLATION
    parts = {e["url"]: e for e in translation["extension"]}
    assert parts["lang"]["valueCode"] == "es"
    assert "caído un lado de la cara" in parts["content"]["valueString"]
    answer = question["answerOption"][0]["valueCoding"]
    assert answer["_display"]["extension"][0]["extension"][1]["valueString"] == "Sí"
    code_system = client.get("/api/v1/fhir/CodeSystem/rf_stroke_signs").get_json()
    assert code_system["concept"][0]["designation"] == [{"language": "es", "value": "Sí"}]


def test_the_form_computes_the_saq_total_as_the_engine_does(client: FlaskClient) -> None:
    questionnaire = client.get(QUESTIONNAIRE).get_json()
    score = items(questionnaire)["saq_total"]
    assert score["readOnly"] is True
    expression = score["extension"][0]["valueExpression"]
    assert expression["language"] == "text/fhirpath"
    scored = 0
    for case in VIGNETTES:
        bundle = client.post("/api/v1/report.fhir.json", json={"answers": case["answers"]}).get_json()
        response = bundle["entry"][0]["resource"]
        computed = evaluate(response, expression["expression"], {"resource": response}, models["r4"])
        saq = client.post("/api/v1/assess", json={"answers": case["answers"]}).get_json()["saq"]
        expected = saq["total"] if saq else None
        assert [float(v) for v in computed] == ([] if expected is None else [expected]), case["name"]
        scored += expected is not None
    assert scored >= 5


def _without(response: dict[str, Any], link: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(response))
    for group in copy["item"]:
        group["item"] = [i for i in group["item"] if i["linkId"] != link]
    return copy


def test_the_stops_page_asks_its_other_questions_unless_the_stop_applies(client: FlaskClient) -> None:
    """The safety page's other answers may be given beside a stroke answer (and are then reported);
    without the stop every one is needed: the Questionnaire's constraint says so, in FHIRPath, and
    $assess enforces it."""
    questionnaire = client.get(QUESTIONNAIRE).get_json()
    (constraint,) = questionnaire["extension"]
    parts = {p["url"]: p for p in constraint["extension"]}
    assert parts["severity"]["valueCode"] == "error"
    assert parts["human"]["valueString"].startswith("Answer every question")

    def holds(response: dict[str, Any]) -> bool:
        found = evaluate(response, parts["expression"]["valueString"], {"resource": response}, models["r4"])
        return found == [True]

    for case in VIGNETTES:  # every worked case, as the app exports it, meets it
        assert holds(_response(client, case["name"])), case["name"]
    routine = _response(client)
    assert not holds(_without(routine, "rf_eye"))
    refused = _assess(client, _without(routine, "rf_eye"))
    assert refused.status_code == 422
    assert "rf_eye" in refused.get_json()["issue"][0]["diagnostics"]
    stroke = {"rf_stroke_signs": "yes", "rf_eye": "yes"}
    given = client.post("/api/v1/report.fhir.json", json={"answers": stroke}).get_json()["entry"][0]["resource"]
    assert holds(given)
    assert holds(_without(given, "rf_eye"))
    parameters = _assess(client, given).get_json()["parameter"]
    flags = [p["valueCoding"]["code"] for p in parameters if p["name"] == "red-flag"]
    assert flags == ["stroke_signs", "eye_exposure"]  # the eye answer given beside the stop is reported


def _response(client: FlaskClient, name: str = "nine-months-established") -> dict[str, Any]:
    bundle = client.post("/api/v1/report.fhir.json", json={"answers": BY_NAME[name]["answers"]}).get_json()
    response: dict[str, Any] = bundle["entry"][0]["resource"]
    return response


def _assess(client: FlaskClient, body: Any, **params: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"{ASSESS}?{query}", data=data, content_type="application/fhir+json", headers=FHIR)


def _parameters(response: Any) -> dict[str, list[Any]]:
    Parameters.model_validate(response.get_json())
    found: dict[str, list[Any]] = {}
    for part in response.get_json()["parameter"]:
        value = next(v for k, v in part.items() if k.startswith("value"))
        found.setdefault(part["name"], []).append(value["code"] if isinstance(value, dict) else value)
    return found


def test_assess_answers_parameters_for_every_worked_case(client: FlaskClient) -> None:
    for case in VIGNETTES:
        response = _response(client, case["name"])
        for body in (
            response,
            {"resourceType": "Parameters", "parameter": [{"name": "response", "resource": response}]},
        ):
            answer = _assess(client, body)
            assert answer.status_code == 200, (case["name"], answer.get_json())
            assert answer.mimetype == "application/fhir+json"
            found = _parameters(answer)
            expected = case["expect"]
            assert found.get("outcome", [None]) == [expected.get("outcome")], case["name"]
            assert found["triage"] == [expected["triage"]]
            assert found.get("red-flag", []) == list(expected.get("red_flags", []))
            assert found["rules-version"] == ["2026.2"]
    for asked in ({"bundle": "true"}, {"_format": "bundle"}):  # the parameter, and how clients asked before it
        bundle = _assess(client, _response(client), **asked)
        Bundle.model_validate(bundle.get_json())
        assert bundle.get_json()["entry"][0]["resource"]["resourceType"] == "QuestionnaireResponse"
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "response", "resource": _response(client)}, {"name": "bundle", "valueBoolean": True}],
    }
    assert _assess(client, parameters).get_json()["resourceType"] == "Bundle"
    assert _assess(client, _response(client), bundle="false").get_json()["resourceType"] == "Parameters"


def test_assess_errors_are_operation_outcomes(client: FlaskClient) -> None:
    good = _response(client)

    def issue(body: Any, status: int) -> dict[str, Any]:
        answer = _assess(client, body)
        assert answer.status_code == status, answer.get_json()
        OperationOutcome.model_validate(answer.get_json())
        first: dict[str, Any] = answer.get_json()["issue"][0]
        assert first["severity"] == "error"
        return first

    assert "not valid JSON" in issue("{oops", 400)["diagnostics"]
    assert "expected a FHIR QuestionnaireResponse" in issue({"resourceType": "Patient"}, 400)["diagnostics"]
    assert "expected a FHIR" in issue({"resourceType": "Parameters", "parameter": []}, 400)["diagnostics"]
    broken = copy.deepcopy(good)
    broken["status"] = 42
    assert issue(broken, 400)["expression"][0].startswith("QuestionnaireResponse.status")
    for reference, says in [
        (None, "missing"),
        ("http://example.org/Questionnaire/phq9|1", "expected"),
        (f"{BASE}/Questionnaire/synkinesis-self-check|1999.9", "unknown version '1999.9'"),
        ("urn:synkinesis-check:questionnaire", "unknown version ''"),  # the old name: always versioned
    ]:
        other = copy.deepcopy(good)
        other.pop("questionnaire")
        if reference:
            other["questionnaire"] = reference
        found = issue(other, 422)
        assert says in found["diagnostics"], found
        assert found["expression"] == ["QuestionnaireResponse.questionnaire"]
    unknown = copy.deepcopy(good)
    unknown["item"][0]["item"][1]["linkId"] = "rf_eyes"
    found = issue(unknown, 422)
    assert found["diagnostics"] == "rf_eyes: unknown question id"
    assert found["expression"] == [
        "QuestionnaireResponse.item[0].item[1]",
        "QuestionnaireResponse.repeat(item).where(linkId = 'rf_eyes')",
    ]
    wrong = copy.deepcopy(good)
    wrong["item"][3]["item"][0]["answer"] = [{"valueString": "four"}]
    assert issue(wrong, 422)["expression"][0] == "QuestionnaireResponse.item[3].item[0]"
    missing = copy.deepcopy(good)
    missing["item"][3]["item"].pop(0)  # saq_eye_smile left out: the rules need it
    found = issue(missing, 422)
    assert found["diagnostics"].startswith("saq_eye_smile: ")
    assert found["expression"] == ["QuestionnaireResponse.repeat(item).where(linkId = 'saq_eye_smile')"]


def test_a_2026_1_response_is_assessed_with_2026_1_rules(client: FlaskClient) -> None:
    old = next(r for r in archived_rules().values() if r.version == "2026.1")
    case = old.cases[0]
    items_by_page = []
    for page in old.pages:
        answered = [
            {"linkId": q.id, "answer": _legacy_answers(q.kind.value, case.answers[q.id])}
            for q in page.questions
            if q.id in case.answers
        ]
        if answered:
            items_by_page.append({"linkId": f"page.{page.id}", "item": answered})
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:synkinesis-check:questionnaire|2026.1",  # as 2026.1 exported it
        "status": "completed",
        "item": items_by_page,
    }
    found = _parameters(_assess(client, response))
    assert found["rules-version"] == ["2026.1"]
    assert found.get("outcome", [None]) == [case.expect.get("outcome")]
    assert found["triage"] == [case.expect["triage"]]


def _legacy_answers(kind: str, value: Any) -> list[dict[str, Any]]:
    if kind == "scale":
        return [{"valueInteger": value}]
    if kind == "text":
        return [{"valueString": value}]
    codes = value if isinstance(value, list) else [value]
    return [{"valueCoding": {"system": "urn:synkinesis-check:answer", "code": code}} for code in codes]


def test_metadata_and_the_operation_definition(client: FlaskClient) -> None:
    metadata = client.get("/api/v1/fhir/metadata").get_json()
    CapabilityStatement.model_validate(metadata)
    operation = metadata["rest"][0]["resource"][-1]["operation"][0]
    assert operation["name"] == "assess"
    definition = get(client, operation["definition"])
    OperationDefinition.model_validate(definition)
    assert {p["name"] for p in definition["parameter"]} >= {"response", "outcome", "triage", "saq-total"}
    assert client.get("/api/v1/fhir/OperationDefinition/other").status_code == 404


def test_a_stored_check_exports_the_same_ids_every_time(db_app: Flask, rules: RuleSet) -> None:
    make_staff(db_app)
    staff = db_app.test_client()
    sign_in(staff)
    link = make_case(staff, reference="MRN-55")
    assert (
        answer_link(db_app.test_client(), link, rules, BY_NAME["nine-months-established"]["answers"]).status_code == 302
    )
    case = only_case(db_app)
    check_id = text_of(staff.get(f"/staff/cases/{case.id}")).split("/staff/submissions/")[1].split('"')[0]
    first = staff.get(f"/staff/submissions/{check_id}.fhir.json").get_json()
    again = staff.get(f"/staff/submissions/{check_id}.fhir.json").get_json()
    Bundle.model_validate(first)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in again["entry"]]
    assert [e["resource"]["id"] for e in first["entry"]] == [e["resource"]["id"] for e in again["entry"]]
    assert first["identifier"]["value"] == check_id
    response = first["entry"][0]["resource"]
    assert response["identifier"] == {"system": f"{BASE}/NamingSystem/submission", "value": check_id}
    assert response["subject"]["identifier"] == {"system": f"{BASE}/NamingSystem/patient-reference", "value": "MRN-55"}
    observations = [e for e in first["entry"] if e["resource"]["resourceType"] == "Observation"]
    for entry in observations:
        observation = entry["resource"]
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        assert observation["subject"] == response["subject"]
        assert entry["fullUrl"] == f"urn:uuid:{observation['id']}"
    score = next(e["resource"] for e in observations if e["resource"]["code"]["coding"][0]["code"] == "saq-total")
    assert score["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert score["valueQuantity"]["code"] == "{score}"


def test_cors_only_for_configured_origins(tmp_path: Any) -> None:
    app = create_app({**TEST_CONFIG, "CORS_ORIGINS": "https://ehr.example https://forms.example"})
    client = app.test_client()
    allowed = client.get(QUESTIONNAIRE, headers={"Origin": "https://ehr.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example"
    assert "Origin" in allowed.headers["Vary"]
    preflight = client.options(
        ASSESS, headers={"Origin": "https://forms.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    # a SMART app sends its EHR token with every FHIR call; the API needs none, but must not refuse it
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = client.get(QUESTIONNAIRE, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/", headers={"Origin": "https://ehr.example"})  # patients' pages: never
    assert "Access-Control-Allow-Origin" not in page.headers
    closed = create_app(TEST_CONFIG).test_client()
    assert (
        "Access-Control-Allow-Origin"
        not in closed.get("/api/v1/fhir/metadata", headers={"Origin": "https://ehr.example"}).headers
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FHIR_BASE", "http://selfcheck.example/api/v1/fhir"),
        ("FHIR_BASE", "https://selfcheck.example/fhir/"),
        ("CORS_ORIGINS", "ehr.example"),
        ("CORS_ORIGINS", "https://ehr.example/app"),
    ],
)
def test_bad_fhir_settings_stop_the_start(name: str, value: str) -> None:
    with pytest.raises(StartupError, match=f"CHECKER_{name}"):
        create_app({**TEST_CONFIG, name: value})


def test_a_configured_fhir_base_names_everything(rules: RuleSet) -> None:
    app = create_app({**TEST_CONFIG, "FHIR_BASE": "https://fhir.clinic.example/synkinesis"})
    client = app.test_client()
    questionnaire = client.get(QUESTIONNAIRE).get_json()
    assert questionnaire["url"] == "https://fhir.clinic.example/synkinesis/Questionnaire/synkinesis-self-check"
    coding = items(questionnaire)["cause"]["answerOption"][0]["valueCoding"]
    assert coding["system"] == "https://fhir.clinic.example/synkinesis/CodeSystem/cause"
    response = client.post("/api/v1/report.fhir.json", json={"answers": BY_NAME["nine-months-established"]["answers"]})
    qr = response.get_json()["entry"][0]["resource"]
    assert qr["questionnaire"] == "https://fhir.clinic.example/synkinesis/Questionnaire/synkinesis-self-check|2026.2"
    assert _parameters(_assess(client, qr))["rules-version"] == ["2026.2"]


def test_http_errors_on_fhir_routes_are_operation_outcomes(client: FlaskClient) -> None:
    body = json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed"})
    cases = [
        (client.post(ASSESS, data=body, content_type="text/plain", headers=FHIR), 415, "not-supported"),
        (client.post(ASSESS, data="x" * 70_000, content_type="application/fhir+json", headers=FHIR), 413, "too-long"),
        (client.get("/api/v1/fhir/Patient/1", headers=FHIR), 404, "not-found"),
        (client.get(ASSESS, headers=FHIR), 405, "not-supported"),
    ]
    for response, status, code in cases:
        assert response.status_code == status
        assert response.mimetype == "application/fhir+json"
        outcome = response.get_json()
        OperationOutcome.model_validate(outcome)
        assert outcome["issue"][0]["code"] == code
    plain = client.post(ASSESS, data=body, content_type="text/plain", headers={"Accept": "application/json"})
    assert plain.status_code == 415
    assert "errors" in plain.get_json()


def test_strange_input_gets_a_clear_answer(client: FlaskClient) -> None:
    good = _response(client)
    strange = copy.deepcopy(good)
    strange["item"][0]["item"][1]["linkId"] = "it's"
    found = _assess(client, strange).get_json()["issue"][0]
    assert found["expression"][1] == "QuestionnaireResponse.repeat(item).where(linkId = 'it\\'s')"
    surrogate = json.dumps(good).replace('"rf_eye"', '"rf\\ud800"')  # half a UTF-16 pair: not text
    for accept in ("application/fhir+json", "application/json"):
        answer = client.post(ASSESS, data=surrogate, content_type="application/fhir+json", headers={"Accept": accept})
        assert answer.status_code == 400
        assert "not valid JSON" in answer.get_data(as_text=True)
    plain = client.post("/api/v1/assess", data='{"answers": {"x\\ud800": "yes"}}', content_type="application/json")
    assert plain.status_code == 400
    assert plain.get_json() == {"errors": {"body": "not valid JSON"}}
    deep = "[" * 100_000 + "]" * 100_000
    assert _assess(client, deep).status_code in (400, 413)


def test_deep_nesting_and_cut_bodies_are_refused(client: FlaskClient) -> None:
    item: dict[str, Any] = {"linkId": "rf_eye", "answer": [{"valueString": "x"}]}
    for level in range(120):
        item = {"linkId": f"group{level}", "item": [item]}
    deep = {**_response(client), "item": [item]}
    answer = _assess(client, deep)
    assert answer.status_code == 400
    assert "nested more than 10 deep" in answer.get_json()["issue"][0]["diagnostics"]
    extensions: dict[str, Any] = {"url": "https://x.example/e", "valueString": "x"}
    for _level in range(400):
        extensions = {"url": "https://x.example/e", "extension": [extensions]}
    assert _assess(client, {**_response(client), "extension": [extensions]}).status_code in (200, 400)  # never 500
    # A chunked body over the limit is refused, not cut to a valid-looking start.
    body = json.dumps({"answers": {"rf_stroke_signs": "no"}}) + " " * 70_000 + "garbage"
    for path in ("/api/v1/assess", ASSESS):
        cut = client.post(
            path,
            input_stream=io.BytesIO(body.encode()),
            content_type="application/json",
            environ_base={"wsgi.input_terminated": True},
            headers={"Transfer-Encoding": "chunked"},
        )
        assert cut.status_code == 413, path


def test_assess_refuses_unfinished_doubled_and_misplaced_answers(client: FlaskClient) -> None:
    """Issue #28: a response still in progress (or entered in error) is not assessed as if
    final; a question answered twice, or in another page's group, is refused, not read."""
    good = _response(client)
    for status in ("in-progress", "entered-in-error", "stopped"):
        unfinished = {**copy.deepcopy(good), "status": status}
        answer = _assess(client, unfinished)
        assert answer.status_code == 422
        found = answer.get_json()["issue"][0]
        assert "not a finished response" in found["diagnostics"]
        assert found["expression"][0] == "QuestionnaireResponse.status"
    assert _assess(client, {**copy.deepcopy(good), "status": "amended"}).status_code == 200
    doubled = copy.deepcopy(good)
    doubled["item"][3]["item"].append(copy.deepcopy(doubled["item"][3]["item"][0]))
    answer = _assess(client, doubled)
    assert answer.status_code == 422
    assert "answered twice" in answer.get_json()["issue"][0]["diagnostics"]
    misplaced = copy.deepcopy(good)
    moved = misplaced["item"][3]["item"].pop(0)  # an SAQ item ...
    misplaced["item"][0]["item"].append(moved)  # ... in the safety page's group
    answer = _assess(client, misplaced)
    assert answer.status_code == 422
    assert f"{moved['linkId']}: belongs in the group page." in answer.get_json()["issue"][0]["diagnostics"]


def test_assess_as_a_bundle_keeps_who_and_when_the_response_says(client: FlaskClient) -> None:
    """Issue #28: the response's own id, identifier, subject, encounter, author and authored
    survive $assess?_format=bundle, and its Observations carry the subject and encounter."""
    posted = {
        **_response(client),
        "id": "ehr-qr-77",
        "identifier": {"system": "urn:oid:2.16.840.1.113883.3.1", "value": "qr-77"},
        "subject": {"reference": "Patient/123"},
        "encounter": {"reference": "Encounter/9"},
        "author": {"reference": "Practitioner/5"},
        "authored": "2026-12-01T09:30:00-05:00",
    }
    bundle = _assess(client, posted, _format="bundle").get_json()
    Bundle.model_validate(bundle)
    response = bundle["entry"][0]["resource"]
    for key in ("id", "identifier", "subject", "encounter", "author", "authored"):
        assert response[key] == posted[key], key
    observations = [entry["resource"] for entry in bundle["entry"][1:]]
    assert observations
    for observation in observations:
        assert observation["subject"] == posted["subject"]
        assert observation["encounter"] == posted["encounter"]
        assert observation["effectiveDateTime"] == posted["authored"]
        assert observation["derivedFrom"] == [{"reference": bundle["entry"][0]["fullUrl"]}]
    plain = _assess(client, _response(client), _format="bundle").get_json()["entry"][0]["resource"]
    assert "subject" not in plain  # nothing is made up when the response names no one
    said = {p["name"]: p for p in _assess(client, posted).get_json()["parameter"]}  # the Parameters too
    assert said["subject"]["valueReference"] == posted["subject"]
    assert said["encounter"]["valueReference"] == posted["encounter"]
    assert "subject" not in {p["name"] for p in _assess(client, _response(client)).get_json()["parameter"]}


def test_identifier_systems_resolve_to_naming_systems(client: FlaskClient) -> None:
    bundle = client.post("/api/v1/report.fhir.json", json={"answers": BY_NAME["nine-months-established"]["answers"]})
    assert bundle.status_code == 200
    for system in (f"{BASE}/NamingSystem/submission", f"{BASE}/NamingSystem/patient-reference"):
        found = get(client, system)
        assert found["resourceType"] == "NamingSystem"
        assert found["uniqueId"] == [{"type": "uri", "value": system, "preferred": True}]
    assert client.get("/api/v1/fhir/NamingSystem?name=SynkinesisCheckSub").get_json()["total"] == 1


def test_a_canonical_without_a_version_means_the_current_questionnaire(client: FlaskClient) -> None:
    unversioned = {**_response(client), "questionnaire": f"{BASE}/Questionnaire/synkinesis-self-check"}
    found = _parameters(_assess(client, unversioned))
    assert found["rules-version"] == ["2026.2"]


def _search(client: FlaskClient, query: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/fhir/Questionnaire?{query}")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    bundle: dict[str, Any] = response.get_json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    return bundle


def _found(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_every_rules_version_has_its_own_questionnaire_found_by_search(client: FlaskClient) -> None:
    canonical = f"{BASE}/Questionnaire/synkinesis-self-check"
    everything = _search(client, "")
    assert _found(everything) == [
        "synkinesis-self-check-2026.1",
        "synkinesis-self-check-2026.2",
        "grading-sunnybrook",
        "grading-eface",
        "grading-house-brackmann",
    ]
    assert everything["total"] == 5
    for entry in everything["entry"]:
        assert entry["fullUrl"] == f"{BASE}/Questionnaire/{entry['resource']['id']}"
    old = _search(client, f"url={canonical}&version=2026.1")
    assert _found(old) == ["synkinesis-self-check-2026.1"]
    assert (
        old["link"][0]["url"]
        == f"{BASE}/Questionnaire?url={canonical.replace(':', '%3A').replace('/', '%2F')}&version=2026.1"
    )
    (questionnaire,) = [e["resource"] for e in old["entry"]]
    assert (questionnaire["url"], questionnaire["version"], questionnaire["status"]) == (canonical, "2026.1", "retired")
    assert _found(_search(client, f"url={canonical}|2026.2")) == ["synkinesis-self-check-2026.2"]
    assert _found(_search(client, "status=active&name=synkinesis")) == ["synkinesis-self-check-2026.2"]
    assert _found(_search(client, "name=grading&_id=grading-eface,grading-sunnybrook")) == [
        "grading-sunnybrook",
        "grading-eface",
    ]
    assert _found(_search(client, "version=1999.1")) == []
    ignored = _search(client, "colour=blue&_format=json")
    assert ignored["total"] == 5
    (warning,) = [e["resource"] for e in ignored["entry"] if e["search"]["mode"] == "outcome"]
    assert warning["issue"][0]["severity"] == "warning"
    assert "colour" in warning["issue"][0]["diagnostics"]
    # read by its id: the 2026.1 Questionnaire, which $assess still accepts responses to
    read = client.get("/api/v1/fhir/Questionnaire/synkinesis-self-check-2026.1").get_json()
    assert read == questionnaire
    Questionnaire.model_validate(read)


def test_definitions_have_ids_meta_and_etags(client: FlaskClient) -> None:
    """Every definition: its id where it is read, meta (versionId, lastUpdated), date, publisher,
    an ETag, and 304 when the client's copy is current; a canonical address answers the current
    definition and says where it lives."""
    reads = 0
    for kind in ("Questionnaire", "CodeSystem", "ValueSet", "OperationDefinition", "NamingSystem"):
        for entry in client.get(f"/api/v1/fhir/{kind}").get_json()["entry"]:
            resource = entry["resource"]
            response = client.get(f"/api/v1/fhir/{kind}/{resource['id']}")
            assert response.status_code == 200
            assert response.get_json() == resource
            meta = resource["meta"]
            assert response.headers["ETag"] == f'W/"{meta["versionId"]}"'
            assert resource["date"][:10] == meta["lastUpdated"][:10]
            assert resource["publisher"] == "Facial Nerve Clinic"
            if kind == "Questionnaire":
                assert meta["profile"] == ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"]
            again = client.get(
                f"/api/v1/fhir/{kind}/{resource['id']}", headers={"If-None-Match": response.headers["ETag"]}
            )
            assert again.status_code == 304
            assert again.data == b""
            stale = client.get(f"/api/v1/fhir/{kind}/{resource['id']}", headers={"If-None-Match": 'W/"0"'})
            assert stale.status_code == 200
            reads += 1
    assert reads >= 50
    canonical = client.get(QUESTIONNAIRE)
    assert canonical.get_json()["id"] == "synkinesis-self-check-2026.2"
    assert canonical.headers["Content-Location"] == f"{BASE}/Questionnaire/synkinesis-self-check-2026.2"
    by_question = client.get("/api/v1/fhir/CodeSystem/time_since_onset")
    assert by_question.get_json()["id"] == "time-since-onset"  # FHIR ids have no '_'
    assert by_question.headers["Content-Location"] == f"{BASE}/CodeSystem/time-since-onset"
    for missing in ["Questionnaire/synkinesis-self-check-1999.1", "CodeSystem/made-up", "ValueSet/result"]:
        response = client.get(f"/api/v1/fhir/{missing}")
        assert response.status_code == 404
        assert response.get_json()["resourceType"] == "OperationOutcome"


def test_a_definitions_version_follows_its_content() -> None:
    one = create_app(TEST_CONFIG).test_client().get(QUESTIONNAIRE).get_json()
    same = create_app(TEST_CONFIG).test_client().get(QUESTIONNAIRE).get_json()
    other = create_app({**TEST_CONFIG, "CLINIC_NAME": "Another Clinic"}).test_client().get(QUESTIONNAIRE).get_json()
    assert one["meta"]["versionId"] == same["meta"]["versionId"]
    assert other["publisher"] == "Another Clinic"
    assert other["meta"]["versionId"] != one["meta"]["versionId"]


def test_canonicals_are_https_when_the_site_is(rules: RuleSet) -> None:
    client = create_app({**TEST_CONFIG, "BASE_URL": "https://selfcheck.clinic.example"}).test_client()
    questionnaire = client.get(QUESTIONNAIRE).get_json()
    assert questionnaire["url"] == "https://selfcheck.clinic.example/api/v1/fhir/Questionnaire/synkinesis-self-check"
    systems = {o["valueCoding"]["system"] for i in items(questionnaire).values() for o in i.get("answerOption", [])}
    assert systems
    assert all(s.startswith("https://selfcheck.clinic.example/api/v1/fhir/CodeSystem/") for s in systems)


def test_many_host_names_do_not_grow_what_is_kept(app: Flask) -> None:
    """Without a configured base the canonicals follow the Host: a client sending many cannot make
    the server keep a set of definitions for each."""
    client = app.test_client()
    for n in range(12):
        assert client.get(QUESTIONNAIRE, headers={"Host": f"h{n}.example"}).status_code == 200
    assert len(app.extensions["checker.fhir_definitions"]) <= 4


def _posted(client: FlaskClient, accept: str | None, query: str = "", body: Any = None) -> Any:
    headers = {"Accept": accept} if accept is not None else {}
    data = json.dumps(_response(client) if body is None else body)
    return client.post(f"{ASSESS}{query}", data=data, content_type="application/fhir+json", headers=headers)


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        (None, ""),
        ("*/*", ""),
        ("application/fhir+json", ""),
        ("application/json+fhir", ""),
        ("application/json, application/fhir+json", ""),
        ("application/json", "?_format=json"),
        ("application/json", "?_format=application/fhir%2Bjson"),
        ("text/html, */*;q=0.8", ""),
    ],
)
def test_fhir_json_unless_plain_json_is_asked_for_by_name(client: FlaskClient, accept: str | None, query: str) -> None:
    answer = _posted(client, accept, query)
    assert answer.status_code == 200
    assert answer.mimetype == "application/fhir+json"
    assert answer.get_json()["resourceType"] == "Parameters"


def test_plain_json_when_named_above_fhir(client: FlaskClient) -> None:
    for accept in ("application/json", "application/json, application/fhir+json;q=0.5"):
        answer = _posted(client, accept)
        assert answer.mimetype == "application/json"
        assert "triage" in answer.get_json()


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        ("application/fhir+xml", ""),
        ("application/xml, text/xml", ""),
        (None, "?_format=xml"),
        ("application/fhir+json", "?_format=application/fhir%2Bxml"),
        (None, "?_format=ttl"),
    ],
)
def test_a_format_not_served_is_406(client: FlaskClient, accept: str | None, query: str) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    for answer in (_posted(client, accept, query), client.get(f"{QUESTIONNAIRE}{query}", headers=headers)):
        assert answer.status_code == 406
        assert answer.mimetype == "application/fhir+json"
        outcome = answer.get_json()
        OperationOutcome.model_validate(outcome)
        assert outcome["issue"][0]["code"] == "not-supported"
        assert "application/fhir+json" in outcome["issue"][0]["diagnostics"]
        assert "expression" not in outcome["issue"][0]


def test_one_status_code_a_fault_in_both_modes(client: FlaskClient) -> None:
    good = _response(client)
    missing = copy.deepcopy(good)
    missing["item"] = missing["item"][:3]
    unknown = copy.deepcopy(good)
    unknown["questionnaire"] = "http://example.org/Questionnaire/phq9"
    faults = [("{oops", 400), ({"resourceType": "Patient"}, 400), (missing, 422), (unknown, 422)]
    for body, status in faults:
        data = body if isinstance(body, str) else json.dumps(body)
        for accept in ("application/fhir+json", "application/json"):
            answer = client.post(ASSESS, data=data, content_type="application/fhir+json", headers={"Accept": accept})
            assert answer.status_code == status, (body if isinstance(body, str) else "", accept)
    bad = [
        ("?bundle=maybe", good),
        ("", {"resourceType": "Parameters", "parameter": [{"name": "bundle", "valueString": "yes"}]}),
    ]
    for query, body in bad:
        answer = _posted(client, "application/fhir+json", query, body)
        assert answer.status_code == 400
        assert answer.get_json()["issue"][0]["diagnostics"].startswith("bundle: expected")


def test_error_locations_are_fhirpath_that_finds_the_fault(client: FlaskClient) -> None:
    good = _response(client)
    broken = copy.deepcopy(good)
    broken["item"][1]["item"][0]["answer"] = [{"valueCoding": {"code": 7}}]
    issue = _posted(client, "application/fhir+json", body=broken).get_json()["issue"][0]
    (where,) = issue["expression"]
    assert where.startswith("QuestionnaireResponse.item[1].item[0].answer[0].value.ofType(Coding)")
    assert evaluate(broken, where, {}, models["r4"]) == [7]
    status = copy.deepcopy(good)
    status["status"] = 42
    (where,) = _posted(client, "application/fhir+json", body=status).get_json()["issue"][0]["expression"]
    assert evaluate(status, where, {}, models["r4"]) == [42]
    for response in (client.get("/api/v1/fhir/Patient/1"), client.get(ASSESS)):  # 404, 405: no item to name
        assert response.status_code in (404, 405)
        assert "expression" not in response.get_json()["issue"][0]


def test_the_operation_declares_the_bundle_parameter(client: FlaskClient) -> None:
    definition = client.get("/api/v1/fhir/OperationDefinition/QuestionnaireResponse-assess").get_json()
    found = {(p["name"], p["use"], p["type"]) for p in definition["parameter"]}
    assert {("bundle", "in", "boolean"), ("return", "out", "Bundle")} <= found


def test_the_406_is_worded_in_the_readers_language(client: FlaskClient) -> None:
    answer = client.get(f"{QUESTIONNAIRE}?_format=xml", headers={"Accept-Language": "es"})
    assert answer.status_code == 406
    assert "solo responde en JSON" in answer.get_json()["issue"][0]["diagnostics"]
