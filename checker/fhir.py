"""FHIR R4 for the self-check: the Questionnaire, a QuestionnaireResponse with the result as
Observations in a Bundle, and answers read back from a QuestionnaireResponse.

Resources are built as plain dictionaries and checked against the `fhir.resources` models
(their R4B package, whose Questionnaire, QuestionnaireResponse, Observation and Bundle
have the R4 structure), so everything this module returns is valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from .engine import AnswerErrors, Kind, Page, Plan, Question, Reason, RuleSet
from .engine.conditions import All, Any_, Condition, Leaf

QUESTIONNAIRE_URL = "urn:synkinesis-check:questionnaire"
ANSWER_SYSTEM = "urn:synkinesis-check:answer"  # the contract's answer codes
RESULT_SYSTEM = "urn:synkinesis-check:result"  # outcomes, triage levels, red flags, observation codes

Translate = Callable[[str], str]


class Assessed(Protocol):
    """What an export reads of a result: the engine's, or one stored with a submission."""

    @property
    def outcome(self) -> str | None: ...
    @property
    def triage(self) -> str: ...
    @property
    def red_flags(self) -> tuple[str, ...]: ...
    @property
    def saq_total(self) -> float | None: ...
    @property
    def reasons(self) -> tuple[Reason, ...]: ...
    @property
    def answers(self) -> Mapping[str, Any]: ...
    @property
    def plan(self) -> Plan: ...
    @property
    def rules(self) -> RuleSet: ...


def group_link(page: Page) -> str:
    """A page's linkId: distinct from question ids (a page and its one question may share a name)."""
    return f"page.{page.id}"


def _same(text: str) -> str:
    return text


_ = _same  # marks the fixed English below for the translation catalogue; ``translate`` turns it


def _coding(question: Question, code: Any, translate: Translate) -> dict[str, Any]:
    option = question.option(code)
    coding = {"system": ANSWER_SYSTEM, "code": str(code)}
    if option is not None:
        coding["display"] = translate(option.label)
    return coding


# -- Questionnaire ---------------------------------------------------------------------------


def _enable_when(rules: RuleSet, condition: Condition, translate: Translate) -> tuple[list[dict[str, Any]], str]:
    """A skip condition as FHIR enableWhen entries and their enableBehavior."""
    parts: tuple[Condition, ...]
    if isinstance(condition, Leaf):
        parts, behaviour = (condition,), "all"
    elif isinstance(condition, (All, Any_)) and all(isinstance(p, Leaf) for p in condition.parts):
        parts, behaviour = condition.parts, "all" if isinstance(condition, All) else "any"
    else:
        raise ValueError("only a condition or one all/any of conditions on answers can become enableWhen")
    entries: list[dict[str, Any]] = []
    for part in parts:
        found = _leaf_entries(rules, part, translate)  # type: ignore[arg-type]
        if len(found) > 1:
            if behaviour == "all" and len(parts) > 1:
                raise ValueError("a list of codes inside 'all' cannot be written as enableWhen")
            behaviour = "any"
        entries.extend(found)
    return entries, behaviour


def _leaf_entries(rules: RuleSet, leaf: Leaf, translate: Translate) -> list[dict[str, Any]]:
    """One entry for is / is_not; one '=' entry a code for in, at_least and at_most (any of them)."""
    question = rules.questions[leaf.subject]
    source = leaf.source if isinstance(leaf.source, dict) else {}
    op = next(k for k in source if k not in ("answer", "reason"))
    value = source[op]
    if question.kind is not Kind.SCALE:
        if op in ("is", "is_not"):
            operator = "=" if op == "is" else "!="
            return [
                {"question": question.id, "operator": operator, "answerCoding": _coding(question, value, translate)}
            ]
        if op in ("in", "at_least", "at_most"):
            codes = [code for code in question.codes if leaf.check(code)]
            return [
                {"question": question.id, "operator": "=", "answerCoding": _coding(question, code, translate)}
                for code in codes
            ]
    raise ValueError(f"'{op}' on '{question.id}' cannot be written as enableWhen")


def _stop_implied(entries: list[dict[str, Any]], behaviour: str, gated: set[str]) -> bool:
    """Whether a page's enableWhen already keeps it closed after the stop.

    In FHIR an answer to a disabled item counts as no answer, so an '=' entry on a question
    whose page the stop disables is false after the stop; a '!=' entry would be true.
    """
    equal_gated = [e["operator"] == "=" and e["question"] in gated for e in entries]
    return bool(entries) and (all(equal_gated) if behaviour == "any" else any(equal_gated))


