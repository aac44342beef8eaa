"""Answers read back from a QuestionnaireResponse made for this questionnaire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from ..engine import AnswerErrors, Kind, Question, RuleSet
from .common import ANSWER_SYSTEM, QUESTIONNAIRE_URL, group_link


def answers_from_response(rules: RuleSet, data: Any) -> dict[str, Any]:
    """The answers in a QuestionnaireResponse for our questionnaire; raise :class:`AnswerErrors`."""
    if not isinstance(data, Mapping) or data.get("resourceType") != "QuestionnaireResponse":
        raise AnswerErrors({"body": "expected a FHIR QuestionnaireResponse"})
    try:
        QuestionnaireResponse.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AnswerErrors({"body": f"not a valid QuestionnaireResponse: {where}: {first['msg']}"}) from None
    questionnaire_ref = str(data.get("questionnaire") or "")
    if questionnaire_ref and questionnaire_ref.split("|")[0] != QUESTIONNAIRE_URL:
        raise AnswerErrors({"questionnaire": f"expected {QUESTIONNAIRE_URL}, got {questionnaire_ref!r}"})
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    page_links = {group_link(page) for page in rules.pages}
    for item in _leaf_items(data.get("item") or [], page_links):
        link = str(item.get("linkId"))
        question = rules.questions.get(link)
        if question is None:
            errors[link] = "unknown question id"
            continue
        try:
            answers[link] = _read_answer(question, item.get("answer") or [])
        except ValueError as exc:
            errors[link] = str(exc)
    if errors:
        raise AnswerErrors(errors)
    return answers


def _leaf_items(items: list[Mapping[str, Any]], groups: set[str]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for item in items:
        if item.get("linkId") in groups:
            found.extend(_leaf_items(item.get("item") or [], groups))
        else:
            found.append(item)
    return found


def _read_answer(question: Question, values: list[Mapping[str, Any]]) -> Any:
    if question.kind is Kind.TEXT:
        if len(values) != 1 or "valueString" not in values[0]:
            raise ValueError("expected one valueString")
        return values[0]["valueString"]
    if question.kind is Kind.SCALE:
        if len(values) != 1 or "valueInteger" not in values[0]:
            raise ValueError("expected one valueInteger")
        return values[0]["valueInteger"]
    codes = []
    for value in values:
        coding = value.get("valueCoding")
        if not isinstance(coding, Mapping) or coding.get("system") not in (ANSWER_SYSTEM, None):
            raise ValueError(f"expected valueCoding with system {ANSWER_SYSTEM}")
        codes.append(coding.get("code"))
    if question.kind is Kind.SEVERAL:
        return codes
    if len(codes) != 1:
        raise ValueError("expected one answer")
    return codes[0]
