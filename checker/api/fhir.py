"""FHIR routes: the Questionnaire and its terminology, $assess, and what describes them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, request
from flask_babel import force_locale, get_translations

from ..db import utcnow
from ..engine import AnswerErrors, RuleSet, assess
from ..exports import fhir
from ..exports.fhir.grading import grading_questionnaire
from ..grading import SCALES
from ..payload import parse_json
from ..rules import current_rules
from ..stored import archived_rules
from ..urls import fhir_canon
from ..web.errors import FHIR_JSON, prefers_fhir
from ..web.i18n import current_language, reason_text, translate
from ..web.metrics import count_result
from . import bp, json_body


def _fhir(resource: Mapping[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(resource, ensure_ascii=False), status=status, mimetype=FHIR_JSON)


def _translations() -> dict[str, fhir.common.Translate]:
    """A translator for every language the app speaks besides English (the resources' own)."""
    found: dict[str, fhir.common.Translate] = {}
    for language in current_app.config["LANGUAGES"]:
        if language == "en":
            continue
        with force_locale(language):
            found[language] = _translator(get_translations())
    return found


def _translator(catalogue: Any) -> fhir.common.Translate:
    def words(text: str) -> str:
        return str(catalogue.ugettext(text)) if text else text

    return words


def _not_found(what: str) -> Response:
    return _fhir(fhir.outcome({"id": f"no {what} here"}, {}, code="not-found"), 404)


@bp.get("/fhir", endpoint="fhir_root")
@bp.get("/fhir/metadata")
def fhir_metadata() -> Response:
    """The CapabilityStatement: what this server reads and the $assess operation."""
    return _fhir(fhir.capability_statement(fhir_canon(), current_rules().version, "synkinesis-check", _today()))


def _today() -> str:
    return utcnow().date().isoformat()


@bp.get("/fhir/OperationDefinition/<name>")
def fhir_operation_definition(name: str) -> Response:
    if name != fhir.operations.OPERATION:
        return _not_found("OperationDefinition")
    return _fhir(fhir.operation_definition(fhir_canon()))


@bp.get("/fhir/Questionnaire")
@bp.get("/fhir/Questionnaire/synkinesis-self-check")
def fhir_questionnaire() -> Response:
    """The questionnaire in English, with every other language in translation extensions."""
    return _fhir(fhir.questionnaire(current_rules(), fhir_canon(), _translations()))


@bp.get("/fhir/Questionnaire/grading-<scale_id>")
def fhir_grading_questionnaire(scale_id: str) -> Response:
    """A clinician-graded scale (Sunnybrook, eFACE, House–Brackmann) as an SDC Questionnaire."""
    scale = SCALES.get(scale_id)
    if scale is None:
        return _not_found("Questionnaire")
    return _fhir(grading_questionnaire(scale, fhir_canon(), _translations()))


@bp.get("/fhir/CodeSystem/<name>")
def fhir_code_system(name: str) -> Response:
    rules, canon = current_rules(), fhir_canon()
    if name == "result":
        return _fhir(fhir.result_code_system(rules, canon, _translations()))
    question = next((q for q in fhir.coded_questions(rules) if q.id == name), None)
    if question is None:
        return _not_found("CodeSystem")
    return _fhir(fhir.answer_code_system(rules, question, canon, _translations()))


@bp.get("/fhir/ValueSet/<name>")
def fhir_value_set(name: str) -> Response:
    rules = current_rules()
    question = next((q for q in fhir.coded_questions(rules) if q.id == name), None)
    if question is None:
        return _not_found("ValueSet")
    return _fhir(fhir.answer_value_set(rules, question, fhir_canon(), _translations()))


def _known_rules() -> dict[str, RuleSet]:
    """Every rules version a response may name: today's and the shipped earlier ones."""
    known = {rules.version: rules for rules in archived_rules().values()}
    today = current_rules()
    known[today.version] = today
    return known


@bp.post("/fhir/QuestionnaireResponse/$assess")
def fhir_assess() -> Response | tuple[Response, int]:
    """Run the rules the response names on its answers.

    With ``Accept: application/fhir+json``: a Parameters (or the export Bundle with
    ``_format=bundle``), and every error an OperationOutcome. Otherwise the same JSON as
    /api/v1/assess, as before.
    """
    native = prefers_fhir() or request.args.get("_format") == "bundle"
    canon = fhir_canon()
    try:
        body = fhir.response_in(parse_json(json_body()))
        reading = fhir.read_response(body, canon, _known_rules(), current_rules())
    except fhir.ResponseErrors as exc:
        return _errors(exc.errors, exc.paths, exc.status, native)
    except AnswerErrors as exc:  # not JSON at all
        return _errors(exc.errors, {}, 400, native)
    try:
        result = assess(reading.rules, reading.answers)
    except AnswerErrors as exc:
        return _errors(exc.errors, reading.paths, 422, native)
    count_result("fhir", result.outcome, result.triage)
    if request.args.get("_format") == "bundle":
        bundle = fhir.result_bundle(
            result, utcnow(), canon, translate, reason_text, language=current_language(), posted=reading.posted
        )
        return _fhir(bundle)
    if native:
        return _fhir(fhir.assessment(result, canon, translate, reason_text))
    return Response(json.dumps(result.to_json(), ensure_ascii=False), mimetype="application/json"), 200


def _errors(errors: Mapping[str, str], paths: Mapping[str, str], status: int, native: bool) -> tuple[Response, int]:
    if native:
        return _fhir(fhir.outcome(errors, paths), status), status
    return Response(json.dumps({"errors": dict(errors)}), mimetype="application/json"), 400
