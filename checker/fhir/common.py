"""What the FHIR resources share: canonical names, the result's view, checking against fhir.resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..engine import Page, Plan, Question, Reason, RuleSet

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


def same(text: str) -> str:
    return text


_ = same  # marks the fixed English below for the translation catalogue; ``translate`` turns it


def coding(question: Question, code: Any, translate: Translate) -> dict[str, Any]:
    option = question.option(code)
    coding = {"system": ANSWER_SYSTEM, "code": str(code)}
    if option is not None:
        coding["display"] = translate(option.label)
    return coding


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def checked(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource after validation by its fhir.resources model, as JSON-ready data."""
    validated: dict[str, Any] = model.model_validate(resource).model_dump(mode="json", exclude_none=True)
    return validated
