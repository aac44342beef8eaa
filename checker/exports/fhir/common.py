"""What the FHIR resources share: canonical names, the result's view, checking against fhir.resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ...engine import Page, Plan, Question, Reason, RuleSet

# The names used before canonical URLs (rules 2026.1 exports): still read on input.
LEGACY_QUESTIONNAIRE = "urn:synkinesis-check:questionnaire"
LEGACY_ANSWERS = "urn:synkinesis-check:answer"
LEGACY_RESULTS = "urn:synkinesis-check:result"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"

Translate = Callable[[str], str]


@dataclass(frozen=True)
class Canon:
    """Where this app's FHIR names live: canonical URLs under one https base."""

    base: str  # e.g. https://selfcheck.clinic.example/api/v1/fhir

    @property
    def questionnaire(self) -> str:
        return f"{self.base}/Questionnaire/synkinesis-self-check"

    def code_system(self, name: str) -> str:
        """A question's answer codes (named by the question id), or "result"."""
        return f"{self.base}/CodeSystem/{name}"

    def value_set(self, question_id: str) -> str:
        return f"{self.base}/ValueSet/{question_id}"

    @property
    def results(self) -> str:
        return self.code_system("result")

    @property
    def submissions(self) -> str:
        """The identifier system of stored self-checks."""
        return f"{self.base}/NamingSystem/submission"

    @property
    def patients(self) -> str:
        """The identifier system of the clinic's own patient references."""
        return f"{self.base}/NamingSystem/patient-reference"


def translated(
    field: str, english: str | tuple[str, ...], translations: Mapping[str, Translate], joiner: str = " "
) -> dict[str, Any]:
    """``{field: english}`` with the FHIR translation extension for each other language.

    A tuple of texts is translated part by part and joined (e.g. a level's name and its advice).
    """
    parts = (english,) if isinstance(english, str) else english
    english = joiner.join(parts)
    extensions = []
    for language, translate in translations.items():
        words = joiner.join(translate(part) for part in parts)
        if words and words != english:
            pieces = [{"url": "lang", "valueCode": language}, {"url": "content", "valueString": words}]
            extensions.append({"url": TRANSLATION, "extension": pieces})
    return {field: english, f"_{field}": {"extension": extensions}} if extensions else {field: english}


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


def coding(canon: Canon, question: Question, code: Any, translate: Translate) -> dict[str, Any]:
    option = question.option(code)
    found = {"system": canon.code_system(question.id), "code": str(code)}
    if option is not None:
        found["display"] = translate(option.label)
    return found


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def fhir_model(name: str) -> Any:
    """The fhir.resources (R4B) model of a resource type, imported when first needed: the models
    take a fifth of a second to load, and most processes never build a FHIR resource."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(name)


def checked(model: str, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource after validation by the fhir.resources model ``model``, as JSON-ready data."""
    validated: dict[str, Any] = fhir_model(model).model_validate(resource).model_dump(mode="json", exclude_none=True)
    return validated
