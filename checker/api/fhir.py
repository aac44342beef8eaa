"""FHIR routes: the Questionnaire and its terminology, $assess, and what describes them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, request
from flask_babel import force_locale, get_translations

from ..db import utcnow
from ..engine import AnswerErrors, RuleSet, assess
from ..exports import fhir
from ..exports.fhir.definitions import SDC_QUESTIONNAIRE, resource_id, search, searchset, stamped
from ..exports.fhir.grading import grading_questionnaire
from ..grading import SCALES
from ..grading import __file__ as grading_init
from ..payload import parse_json
from ..rules import current_rules
from ..stored import ARCHIVE, archived_rules
from ..urls import external_url, fhir_canon
from ..web.errors import FHIR_PREFIX
from ..web.i18n import current_language, reason_text, translate
from ..web.metrics import count_result
from ..web.negotiation import FHIR_JSON, prefers_fhir, unacceptable
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


SELF_CHECK = "synkinesis-self-check"
GRADING = Path(grading_init).parent  # the scales' definitions


def _not_found(what: str) -> Response:
    return _fhir(fhir.outcome({"id": f"no {what} here"}, {}, code="not-found"), 404)


@bp.get("/fhir", endpoint="fhir_root")
@bp.get("/fhir/metadata")
def fhir_metadata() -> Response:
    """The CapabilityStatement: what this server reads and the $assess operation."""
    return _fhir(fhir.capability_statement(fhir_canon(), current_rules().version, "synkinesis-check", _today()))


def _today() -> str:
    return utcnow().date().isoformat()


SOURCES = (".py", ".mo", ".yaml")  # what definitions are made from (not compiled caches)


def _changed(*paths: Path) -> datetime:
    """When the newest of ``paths`` (a file, or the sources in a folder) last changed."""
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.suffix in SOURCES]
    return datetime.fromtimestamp(max(f.stat().st_mtime for f in files), UTC)


def _served_definitions(canon: fhir.Canon) -> dict[str, list[dict[str, Any]]]:
    """Every definition this server holds, by resource type, stamped with id and meta."""
    package = Path(fhir.__file__).parent
    catalogues = Path(current_app.root_path) / "translations"
    publisher = str(current_app.config["CLINIC_NAME"])
    translations = _translations()
    current = current_rules()

    shared = _changed(package, catalogues)  # what every definition is made from

    def stamp(resource: dict[str, Any], id_: str, *sources: Path, profile: str | None = None) -> dict[str, Any]:
        changed = max(shared, _changed(*sources)) if sources else shared
        return stamped(resource, id_, changed, publisher, profile)

    rules_file = Path(current_app.config["RULES_PATH"])
    questionnaires = []
    for version, rules in sorted(_known_rules().items()):
        source = rules_file if rules is current else ARCHIVE / Path(rules.path).name
        status = "active" if rules is current else "retired"
        resource = fhir.questionnaire(rules, canon, translations, status)
        questionnaires.append(stamp(resource, resource_id(SELF_CHECK, version), source, profile=SDC_QUESTIONNAIRE))
    for scale in SCALES.values():
        resource = grading_questionnaire(scale, canon, translations)
        questionnaires.append(stamp(resource, f"grading-{scale.id}", GRADING, profile=SDC_QUESTIONNAIRE))
    coded = fhir.coded_questions(current)
    code_systems = [stamp(fhir.result_code_system(current, canon, translations), "result", rules_file)]
    code_systems += [
        stamp(fhir.answer_code_system(current, q, canon, translations), resource_id(q.id), rules_file) for q in coded
    ]
    value_sets = [
        stamp(fhir.answer_value_set(current, q, canon, translations), resource_id(q.id), rules_file) for q in coded
    ]
    operation = stamp(fhir.operation_definition(canon), fhir.operations.OPERATION)
    naming = [stamp(system, system["uniqueId"][0]["value"].rsplit("/", 1)[-1]) for system in fhir.naming_systems(canon)]
    return {
        "Questionnaire": questionnaires,
        "CodeSystem": code_systems,
        "ValueSet": value_sets,
        "OperationDefinition": [operation],
        "NamingSystem": naming,
    }


DEFINITIONS_KEY = "checker.fhir_definitions"
DEFINITIONS_KEPT = 4  # canonical bases kept at once (without a configured base, each Host is one)


def definitions() -> dict[str, list[dict[str, Any]]]:
    """The served definitions under today's canonical base, made once per base."""
    canon = fhir_canon()
    kept: dict[str, dict[str, list[dict[str, Any]]]] = current_app.extensions.setdefault(DEFINITIONS_KEY, {})
    if canon.base not in kept:
        if len(kept) >= DEFINITIONS_KEPT:
            kept.pop(next(iter(kept)))
        kept[canon.base] = _served_definitions(canon)
    return kept[canon.base]