def _stop_entries(rules: RuleSet, translate: Translate) -> list[dict[str, Any]]:
    """enableWhen entries meaning 'the questionnaire was not stopped' (no stopping red flag)."""
    entries: list[dict[str, Any]] = []
    for page in rules.pages:
        for condition in rules.stops_after[page.id]:
            for entry in _enable_when(rules, condition, translate)[0]:
                flipped = {"=": "!=", "!=": "="}[entry["operator"]]
                entries.append({**entry, "operator": flipped})
    return entries


def _question_item(question: Question, translate: Translate) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.id, "text": translate(question.text), "required": question.required}
    children: list[dict[str, Any]] = []
    for index, point in enumerate(question.points):
        children.append({"linkId": f"{question.id}.point{index + 1}", "type": "display", "text": translate(point)})
    if question.hint:
        children.append({"linkId": f"{question.id}.hint", "type": "display", "text": translate(question.hint)})
    if question.kind is Kind.TEXT:
        item.update(type="text", maxLength=question.max_length)
    elif question.kind is Kind.SCALE:
        item["type"] = "integer"
        item["answerOption"] = [{"valueInteger": int(o.code)} for o in question.options]
        scale = "; ".join(f"{o.code} = {translate(o.label)}" for o in question.options)
        children.append({"linkId": f"{question.id}.scale", "type": "display", "text": scale})
    else:
        item["type"] = "choice"
        item["repeats"] = question.kind is Kind.SEVERAL
        item["answerOption"] = [{"valueCoding": _coding(question, o.code, translate)} for o in question.options]
    if children:
        item["item"] = children
    return item


def questionnaire(rules: RuleSet, language: str = "en", translate: Translate = _same) -> dict[str, Any]:
    """The questionnaire as a FHIR Questionnaire: one group per page, skip logic as enableWhen."""
    stop = _stop_entries(rules, translate)
    gated: set[str] = set()  # questions on pages the stop disables
    groups: list[dict[str, Any]] = []
    for index, page in enumerate(rules.pages):
        group: dict[str, Any] = {"linkId": group_link(page), "type": "group", "text": translate(page.title)}
        entries, behaviour = _enable_when(rules, page.ask_when, translate) if page.ask_when else ([], "all")
        if index > 0 and stop:
            gated.update(q.id for q in page.questions)
            if not _stop_implied(entries, behaviour, gated):
                if entries and behaviour == "any":
                    raise ValueError(f"page '{page.id}': an 'any' skip condition cannot be combined with the stop")
                entries = stop + entries
        if entries:
            group["enableWhen"] = entries
            if len(entries) > 1:
                group["enableBehavior"] = behaviour
        group["item"] = [_question_item(q, translate) for q in page.questions]
        groups.append(group)
    resource = {
        "resourceType": "Questionnaire",
        "url": QUESTIONNAIRE_URL,
        "version": rules.version,
        "name": "SynkinesisSelfCheck",
        "title": translate("Synkinesis self-check"),
        "status": "active",
        "language": language,
        "subjectType": ["Patient"],
        "item": groups,
    }
    return _checked(Questionnaire, resource)


# -- QuestionnaireResponse and the result ------------------------------------------------------


def _answer_values(question: Question, value: Any, translate: Translate) -> list[dict[str, Any]]:
    if question.kind is Kind.TEXT:
        return [{"valueString": str(value)}]
    if question.kind is Kind.SCALE:
        return [{"valueInteger": int(value)}]
    codes = [o.code for o in question.options if o.code in value] if question.kind is Kind.SEVERAL else [value]
    return [{"valueCoding": _coding(question, code, translate)} for code in codes]


def questionnaire_response(
    result: Assessed, authored: datetime, translate: Translate = _same, status: str = "completed"
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
    return _checked(QuestionnaireResponse, resource)


def result_bundle(
    result: Assessed,
    authored: datetime,
    translate: Translate = _same,
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
    entries += [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": _drop_none(o)} for o in observations]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": when,
        "meta": {"tag": [{"system": RESULT_SYSTEM, "code": f"rules-{rules.version}", "display": rules.sha256}]},
        "entry": entries,
    }
    return _checked(Bundle, bundle)


# -- Reading answers back ------------------------------------------------------------------------


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


# -- Helpers ------------------------------------------------------------------------------------


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _checked(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource after validation by its fhir.resources model, as JSON-ready data."""
    validated: dict[str, Any] = model.model_validate(resource).model_dump(mode="json", exclude_none=True)
    return validated
