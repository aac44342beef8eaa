"""The questionnaire as a FHIR Questionnaire: one group per page, skip logic as enableWhen."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire

from ..engine import Kind, Question, RuleSet
from ..engine.conditions import All, Any_, Condition, Leaf
from .common import QUESTIONNAIRE_URL, Translate, checked, coding, group_link, same


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
            return [{"question": question.id, "operator": operator, "answerCoding": coding(question, value, translate)}]
        if op in ("in", "at_least", "at_most"):
            codes = [code for code in question.codes if leaf.check(code)]
            return [
                {"question": question.id, "operator": "=", "answerCoding": coding(question, code, translate)}
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
        item["answerOption"] = [{"valueCoding": coding(question, o.code, translate)} for o in question.options]
    if children:
        item["item"] = children
    return item


def questionnaire(rules: RuleSet, language: str = "en", translate: Translate = same) -> dict[str, Any]:
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
    return checked(Questionnaire, resource)
