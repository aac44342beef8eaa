"""The answer codes as FHIR terminology: a CodeSystem and a ValueSet per question, and one
CodeSystem for the result (stages, triage levels, red flags and the Observations' codes).

Codes are scoped by question, so ``none`` as "never had weakness" and ``none`` as "none of
these" are different concepts in different systems. The codes themselves are the contract's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...engine import Kind, Question, RuleSet
from .common import Canon, Translate, _, checked, translated

# The Observations' own codes (what each one reports), with their English names.
OBSERVATIONS = {
    "triage": _("Triage level"),
    "red-flag": _("Red flag"),
    "outcome": _("Stage the answers are most like (educational, not a diagnosis)"),
    "saq-total": _("Synkinesis Assessment Questionnaire total (20-100)"),
    # The camera check (checker.measure): an Observation per pose, its figures as components.
    "eye-opening-rest": _("Eye opening at rest (camera check)"),
    "eye-narrowing-smile": _("Eye narrowing on smiling (camera check)"),
    "eye-narrowing-pucker": _("Eye narrowing on puckering the lips (camera check)"),
    "affected-side": _("Affected side, as the patient gave it"),
    "narrowing-right": _("Right eye narrowing"),
    "narrowing-left": _("Left eye narrowing"),
    "narrowing-difference": _("Affected eye's narrowing minus the other eye's"),
    "opening-right": _("Right eye opening (lid gap over outer canthal distance)"),
    "opening-left": _("Left eye opening (lid gap over outer canthal distance)"),
    "frames": _("Video frames measured"),
}


def coded_questions(rules: RuleSet) -> list[Question]:
    """The questions answered with codes (all but free text)."""
    return [q for q in rules.questions.values() if q.kind is not Kind.TEXT]


def _concept(code: str, display: str, translations: Mapping[str, Translate]) -> dict[str, Any]:
    concept: dict[str, Any] = {"code": code, "display": display}
    designations = [
        {"language": language, "value": translate(display)}
        for language, translate in translations.items()
        if translate(display) and translate(display) != display
    ]
    if designations:
        concept["designation"] = designations
    return concept


def _name(text: str) -> str:
    """A computer-friendly name: "SynkinesisAnswersTimeSinceOnset"."""
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_") if part)


def answer_code_system(
    rules: RuleSet, question: Question, canon: Canon, translations: Mapping[str, Translate]
) -> dict[str, Any]:
    resource = {
        "resourceType": "CodeSystem",
        "url": canon.code_system(question.id),
        "version": rules.version,
        "name": f"SynkinesisAnswers{_name(question.id)}",
        **translated("title", question.text, translations),
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "valueSet": canon.value_set(question.id),
        "concept": [_concept(str(o.code), o.label, translations) for o in question.options],
    }
    return checked("CodeSystem", resource)


def answer_value_set(
    rules: RuleSet, question: Question, canon: Canon, translations: Mapping[str, Translate]
) -> dict[str, Any]:
    resource = {
        "resourceType": "ValueSet",
        "url": canon.value_set(question.id),
        "version": rules.version,
        "name": f"SynkinesisAnswers{_name(question.id)}",
        **translated("title", question.text, translations),
        "status": "active",
        "compose": {"include": [{"system": canon.code_system(question.id), "version": rules.version}]},
    }
    return checked("ValueSet", resource)


def result_code_system(rules: RuleSet, canon: Canon, translations: Mapping[str, Translate]) -> dict[str, Any]:
    """Stages, triage levels, red flags, and what each Observation reports: one system of distinct codes."""
    concepts = [_concept(code, name, translations) for code, name in OBSERVATIONS.items()]
    concepts += [_concept(o.id, o.name, translations) for o in rules.outcomes.values()]
    concepts += [_concept(t.id, t.name, translations) for t in rules.triage_levels]
    concepts += [_concept(f.id, f.name, translations) for f in rules.red_flags]
    resource = {
        "resourceType": "CodeSystem",
        "url": canon.results,
        "version": rules.version,
        "name": "SynkinesisResults",
        "title": "Synkinesis self-check results",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "concept": concepts,
    }
    return checked("CodeSystem", resource)


def naming_systems(canon: Canon) -> list[dict[str, Any]]:
    """The identifier systems this app's resources use, each resolvable where its URL points:
    stored self-checks, and the clinic's own patient references. ``date`` is set when served."""
    systems = [
        ("submission", canon.submissions, "SynkinesisCheckSubmission", "A self-check stored by this app (its number)."),
        (
            "patient-reference",
            canon.patients,
            "SynkinesisCheckPatientReference",
            "The clinic's own reference for a patient (for example a record number), as staff typed it.",
        ),
    ]
    return [
        checked(
            "NamingSystem",
            {
                "resourceType": "NamingSystem",
                "name": name,
                "status": "active",
                "kind": "identifier",
                "date": "2026-01-01",  # replaced by the served definition's own
                "description": description,
                "uniqueId": [{"type": "uri", "value": url, "preferred": True}],
            },
        )
        for _id, url, name, description in systems
    ]
