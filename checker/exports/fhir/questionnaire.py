"""The questionnaire as a FHIR Questionnaire: one group per page, skip logic as enableWhen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...engine import Kind, Page, Question, RuleSet
from ...engine.conditions import All, Any_, Condition, Leaf
from ...engine.model import Derived, Option
from .common import Canon, Translate, checked, group_link, translated

ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_CODES = "http://hl7.org/fhir/questionnaire-item-control"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
CALCULATED_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
CONSTRAINT = "http://hl7.org/fhir/StructureDefinition/questionnaire-constraint"
HUMAN = "Answer every question in this section, unless an answer calls for emergency help."


def _enable_when(
    rules: RuleSet, condition: Condition, canon: Canon, translations: Mapping[str, Translate]
) -> tuple[list[dict[str, Any]], str]:
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
        found = _leaf_entries(rules, part, canon, translations)  # type: ignore[arg-type]
        if len(found) > 1:
            if behaviour == "all" and len(parts) > 1:
                raise ValueError("a list of codes inside 'all' cannot be written as enableWhen")
            behaviour = "any"
        entries.extend(found)
    return entries, behaviour


def _leaf_entries(
    rules: RuleSet, leaf: Leaf, canon: Canon, translations: Mapping[str, Translate]
) -> list[dict[str, Any]]:
    """One entry for is / is_not; one '=' entry a code for in, at_least and at_most (any of them)."""
    question = rules.questions[leaf.subject]
    source = leaf.source if isinstance(leaf.source, dict) else {}
    op = next(k for k in source if k not in ("answer", "reason"))
    value = source[op]
    if question.kind is not Kind.SCALE:
        if op in ("is", "is_not"):
            operator = "=" if op == "is" else "!="
            answer = _answer_coding(canon, question, value, translations)
            return [{"question": question.id, "operator": operator, "answerCoding": answer}]
        if op in ("in", "at_least", "at_most"):
            codes = [code for code in question.codes if leaf.check(code)]
            return [
                {
                    "question": question.id,
                    "operator": "=",
                    "answerCoding": _answer_coding(canon, question, code, translations),
                }
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


def _stop_entries(rules: RuleSet, canon: Canon, translations: Mapping[str, Translate]) -> list[dict[str, Any]]:
    """enableWhen entries meaning 'the questionnaire was not stopped' (no stopping red flag)."""
    entries: list[dict[str, Any]] = []
    for page in rules.pages:
        for condition in rules.stops_after[page.id]:
            for entry in _enable_when(rules, condition, canon, translations)[0]:
                flipped = {"=": "!=", "!=": "="}[entry["operator"]]
                entries.append({**entry, "operator": flipped})
    return entries


def _extension(url: str, **value: Any) -> dict[str, Any]:
    return {"url": url, **value}


def _item_control(code: str) -> dict[str, Any]:
    return _extension(ITEM_CONTROL, valueCodeableConcept={"coding": [{"system": ITEM_CONTROL_CODES, "code": code}]})


def _display(link: str, text: str, translations: Mapping[str, Translate]) -> dict[str, Any]:
    return {"linkId": link, "type": "display", **translated("text", text, translations)}


def _answer_coding(
    canon: Canon, question: Question, code: Any, translations: Mapping[str, Translate]
) -> dict[str, Any]:
    found = {"system": canon.code_system(question.id), "code": str(code)}
    option = question.option(code)
    return {**found, **translated("display", option.label, translations)} if option is not None else found


def _answer_option(
    canon: Canon, question: Question, option: Option, translations: Mapping[str, Translate]
) -> dict[str, Any]:
    value = _answer_coding(canon, question, option.code, translations)
    extensions = []
    if question.kind is Kind.SCALE:
        extensions.append(_extension(ORDINAL_VALUE, valueDecimal=int(option.code)))
    if option.code in question.alone:
        extensions.append(_extension(OPTION_EXCLUSIVE, valueBoolean=True))
    return {"valueCoding": value, **({"extension": extensions} if extensions else {})}


def _question_item(canon: Canon, question: Question, translations: Mapping[str, Translate]) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.id, **translated("text", question.text, translations)}
    item["required"] = question.required
    children = [_display(f"{question.id}.point{n + 1}", point, translations) for n, point in enumerate(question.points)]
    if question.hint:
        children.append(_display(f"{question.id}.hint", question.hint, translations))
    if question.kind is Kind.TEXT:
        item.update(type="text", maxLength=question.max_length)
    else:
        item["type"] = "choice"
        item["repeats"] = question.kind is Kind.SEVERAL
        item["answerOption"] = [_answer_option(canon, question, o, translations) for o in question.options]
        item["extension"] = [_item_control("check-box" if question.kind is Kind.SEVERAL else "radio-button")]
    if children:
        item["item"] = children
    return item


def _score(rules: RuleSet) -> Derived | None:
    """The SAQ total, when the rules compute it as a percentage of the maximum."""
    return next((d for d in rules.derived if d.id == rules.score and d.kind == "percent_of_maximum"), None)


def saq_expression(score: Derived) -> str:
    """FHIRPath computing the score from a response, with the rules' arithmetic (sum ÷ maximum
    × 100, rounded), given only when every item is answered, as the engine does."""
    links = " | ".join(f"'{link}'" for link in score.group)
    answers = f"%resource.repeat(item).where(linkId in ({links})).answer.value"
    total = f"({answers}.code.select($this.toInteger()).aggregate($this + $total, 0) * 100 / {score.top})"
    return f"iif({answers}.count() = {len(score.group)}, {total}.round({score.decimals}), {{}})"


def _score_item(score: Derived, translations: Mapping[str, Translate]) -> dict[str, Any]:
    """A read-only item that shows the SAQ total as the person answers (SDC calculatedExpression)."""
    expression = {"language": "text/fhirpath", "expression": saq_expression(score)}
    return {
        "linkId": score.id,
        **translated("text", score.label, translations),
        "type": "decimal",
        "readOnly": True,
        "extension": [_extension(CALCULATED_EXPRESSION, valueExpression=expression)],
    }


def _stop_notices(rules: RuleSet, canon: Canon, translations: Mapping[str, Translate]) -> dict[str, list[Any]]:
    """Per page: a display item for each red flag that stops the questionnaire, shown when it holds."""
    notices: dict[str, list[Any]] = {}
    for flag in rules.red_flags:
        level = rules.triage_level(flag.triage)
        if not level.stops:
            continue
        entries, behaviour = _enable_when(rules, flag.when, canon, translations)
        page = rules.questions[entries[0]["question"]].page
        item: dict[str, Any] = {"linkId": f"stop.{flag.id}", "type": "display"}
        item.update(translated("text", (level.name, flag.advice), translations, joiner=". "))
        item.update(enableWhen=entries, **({"enableBehavior": behaviour} if len(entries) > 1 else {}))
        notices.setdefault(page, []).append(item)
    return notices


def _answered_with(link: str, code: str, held: bool = True) -> str:
    """FHIRPath: the response answers ``link`` with ``code`` (or, ``held`` false, does not)."""
    found = f"repeat(item).where(linkId = '{link}').answer.value.where(code = '{code}')"
    return f"{found}.exists()" if held else f"{found}.empty()"


def _stopped_expression(rules: RuleSet, page: Page, canon: Canon) -> str:
    """FHIRPath, on the response, for 'an answer on ``page`` stops the questionnaire'."""
    held = []
    for condition in rules.stops_after[page.id]:
        entries, behaviour = _enable_when(rules, condition, canon, {})
        tests = [_answered_with(e["question"], e["answerCoding"]["code"], e["operator"] == "=") for e in entries]
        held.append("(" + f" {'and' if behaviour == 'all' else 'or'} ".join(tests) + ")")
    return " or ".join(held)


def _required_unless_stopped(
    rules: RuleSet, page: Page, items: list[dict[str, Any]], canon: Canon, stoppers: set[str]
) -> list[Any]:
    """On the stop's own page, the other questions stay open (a person may answer the whole page
    before the stop shows, and the result reports those answers); they are required unless the
    stop applies, which FHIR says with a constraint on the response (questionnaire-constraint)
    instead of ``required``. The engine enforces the same when the response is assessed."""
    needed = [item for item in items if item.get("required") and item["linkId"] not in stoppers]
    if not needed:
        return []
    for item in needed:
        item["required"] = False
    answered = " and ".join(f"repeat(item).where(linkId = '{i['linkId']}').answer.exists()" for i in needed)
    parts = [
        {"url": "key", "valueId": f"{page.id}-answered"},
        {"url": "severity", "valueCode": "error"},
        {"url": "expression", "valueString": f"({_stopped_expression(rules, page, canon)}) or ({answered})"},
        # English only: fhir.resources cannot hold a translation on an extension's value
        {"url": "human", "valueString": HUMAN},
    ]
    return [_extension(CONSTRAINT, extension=parts)]


def questionnaire(
    rules: RuleSet, canon: Canon, translations: Mapping[str, Translate] | None = None, status: str = "active"
) -> dict[str, Any]:
    """The questionnaire as a FHIR Questionnaire, in English with ``translations`` in extensions;
    ``status`` "retired" for an earlier rules version.

    One group per page, skip logic as enableWhen, the stop as a notice and as a condition on
    every later page, the SAQ total computed in the form.
    """
    translations = translations or {}
    stop = _stop_entries(rules, canon, translations)
    notices = _stop_notices(rules, canon, translations)
    gated: set[str] = set()  # questions on pages the stop disables
    groups: list[dict[str, Any]] = []
    constraints: list[Any] = []
    score = _score(rules)
    score_page = next((p.id for p in rules.pages if score and any(q.id in score.group for q in p.questions)), None)
    for index, page in enumerate(rules.pages):
        group: dict[str, Any] = {"linkId": group_link(page), "type": "group"}
        group.update(translated("text", page.title, translations))
        entries, behaviour = _enable_when(rules, page.ask_when, canon, translations) if page.ask_when else ([], "all")
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
        group["item"] = [_question_item(canon, q, translations) for q in page.questions]
        if page.id in notices:  # the page of the stop: its other answers are given, as on the web
            constraints += _required_unless_stopped(rules, page, group["item"], canon, {e["question"] for e in stop})
        if page.id == score_page and score is not None:
            group["item"].append(_score_item(score, translations))
        group["item"] += notices.get(page.id, [])
        groups.append(group)
    resource = {
        "resourceType": "Questionnaire",
        "url": canon.questionnaire,
        "version": rules.version,
        "name": "SynkinesisSelfCheck",
        **translated("title", "Synkinesis self-check", translations),
        "status": status,
        "language": "en",
        "subjectType": ["Patient"],
        **({"extension": constraints} if constraints else {}),
        "item": groups,
    }
    return checked("Questionnaire", resource)
