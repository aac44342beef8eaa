"""The JSON API: the questionnaire's catalogue and stateless assessment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, request

from ..engine import AnswerErrors, Question, RuleSet, assess
from ..i18n import translate
from ..payload import parse_document
from ..rules import current_rules

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


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
def questionnaire() -> Response:
    from flask_babel import get_locale

    return jsonify(catalogue(current_rules(), str(get_locale() or "en")))


@bp.post("/assess")
def assess_answers() -> tuple[Response, int]:
    if request.mimetype != "application/json":
        abort(415)
    try:
        result = assess(current_rules(), parse_document(request.get_data(cache=False)))
    except AnswerErrors as exc:
        return jsonify({"errors": exc.errors}), 400
    return jsonify(result.to_json(trace=request.args.get("trace") in ("1", "true"))), 200
