"""Exports: the answers as a QuestionnaireResponse, with the result as Observations in a Bundle.

A stored self-check is exported with its identifier and ids derived from it, so importing
the same submission twice updates what the first import made instead of duplicating it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Any

from ...engine import Kind, Question, Reason
from ...measure import Measure
from .camera import camera_observations
from .common import (
    Assessed,
    Canon,
    Translate,
    checked,
    coding,
    drop_none,
    group_link,
    same,
)
from .terminology import OBSERVATIONS


def software() -> str:
    """This software and its version, as a FHIR device's display."""
    return f"synkinesis-checker {version('synkinesis-checker')}"


SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Record:
    """Who and what an export is about: a stored submission's id and the clinic's patient
    reference, or for a check launched from an EHR, references to its patient and encounter there."""

    submission: str | None = None
    patient: str | None = None
    patient_on_ehr: str | None = None  # e.g. https://ehr.example/fhir/Patient/123, or Patient/123 on the EHR itself
    encounter_on_ehr: str | None = None

    def uuid(self, canon: Canon, part: str) -> str:
        """A stable id for a stored submission's part; a new one for anything else."""
        if self.submission is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{canon.submissions}|{self.submission}|{part}"))

    def identifier(self, canon: Canon) -> dict[str, Any] | None:
        return {"system": canon.submissions, "value": self.submission} if self.submission else None

    def subject(self, canon: Canon) -> dict[str, Any] | None:
        if self.patient_on_ehr:
            return {"reference": self.patient_on_ehr}
        return {"identifier": {"system": canon.patients, "value": self.patient}} if self.patient else None

    def encounter(self) -> dict[str, Any] | None:
        return {"reference": self.encounter_on_ehr} if self.encounter_on_ehr else None


def _answer_values(canon: Canon, question: Question, value: Any, translate: Translate) -> list[dict[str, Any]]:
    if question.kind is Kind.TEXT:
        return [{"valueString": str(value)}]
    codes = [o.code for o in question.options if o.code in value] if question.kind is Kind.SEVERAL else [value]
    return [{"valueCoding": coding(canon, question, code, translate)} for code in codes]


def questionnaire_response(
    result: Assessed,
    authored: datetime,
    canon: Canon,
    translate: Translate = same,
    status: str = "completed",
    record: Record = Record(),  # noqa: B008  (frozen)
    language: str | None = None,
    posted: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The answers the result was made from, as a QuestionnaireResponse (skipped pages left out),
    its texts in ``language`` (a BCP 47 code such as "es"). ``posted``: what a response sent to
    ``$assess`` said of itself (identifier, subject, encounter, author, authored), kept."""
    posted = posted or {}
    rules, answers = result.rules, result.answers
    groups = []
    for page in result.plan.asked:
        items = [
            {"linkId": q.id, "text": translate(q.text), "answer": _answer_values(canon, q, answers[q.id], translate)}
            for q in page.questions
            if q.id in answers and answers[q.id] not in ("", None)
        ]
        if items:
            groups.append({"linkId": group_link(page), "text": translate(page.title), "item": items})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": record.uuid(canon, "response") if record.submission else None,  # the Bundle sets its own
        "language": language,
        "identifier": posted.get("identifier") or record.identifier(canon),
        "questionnaire": f"{canon.questionnaire}|{rules.version}",
        "status": status,
        "subject": posted.get("subject") or record.subject(canon),
        "encounter": posted.get("encounter") or record.encounter(),
        "authored": posted.get("authored") or authored.isoformat(),
        "author": posted.get("author"),
        "item": groups,
    }
    return checked("QuestionnaireResponse", drop_none(resource))


def result_bundle(
    result: Assessed,
    authored: datetime,
    canon: Canon,
    translate: Translate = same,
    reason_text: Callable[[Reason], str] = Reason.text,
    record: Record = Record(),  # noqa: B008  (frozen)
    language: str | None = None,
    posted: Mapping[str, Any] | None = None,
    measure: Measure | None = None,
) -> dict[str, Any]:
    """A Bundle with the QuestionnaireResponse and Observations for outcome, triage and SAQ total
    (and the camera check's, with ``measure``), their texts in ``language``. A response sent to
    ``$assess`` (``posted``) keeps its id, identifier, subject, encounter, author and authored,
    and its Observations its subject and encounter."""
    posted = posted or {}
    rules = result.rules
    response_id = record.uuid(canon, "response")
    response_url = f"urn:uuid:{response_id}"  # a posted id need not be a UUID: the resource keeps it
    when = str(posted.get("authored") or authored.isoformat())
    subject, encounter = posted.get("subject") or record.subject(canon), posted.get("encounter") or record.encounter()
    results = canon.results

    def observation(code: str, **value: Any) -> dict[str, Any]:
        """An Observation whose id (for a stored submission) and fullUrl stay the same on every export."""
        return {
            "resourceType": "Observation",
            "id": record.uuid(canon, code),
            "identifier": [{"system": canon.submissions, "value": f"{record.submission}-{code}"}]
            if record.submission
            else None,
            "status": "final",
            "category": [SURVEY],
            "code": {"coding": [{"system": results, "code": code, "display": translate(OBSERVATIONS[code])}]},
            "subject": subject,
            "encounter": encounter,
            "effectiveDateTime": when,
            "derivedFrom": [{"reference": response_url}],
            **value,
        }

    def concept(code: str, display: str) -> dict[str, Any]:
        return {"coding": [{"system": results, "code": code, "display": translate(display)}]}

    triage = rules.triage_level(result.triage)
    flags = [
        {
            "code": concept("red-flag", OBSERVATIONS["red-flag"]),
            "valueCodeableConcept": concept(f, rules.red_flag(f).name),
        }
        for f in result.red_flags
    ]
    observations = [
        observation("triage", valueCodeableConcept=concept(triage.id, triage.name), component=flags or None)
    ]
    if result.outcome is not None:
        outcome = rules.outcomes[result.outcome]
        note = [{"text": " ".join(reason_text(r) for r in result.reasons)}] if result.reasons else None
        stage = {**concept(outcome.id, outcome.name), "text": translate(outcome.name)}
        observations.append(observation("outcome", valueCodeableConcept=stage, note=note))
    if result.saq_total is not None:
        score = {"value": result.saq_total, "unit": "score", "system": UCUM, "code": "{score}"}
        observations.append(observation("saq-total", valueQuantity=score))
    if measure is not None:
        observations += camera_observations(measure, observation, results, translate, software())
    response = questionnaire_response(
        result, authored, canon, translate, record=record, language=language, posted=posted
    )
    entries = [{"fullUrl": response_url, "resource": {**response, "id": str(posted.get("id") or response_id)}}]
    entries += [{"fullUrl": f"urn:uuid:{o['id']}", "resource": drop_none(o)} for o in observations]
    bundle = {
        "resourceType": "Bundle",
        "id": record.uuid(canon, "bundle") if record.submission else None,
        "identifier": record.identifier(canon),
        "type": "collection",
        "timestamp": authored.isoformat(),
        "meta": {"tag": [{"system": results, "code": f"rules-{rules.version}", "display": rules.sha256}]},
        "entry": entries,
    }
    return checked("Bundle", drop_none(bundle))
