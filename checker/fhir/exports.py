"""Exports: the answers as a QuestionnaireResponse, with the result as Observations in a Bundle."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from ..engine import Kind, Question, Reason
from .common import (
    QUESTIONNAIRE_URL,
    RESULT_SYSTEM,
    Assessed,
    Translate,
    _,
    checked,
    coding,
    drop_none,
    group_link,
    same,
)


def _answer_values(question: Question, value: Any, translate: Translate) -> list[dict[str, Any]]:
    if question.kind is Kind.TEXT:
        return [{"valueString": str(value)}]
    if question.kind is Kind.SCALE:
        return [{"valueInteger": int(value)}]
    codes = [o.code for o in question.options if o.code in value] if question.kind is Kind.SEVERAL else [value]
    return [{"valueCoding": coding(question, code, translate)} for code in codes]


def questionnaire_response(
    result: Assessed, authored: datetime, translate: Translate = same, status: str = "completed"
) -> dict[str, Any]:
    """The answers the result was made from, as a QuestionnaireResponse (skipped pages left out)."""
    rules, answers = result.rules, result.answers
    groups = []
    for page in result.plan.asked:
        items = [
            {"linkId": q.id, "text": translate(q.text), "answer": _answer_values(q, answers[q.id], translate)}
            for q in page.questions
            if q.id in answers and answers[q.id] not in ("", None)
        ]
        if items:
            groups.append({"linkId": group_link(page), "text": translate(page.title), "item": items})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{QUESTIONNAIRE_URL}|{rules.version}",
        "status": status,
        "authored": authored.isoformat(),
        "item": groups,
    }
    return checked(QuestionnaireResponse, resource)


def result_bundle(
    result: Assessed,
    authored: datetime,
    translate: Translate = same,
    reason_text: Callable[[Reason], str] = Reason.text,
) -> dict[str, Any]:
    """A Bundle with the QuestionnaireResponse and Observations for outcome, triage and SAQ total."""
    rules = result.rules
    response_url = f"urn:uuid:{uuid.uuid4()}"
    when = authored.isoformat()

    def observation(code: str, display: str, **value: Any) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": RESULT_SYSTEM, "code": code, "display": display}]},
            "effectiveDateTime": when,
            "derivedFrom": [{"reference": response_url}],
            **value,
        }

    observations = []
    triage = rules.triage_level(result.triage)
    observations.append(
        observation(
            "triage",
            translate(_("Triage level")),
            valueCodeableConcept={
                "coding": [{"system": RESULT_SYSTEM, "code": triage.id, "display": translate(triage.name)}]
            },
            component=[
                {
                    "code": {
                        "coding": [{"system": RESULT_SYSTEM, "code": "red-flag", "display": translate(_("Red flag"))}]
                    },
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": RESULT_SYSTEM, "code": flag, "display": translate(rules.red_flag(flag).name)}
                        ]
                    },
                }
                for flag in result.red_flags
            ]
            or None,
        )
    )
    if result.outcome is not None:
        outcome = rules.outcomes[result.outcome]
        observations.append(
            observation(
                "outcome",
                translate(_("Stage the answers are most like (educational, not a diagnosis)")),
                valueCodeableConcept={
                    "coding": [{"system": RESULT_SYSTEM, "code": outcome.id, "display": translate(outcome.name)}],
                    "text": translate(outcome.name),
                },
                note=[{"text": " ".join(reason_text(r) for r in result.reasons)}] if result.reasons else None,
            )
        )
    if result.saq_total is not None:
        observations.append(
            observation(
                "saq-total",
                translate(_("Synkinesis Assessment Questionnaire total (20-100)")),
                valueQuantity={"value": result.saq_total, "unit": "score"},
            )
        )
    entries = [{"fullUrl": response_url, "resource": questionnaire_response(result, authored, translate)}]
    entries += [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": drop_none(o)} for o in observations]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": when,
        "meta": {"tag": [{"system": RESULT_SYSTEM, "code": f"rules-{rules.version}", "display": rules.sha256}]},
        "entry": entries,
    }
    return checked(Bundle, bundle)
