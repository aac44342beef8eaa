"""The FHIR side of the API: ``$assess`` in and out, errors as OperationOutcomes, and the
CapabilityStatement and OperationDefinition that describe them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...engine import Reason, Result
from .common import Canon, Translate, checked, same
from .reading import ResponseErrors

OPERATION = "QuestionnaireResponse-assess"
# Error keys that name the request or the response as a whole, not an item (a question id)
NOT_ITEMS = ("body", "request", "questionnaire", "answers", "status", "bundle")
LEGACY_BUNDLE_FORMAT = "bundle"  # `$assess?_format=bundle`, as clients asked before the `bundle` parameter


def response_in(data: Any) -> Any:
    """The QuestionnaireResponse posted on its own, or as the ``response`` part of a Parameters."""
    if isinstance(data, Mapping) and data.get("resourceType") == "Parameters":
        for part in data.get("parameter") or []:
            if isinstance(part, Mapping) and part.get("name") == "response":
                return part.get("resource")
        return None
    return data


def bundle_asked(data: Any, query: str | None, format_: str | None) -> bool:
    """Whether ``$assess`` answers the export Bundle: the ``bundle`` parameter (a part of a posted
    Parameters, or in the query), or ``_format=bundle`` as clients sent it before there was one."""
    parts = (
        data.get("parameter") or [] if isinstance(data, Mapping) and data.get("resourceType") == "Parameters" else []
    )
    part = next((p for p in parts if isinstance(p, Mapping) and p.get("name") == "bundle"), None)
    if part is not None:
        if not isinstance(part.get("valueBoolean"), bool):
            where = {"bundle": "Parameters.parameter.where(name = 'bundle')"}
            raise ResponseErrors({"bundle": "expected valueBoolean"}, where, status=400)
        return bool(part["valueBoolean"])
    if query is None:
        return format_ == LEGACY_BUNDLE_FORMAT
    if query not in ("true", "false"):
        raise ResponseErrors({"bundle": f"expected true or false, got {query!r}"}, status=400)
    return query == "true"


def outcome(errors: Mapping[str, str], paths: Mapping[str, str], code: str = "invalid") -> dict[str, Any]:
    """An OperationOutcome with one issue per error, naming the item by its path and its linkId."""
    issues = []
    for key, message in errors.items():
        expression = [paths[key]] if key in paths else []
        if key not in NOT_ITEMS:
            quoted = key.replace("\\", "\\\\").replace("'", "\\'")
            expression.append(f"QuestionnaireResponse.repeat(item).where(linkId = '{quoted}')")
        issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": f"{key}: {message}"}
        if expression:
            issue["expression"] = expression
        issues.append(issue)
    return checked("OperationOutcome", {"resourceType": "OperationOutcome", "issue": issues})


def assessment(
    result: Result,
    canon: Canon,
    translate: Translate = same,
    reason_text: Callable[[Reason], str] = Reason.text,
    posted: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The result of ``$assess`` as a Parameters resource; who and which visit the response
    named (``posted``), said back."""
    rules = result.rules

    def code(value: str, display: str) -> dict[str, Any]:
        return {"system": canon.results, "code": value, "display": translate(display)}

    parts: list[dict[str, Any]] = []
    if result.outcome is not None:
        parts.append({"name": "outcome", "valueCoding": code(result.outcome, rules.outcomes[result.outcome].name)})
    parts.append({"name": "triage", "valueCoding": code(result.triage, rules.triage_level(result.triage).name)})
    parts += [{"name": "red-flag", "valueCoding": code(f, rules.red_flag(f).name)} for f in result.red_flags]
    if result.saq_total is not None:
        parts.append({"name": "saq-total", "valueDecimal": result.saq_total})
    parts += [{"name": "reason", "valueString": reason_text(r)} for r in result.reasons]
    parts.append({"name": "rules-version", "valueString": rules.version})
    parts.append({"name": "stopped", "valueBoolean": result.stopped})
    parts += [
        {"name": key, "valueReference": (posted or {})[key]}
        for key in ("subject", "encounter")
        if (posted or {}).get(key)
    ]
    return checked("Parameters", {"resourceType": "Parameters", "parameter": parts})


def operation_definition(canon: Canon) -> dict[str, Any]:
    def param(name: str, use: str, kind: str, low: int, high: str, doc: str) -> dict[str, Any]:
        return {"name": name, "use": use, "min": low, "max": high, "type": kind, "documentation": doc}

    resource = {
        "resourceType": "OperationDefinition",
        "url": f"{canon.base}/OperationDefinition/{OPERATION}",
        "name": "Assess",
        "title": "Assess a synkinesis self-check",
        "status": "active",
        "kind": "operation",
        "code": "assess",
        "resource": ["QuestionnaireResponse"],
        "system": False,
        "type": True,
        "instance": False,
        "description": (
            "Runs the rules on a QuestionnaireResponse to this app's Questionnaire (the version it names picks "
            "the rules; a canonical without one, the current rules). Post the QuestionnaireResponse, or a "
            "Parameters with it as 'response'. Answers a Parameters, or with bundle=true the Bundle the app "
            "exports (the response, keeping its id, identifier, subject, encounter, author and authored, and "
            "Observations derived from it); errors are OperationOutcomes: 400 for a body that is not a "
            "QuestionnaireResponse, 422 for one that cannot be assessed."
        ),
        "parameter": [
            param("response", "in", "QuestionnaireResponse", 1, "1", "The answers."),
            param("bundle", "in", "boolean", 0, "1", "true: answer the export Bundle (as 'return') instead."),
            param("return", "out", "Bundle", 0, "1", "With bundle=true, the whole answer: the export Bundle."),
            param("outcome", "out", "Coding", 0, "1", "The stage the answers are most like (not a diagnosis)."),
            param("triage", "out", "Coding", 1, "1", "The triage level."),
            param("red-flag", "out", "Coding", 0, "*", "Each red flag present."),
            param("saq-total", "out", "decimal", 0, "1", "The SAQ total, 20 to 100."),
            param("reason", "out", "string", 0, "*", "Why, in words."),
            param("rules-version", "out", "string", 1, "1", "The rules version used."),
            param("stopped", "out", "boolean", 1, "1", "Whether the answers stop at the emergency advice."),
            param("subject", "out", "Reference", 0, "1", "The response's subject, when it names one."),
            param("encounter", "out", "Reference", 0, "1", "The response's encounter, when it names one."),
        ],
    }
    return checked("OperationDefinition", resource)


def capability_statement(canon: Canon, version: str, software: str, date: str) -> dict[str, Any]:
    def searched(*names: str) -> dict[str, Any]:
        kinds = {"_id": "token", "url": "uri", "version": "token", "status": "token", "name": "string"}
        return {
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": name, "type": kinds[name]} for name in names],
            "versioning": "versioned",
            "conditionalRead": "not-match",
        }

    canonical = searched("_id", "url", "version", "status", "name")
    resources = [
        {"type": "Questionnaire", **canonical},
        {"type": "CodeSystem", **canonical},
        {"type": "ValueSet", **canonical},
        {"type": "OperationDefinition", **canonical},
        {"type": "NamingSystem", **searched("_id", "status", "name")},  # R4's NamingSystem has no url
        {
            "type": "QuestionnaireResponse",
            "operation": [{"name": "assess", "definition": f"{canon.base}/OperationDefinition/{OPERATION}"}],
        },
    ]
    resource = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": {"name": software, "version": version},
        "implementation": {"description": "Synkinesis self-check", "url": canon.base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{"mode": "server", "resource": resources}],
    }
    return checked("CapabilityStatement", resource)
