"""Answers read back from a QuestionnaireResponse made for this questionnaire.

A response names its Questionnaire as ``url|version``: the version picks the rules it is
read and assessed with, so a response to rules 2026.1 is assessed with 2026.1. Answers may
come in this app's current form (codes in each question's CodeSystem, SAQ items as
codings) or the form of earlier exports (one ``urn:`` answer system, SAQ as integers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...engine import AnswerErrors, Kind, Question, RuleSet
from .common import LEGACY_ANSWERS, LEGACY_QUESTIONNAIRE, Canon, fhir_model, group_link

EXPECTED = "QuestionnaireResponse"
MAX_DEPTH = 10  # items inside items: our pages hold questions, which hold nothing
FINAL = ("completed", "amended")  # what a person finished: anything else is not assessed


class ResponseErrors(AnswerErrors):
    """Answers that cannot be read or assessed, each with where it is in the response.

    ``status`` is 400 for a body that is not a QuestionnaireResponse, 422 for one this app
    cannot assess (an unknown questionnaire or version, or answers that break the rules).
    """

    def __init__(self, errors: Mapping[str, str], paths: Mapping[str, str] | None = None, status: int = 422) -> None:
        super().__init__(errors)
        self.paths = dict(paths or {})
        self.status = status


POSTED = ("id", "identifier", "subject", "encounter", "author", "authored")  # what an answer keeps


@dataclass(frozen=True)
class Reading:
    rules: RuleSet
    answers: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)  # question id -> FHIRPath of its item
    posted: dict[str, Any] = field(default_factory=dict)  # what the response said of itself (POSTED)


def read_response(data: Any, canon: Canon, known: Mapping[str, RuleSet], current: RuleSet | None = None) -> Reading:
    """The rules (by the response's Questionnaire version; ``current`` for a canonical without
    one) and the answers; raise :class:`ResponseErrors`."""
    if not isinstance(data, Mapping) or data.get("resourceType") != EXPECTED:
        raise ResponseErrors({"body": f"expected a FHIR {EXPECTED}"}, {"body": EXPECTED}, status=400)
    if _depth(data.get("item")) > MAX_DEPTH:
        raise ResponseErrors({"body": f"items nested more than {MAX_DEPTH} deep"}, {"body": EXPECTED}, status=400)
    from pydantic import ValidationError  # with the models, when a response is read

    try:
        fhir_model(EXPECTED).model_validate(data)
    except RecursionError:
        raise ResponseErrors({"body": "nested too deeply"}, {"body": EXPECTED}, status=400) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = fhirpath(first["loc"])
        message = f"not a valid {EXPECTED}: {where}: {first['msg']}"
        raise ResponseErrors({"body": message}, {"body": where}, status=400) from None
    status = data.get("status")
    if status not in FINAL:
        raise ResponseErrors(
            {"status": f"{status!r} is not a finished response: expected completed or amended"},
            {"status": f"{EXPECTED}.status"},
        )
    rules = _rules_for(str(data.get("questionnaire") or ""), canon, known, current)
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    paths: dict[str, str] = {}
    page_links = {group_link(page) for page in rules.pages}
    homes = {question.id: group_link(page) for page in rules.pages for question in page.questions}
    calculated = {d.id for d in rules.derived}  # a filler's computed score: not an answer
    for item, path, group in _leaf_items(data.get("item") or [], page_links, EXPECTED):
        link = str(item.get("linkId"))
        if link in paths:
            errors[link] = f"answered twice: at {paths[link]} and at {path}"
            continue
        paths[link] = path
        if link in calculated:
            continue
        question = rules.questions.get(link)
        if question is None:
            errors[link] = "unknown question id"
            continue
        home = homes[link]
        if group is not None and group != home:
            errors[link] = f"belongs in the group {home}, not {group}"
            continue
        try:
            answers[link] = _read_answer(question, item.get("answer") or [], canon)
        except ValueError as exc:
            errors[link] = str(exc)
    if errors:
        raise ResponseErrors(errors, paths)
    return Reading(rules, answers, paths, {key: data[key] for key in POSTED if data.get(key)})


PRIMITIVES = ("Boolean", "Date", "DateTime", "Decimal", "Integer", "String", "Time", "Uri")


def fhirpath(location: tuple[int | str, ...], at: str = EXPECTED) -> str:
    """A model error's location as FHIRPath: ``("item", 0, "answer", 0, "valueCoding")`` is
    ``QuestionnaireResponse.item[0].answer[0].value.ofType(Coding)``."""
    path = at
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.fullmatch(r"value[A-Z][A-Za-z]*", part):  # a choice element, value[x]
            kind = part.removeprefix("value")
            path += f".value.ofType({kind[0].lower() + kind[1:] if kind in PRIMITIVES else kind})"
        elif re.fullmatch(r"[a-z][A-Za-z]*", part):
            path += f".{part}"
    return path


def _depth(items: Any) -> int:
    """How deep items nest inside items (counted without recursion)."""
    deepest, level = 0, [items]
    while level and deepest <= MAX_DEPTH:
        found = [i for group in level if isinstance(group, list) for i in group if isinstance(i, Mapping)]
        if not found:
            break
        deepest += 1
        level = [i.get("item") for i in found]
    return deepest


def _rules_for(reference: str, canon: Canon, known: Mapping[str, RuleSet], current: RuleSet | None) -> RuleSet:
    where = {"questionnaire": f"{EXPECTED}.questionnaire"}
    if not reference:
        raise ResponseErrors({"questionnaire": f"missing: expected {canon.questionnaire}|<version>"}, where)
    url, _, version = reference.partition("|")
    if url not in (canon.questionnaire, LEGACY_QUESTIONNAIRE):
        raise ResponseErrors({"questionnaire": f"expected {canon.questionnaire}, got {url!r}"}, where)
    if not version and url == canon.questionnaire and current is not None:
        return current  # a canonical without a version means the current one
    if version not in known:
        versions = ", ".join(sorted(known))
        raise ResponseErrors({"questionnaire": f"unknown version {version!r}: this app knows {versions}"}, where)
    return known[version]


def _leaf_items(
    items: list[Mapping[str, Any]], groups: set[str], at: str, group: str | None = None
) -> list[tuple[Mapping[str, Any], str, str | None]]:
    """The answered items inside the page groups, each with its FHIRPath and its group (None at
    the top, as earlier exports put them)."""
    found: list[tuple[Mapping[str, Any], str, str | None]] = []
    for index, item in enumerate(items):
        path = f"{at}.item[{index}]"
        if item.get("linkId") in groups:
            found.extend(_leaf_items(item.get("item") or [], groups, path, str(item.get("linkId"))))
        else:
            found.append((item, path, group))
    return found


def _read_answer(question: Question, values: list[Mapping[str, Any]], canon: Canon) -> Any:
    if question.kind is Kind.TEXT:
        if len(values) != 1 or "valueString" not in values[0]:
            raise ValueError("expected one valueString")
        return values[0]["valueString"]
    systems = (canon.code_system(question.id), LEGACY_ANSWERS, None)
    codes: list[Any] = []
    for value in values:
        if question.kind is Kind.SCALE and "valueInteger" in value:  # the form of earlier exports
            codes.append(value["valueInteger"])
            continue
        coding = value.get("valueCoding")
        if not isinstance(coding, Mapping) or coding.get("system") not in systems:
            raise ValueError(f"expected valueCoding with system {canon.code_system(question.id)}")
        code = coding.get("code")
        if question.kind is Kind.SCALE:
            try:
                code = int(str(code))
            except ValueError:
                raise ValueError(f"expected one of the scale's codes, got {code!r}") from None
        codes.append(code)
    if question.kind is Kind.SEVERAL:
        return codes
    if len(codes) != 1:
        raise ValueError("expected one answer")
    return codes[0]
