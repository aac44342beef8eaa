"""Every FHIR resource the app serves or exports, checked by three validators that are not ours
(tests/fhir_validators, from npm): Medplum's (@medplum/core with the R4 definitions: structure,
cardinality and the invariants' FHIRPath), FHIR.js, and the R4 JSON schema (with Ajv)."""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404 - runs node on the validators' script, no shell
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from checker.engine import RuleSet

from .conftest import VIGNETTES, seed_case_over_months, walk
from .test_clinic import text_of
from .test_gradings import TYPICAL, grade

VALIDATORS = Path(__file__).resolve().parent / "fhir_validators"
ASSESS = "/api/v1/fhir/QuestionnaireResponse/$assess"
FHIR = {"Accept": "application/fhir+json"}


def validate(resources: list[Any], tmp_path: Path) -> dict[str, list[str]]:
    """{index: problems} for the resources with errors, by all three validators at once."""
    if not (VALIDATORS / "node_modules" / "@medplum" / "core").exists():
        raise RuntimeError(f"the FHIR validators are not installed: run 'npm ci' in {VALIDATORS} (scripts/setup test)")
    node = shutil.which("node")
    assert node, "Node.js is needed for the FHIR validators"
    batch = tmp_path / "resources.json"
    batch.write_text(json.dumps(resources))
    done = subprocess.run(  # noqa: S603  # nosec B603 - our script, our file
        [node, str(VALIDATORS / "validate.mjs"), str(batch)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, list[str]] = json.loads(done.stdout)
    return found


def test_the_validators_find_what_is_wrong(tmp_path: Path) -> None:
    """Each of the three catches a fault of its kind: the checks below can fail."""
    broken = [
        {  # R4 invariant que-4: answerOption and answerValueSet both
            "resourceType": "Questionnaire",
            "status": "active",
            "item": [
                {
                    "linkId": "a",
                    "type": "choice",
                    "answerValueSet": "https://example.org/ValueSet/a",
                    "answerOption": [{"valueCoding": {"code": "1"}}],
                }
            ],
        },
        {"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "a", "type": "string", "x": 1}]},
        {"resourceType": "QuestionnaireResponse", "status": "done"},
    ]
    found = validate(broken, tmp_path)
    assert any("que-4" in problem for problem in found["0"])
    assert {problem.split(":")[0] for problem in found["1"]} == {"medplum", "FHIR.js", "schema"}
    assert any(problem.startswith("schema:") for problem in found["2"])


def _definitions(client: FlaskClient) -> list[Any]:
    found = [client.get("/api/v1/fhir/metadata").get_json()]
    for kind in ("Questionnaire", "CodeSystem", "ValueSet", "OperationDefinition", "NamingSystem"):
        bundle = client.get(f"/api/v1/fhir/{kind}").get_json()
        found += [bundle, *(e["resource"] for e in bundle["entry"])]
        found.append(client.get(f"/api/v1/fhir/{kind}?colour=blue").get_json())  # with a warning
    return found


def _faults(client: FlaskClient, good: Any) -> list[Any]:
    """The OperationOutcomes of faults: HTTP errors and responses that cannot be assessed."""
    missing = {**good, "item": good["item"][:2]}
    unfinished = {**good, "status": "in-progress"}
    answers = [
        client.get("/api/v1/fhir/Patient/1", headers=FHIR),
        client.get(ASSESS, headers=FHIR),
        client.get("/api/v1/fhir/Questionnaire/synkinesis-self-check?_format=xml"),
        client.post(ASSESS, data="{oops", content_type="application/fhir+json", headers=FHIR),
        client.post(ASSESS, data="x" * 70_000, content_type="application/fhir+json", headers=FHIR),
        client.post(ASSESS, json={"resourceType": "Patient"}, headers=FHIR),
        client.post(ASSESS, json={**good, "status": 42}, headers=FHIR),
        client.post(ASSESS, json=missing, headers=FHIR),
        client.post(ASSESS, json=unfinished, headers=FHIR),
    ]
    outcomes = [answer.get_json() for answer in answers]
    assert {o["resourceType"] for o in outcomes} == {"OperationOutcome"}
    return outcomes


def test_every_resource_served_or_exported_passes_three_validators(
    client: FlaskClient, rules: RuleSet, tmp_path: Path
) -> None:
    resources = _definitions(client)
    for case in VIGNETTES:
        bundle = client.post("/api/v1/report.fhir.json", json={"answers": case["answers"]}).get_json()
        response = bundle["entry"][0]["resource"]
        posted = {
            **response,
            "subject": {"reference": "Patient/123"},
            "encounter": {"reference": "Encounter/456"},
            "author": {"reference": "Practitioner/789"},
        }
        resources += [
            bundle,
            client.post(ASSESS, json=response, headers=FHIR).get_json(),
            client.post(ASSESS, json=posted, headers=FHIR).get_json(),
            client.post(f"{ASSESS}?bundle=true", json=posted, headers=FHIR).get_json(),
        ]
    resources += _faults(client, resources[-1]["entry"][0]["resource"])
    walk(client, rules, VIGNETTES[0]["answers"])
    resources.append(json.loads(client.get("/result.fhir.json").data))  # the patient's own download
    assert validate(resources, tmp_path) == {}
    assert len(resources) > 100


def test_every_staff_export_passes_three_validators(
    db_app: Flask, staff: FlaskClient, rules: RuleSet, tmp_path: Path
) -> None:
    case_id = seed_case_over_months(db_app, rules, sums=[26, 21, 17])
    gradings = [
        grade(staff, case_id, "sunnybrook", TYPICAL),
        grade(staff, case_id, "house-brackmann", {"grade": "III"}),
    ]
    resources = [json.loads(staff.get(f"/staff/cases/{case_id}.fhir.json").data)]
    resources += [json.loads(staff.get(f"{saved.headers['Location']}.fhir.json").data) for saved in gradings]
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    checks = {part.split('"')[0] for part in page.split("/staff/submissions/")[1:]}
    resources += [json.loads(staff.get(f"/staff/submissions/{check}.fhir.json").data) for check in checks if check]
    assert len(resources) >= 6
    assert validate(resources, tmp_path) == {}