DEFINITION_TYPES = "any(Questionnaire, CodeSystem, ValueSet, OperationDefinition, NamingSystem)"


@bp.get(f"/fhir/<{DEFINITION_TYPES}:kind>/<name>")
def fhir_read(kind: str, name: str) -> Response:
    """A definition by its id, or at its canonical address (a current one's last path segment)."""
    held = definitions()[kind]
    found = next((r for r in held if r["id"] == name), None)
    if found is None:
        found = next((r for r in held if r["status"] == "active" and r.get("url", "").rsplit("/", 1)[-1] == name), None)
    if found is None:
        return _not_found(kind)
    response = _fhir(found)
    response.headers["Content-Location"] = f"{_server_base()}/{kind}/{found['id']}"
    response.set_etag(found["meta"]["versionId"], weak=True)
    response.last_modified = datetime.fromisoformat(found["meta"]["lastUpdated"])
    response.make_conditional(request)
    return response


@bp.get(f"/fhir/<{DEFINITION_TYPES}:kind>")
def fhir_search(kind: str) -> Response:
    """A search of the definitions of one type (``url``, ``version``, ``status``, ``name``, ``_id``)."""
    found, used, ignored = search(definitions()[kind], list(request.args.items(multi=True)))
    return _fhir(searchset(kind, found, _server_base(), used, ignored))


def _server_base() -> str:
    """Where this server answers FHIR requests (the canonical base may name another address)."""
    return external_url("api.fhir_root").rstrip("/")


def _known_rules() -> dict[str, RuleSet]:
    """Every rules version a response may name: today's and the shipped earlier ones."""
    known = {rules.version: rules for rules in archived_rules().values()}
    today = current_rules()
    known[today.version] = today
    return known


@bp.before_request
def refuse_formats_not_served() -> None:
    """406 (as an OperationOutcome) when a FHIR request accepts no JSON or asks for XML."""
    if request.path.startswith(FHIR_PREFIX):
        why = unacceptable()
        if why:
            abort(406, why)


@bp.post("/fhir/QuestionnaireResponse/$assess")
def fhir_assess() -> Response | tuple[Response, int]:
    """Run the rules the response names on its answers.

    A Parameters (or, with ``bundle=true``, the export Bundle), and every error an
    OperationOutcome; a client that names ``application/json`` above FHIR JSON gets the same
    JSON as /api/v1/assess, as before. A fault has one status code in both: 400 for a body that
    is not a response, 422 for one that cannot be assessed.
    """
    native = prefers_fhir()
    canon = fhir_canon()
    try:
        data = parse_json(json_body())
        bundle = fhir.bundle_asked(data, request.args.get("bundle"), request.args.get("_format"))
        reading = fhir.read_response(fhir.response_in(data), canon, _known_rules(), current_rules())
    except fhir.ResponseErrors as exc:
        return _errors(exc.errors, exc.paths, exc.status, native)
    except AnswerErrors as exc:  # not JSON at all
        return _errors(exc.errors, {}, 400, native)
    try:
        result = assess(reading.rules, reading.answers)
    except AnswerErrors as exc:
        return _errors(exc.errors, reading.paths, 422, native)
    count_result("fhir", result.outcome, result.triage)
    if bundle:
        made = fhir.result_bundle(
            result, utcnow(), canon, translate, reason_text, language=current_language(), posted=reading.posted
        )
        return _fhir(made)
    if native:
        return _fhir(fhir.assessment(result, canon, translate, reason_text, reading.posted))
    return Response(json.dumps(result.to_json(), ensure_ascii=False), mimetype="application/json"), 200


def _errors(errors: Mapping[str, str], paths: Mapping[str, str], status: int, native: bool) -> tuple[Response, int]:
    if native:
        return _fhir(fhir.outcome(errors, paths), status), status
    return Response(json.dumps({"errors": dict(errors)}), mimetype="application/json"), status
