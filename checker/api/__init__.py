"""The JSON API: the questionnaire's catalogue and stateless assessment."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request

from ..db import utcnow
from ..engine import AnswerErrors, Question, Result, RuleSet, assess
from ..exports.fhir import result_bundle
from ..exports.reports import pdf_response
from ..payload import parse_document
from ..rules import current_rules
from ..urls import fhir_canon
from ..web.i18n import current_language, reason_text, translate
from ..web.limits import limit_blueprint, limited
from ..web.metrics import count_result
from ..web.security import body_cut_at_limit

bp = Blueprint("api", __name__, url_prefix="/api/v1")


limit_blueprint(bp, "RATE_LIMIT_API")


def allow_configured_origins(response: Response) -> Response:
    """CORS for browser apps on the origins in CHECKER_CORS_ORIGINS only (none by default).

    The API is stateless and sends no cookies, so an allowed origin gets nothing a plain
    HTTP client could not get; other origins get no CORS headers and their browsers refuse.
    """
    origin = request.headers.get("Origin", "")
    if origin and origin in str(current_app.config["CORS_ORIGINS"]).split():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept, Accept-Language, Authorization"
        response.headers["Access-Control-Max-Age"] = "600"
    response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    from . import fhir  # noqa: F401  (its routes join the blueprint)

    app.register_blueprint(bp)
    if app.config["CORS_ORIGINS"]:  # no origins, no hook: nothing to do on any request
        app.after_request_funcs.setdefault(bp.name, []).append(allow_configured_origins)


def _question_json(question: Question) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": question.id,
        "type": question.kind.value,
        "text": translate(question.text),
        "hint": translate(question.hint) if question.hint else None,
        "required": question.required,
    }
    if question.points:
        data["points"] = [translate(p) for p in question.points]
    if question.options:
        data["options"] = [
            {"code": o.code, "label": translate(o.label), "hint": translate(o.hint) if o.hint else None}
            for o in question.options
        ]
        data["ordered"] = question.ordered
    if question.alone:
        data["alone"] = sorted(str(c) for c in question.alone)
    if question.max_length:
        data["max_length"] = question.max_length
    return data


def catalogue(rules: RuleSet, language: str) -> dict[str, Any]:
    """The questionnaire as data: pages, questions, codes, skip and stop conditions."""
    stops = [{"red_flag": f.id, "when": f.when.source} for f in rules.red_flags if rules.triage_level(f.triage).stops]
    return {
        "rules": {"version": rules.version, "sha256": rules.sha256},
        "language": language,
        "pages": [
            {
                "id": page.id,
                "title": translate(page.title),
                "intro": translate(page.intro) if page.intro else None,
                "ask_when": page.ask_when.source if page.ask_when else None,
                "questions": [_question_json(q) for q in page.questions],
            }
            for page in rules.pages
        ],
        "stop_when": stops,
        "outcomes": [{"id": o.id, "name": translate(o.name)} for o in rules.outcomes.values()],
        "triage_levels": [{"id": t.id, "name": translate(t.name)} for t in rules.triage_levels],
    }


@bp.get("/questionnaire")
def questionnaire_catalogue() -> Response:
    return jsonify(catalogue(current_rules(), current_language()))


JSON_TYPES = ("application/json", "application/fhir+json")


def json_body() -> bytes:
    """The request body, when it is JSON (415 otherwise), and whole (413 when over the limit).

    A chunked body has no length to check first, and the WSGI server's stream stops at the
    limit: if anything is left after it, the body was cut, and a cut body is refused rather
    than read as if it were all there.
    """
    if request.mimetype not in JSON_TYPES:
        abort(415)
    data = request.get_data(cache=False)
    if body_cut_at_limit(request):
        abort(413)
    return data


def _assessed() -> Result:
    """The result for the posted {"answers": ...}; AnswerErrors when they are invalid."""
    return assess(current_rules(), parse_document(json_body()))


@bp.post("/assess")
def assess_answers() -> tuple[Response, int]:
    try:
        result = _assessed()
    except AnswerErrors as exc:
        return jsonify({"errors": exc.errors}), 400
    count_result("api", result.outcome, result.triage)
    # Most calls have no query at all: it is parsed only when it may ask for the trace.
    trace = b"trace=" in request.query_string and request.args.get("trace") in ("1", "true")
    return jsonify(result.to_json(trace=trace)), 200


@bp.post("/report.pdf")
@limited("RATE_LIMIT_PDF")
def report_pdf() -> Response | tuple[Response, int]:
    """The patient's PDF summary for posted answers (validated as for /assess)."""
    try:
        result = _assessed()
    except AnswerErrors as exc:
        return jsonify({"errors": exc.errors}), 400
    if result.stopped:
        return jsonify({"errors": {"answers": "the answers stop at a possible stroke: call the emergency number"}}), 400
    now = utcnow()
    html = render_template("pdf/result.html", result=result, rules=result.rules, when=now, pdf=True)
    return pdf_response(html, f"synkinesis-self-check-{now:%Y-%m-%d}.pdf")


@bp.post("/report.fhir.json")
def report_fhir() -> Response | tuple[Response, int]:
    """A FHIR Bundle (QuestionnaireResponse and Observations) for posted answers."""
    try:
        result = _assessed()
    except AnswerErrors as exc:
        return jsonify({"errors": exc.errors}), 400
    bundle = result_bundle(result, utcnow(), fhir_canon(), translate, reason_text, language=current_language())
    return Response(json.dumps(bundle, ensure_ascii=False), mimetype="application/fhir+json")
