"""The compiled, immutable rule set and the pieces it is made of."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .conditions import Condition

Code = str | int


class Kind(enum.Enum):
    """How a question is answered."""

    ONE_OF = "one_of"  # one code from a list of strings
    SCALE = "scale"  # one integer from a list
    SEVERAL = "several"  # a list of codes, at least one
    TEXT = "text"  # free text, never used by the rules


@dataclass(frozen=True, slots=True)
class Option:
    """One answer a question offers."""

    code: Code
    label: str
    hint: str | None = None
    phrase: str | None = None  # how a reason says it, when not the label
    clinician: str | None = None  # the answer as staff documents name it ("Complete paralysis")

    @property
    def said(self) -> str:
        return self.phrase or self.label


@dataclass(frozen=True, slots=True)
class Question:
    """A question with its contract id, wording and allowed codes."""

    id: str
    kind: Kind
    text: str
    page: str
    options: tuple[Option, ...] = ()
    hint: str | None = None
    required: bool = True
    ordered: bool = False
    alone: frozenset[Code] = frozenset()  # codes that must be the only one chosen
    max_length: int | None = None
    phrase: str | None = None  # the question as a reason says it (linked movements)
    points: tuple[str, ...] = ()  # a short list shown under the question
    clinician: str | None = None  # the question as staff documents name it (an SAQ item, a history line)
    codes: tuple[Code, ...] = field(init=False)
    code_set: frozenset[Code] = field(init=False)
    code_texts: frozenset[str] = field(init=False)  # the codes as a form or an address sends them
    code_type: type | None = field(init=False)  # str or int: the type of a single answer

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(option.code for option in self.options))
        object.__setattr__(self, "code_set", frozenset(self.codes))
        object.__setattr__(self, "code_texts", frozenset(str(code) for code in self.codes))
        single = self.kind in (Kind.ONE_OF, Kind.SCALE) and self.codes
        object.__setattr__(self, "code_type", type(self.codes[0]) if single else None)

    def option(self, code: Code) -> Option | None:
        for option in self.options:
            if option.code == code:
                return option
        return None


@dataclass(frozen=True, slots=True)
class Page:
    """A group of questions shown together; skipped when ``ask_when`` is false."""

    id: str
    title: str
    questions: tuple[Question, ...]
    intro: str | None = None
    ask_when: Condition | None = None
    ask_needs: frozenset[str] = field(init=False)  # the answers ask_when reads
    question_ids: tuple[str, ...] = field(init=False)
    required_ids: frozenset[str] = field(init=False)  # the questions that need an answer

    def __post_init__(self) -> None:
        object.__setattr__(self, "ask_needs", frozenset(self.ask_when.subjects()) if self.ask_when else frozenset())
        object.__setattr__(self, "question_ids", tuple(q.id for q in self.questions))
        object.__setattr__(self, "required_ids", frozenset(q.id for q in self.questions if q.required))


@dataclass(frozen=True, slots=True)
class Derived:
    """A value computed from answers: a percentage score, a count, or a yes/no."""

    id: str
    kind: str  # "percent_of_maximum" | "count" | "condition"
    label: str
    group: tuple[str, ...] = ()
    top: int = 0  # percent_of_maximum: the largest possible sum of the group's answers
    at_least: int = 0
    decimals: int = 1
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class TriageLevel:
    id: str
    name: str
    stops: bool  # the questionnaire ends when a red flag of this level is present
    advice: str = ""  # what to do, shown under the level's name
    interrupts: bool = False  # shown on a page of its own as soon as the answers reveal it
    clinician: str | None = None  # the level in clinical words, for staff documents


@dataclass(frozen=True, slots=True)
class RedFlag:
    id: str
    triage: str
    name: str
    advice: str
    when: Condition
    clinician: str | None = None  # the flag in clinical words, for staff documents


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    name: str
    summary: str
    clinician: str | None = None  # the stage in clinical words, for staff documents


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """``outcome`` when ``when`` holds; the first rule that holds decides."""

    outcome: str
    when: Condition
    reason: str  # used when no part of ``when`` has a reason of its own
    describe: str = ""  # the rule in words, for the "How this works" page


@dataclass(frozen=True, slots=True)
class WorkedCase:
    name: str
    answers: Mapping[str, Any]
    expect: Mapping[str, Any]
    line: int


@dataclass(frozen=True)
class RuleSet:
    """Everything ``rules.yaml`` says, checked and compiled; never changed after loading."""

    version: str
    sha256: str
    path: str
    pages: tuple[Page, ...]
    questions: Mapping[str, Question]
    derived: tuple[Derived, ...]
    score: str  # the derived value reported as the SAQ total
    triage_levels: tuple[TriageLevel, ...]  # most severe first
    red_flags: tuple[RedFlag, ...]
    outcomes: Mapping[str, Outcome]
    outcome_rules: tuple[OutcomeRule, ...]
    cases: tuple[WorkedCase, ...]
    # Each reason's template (as a person reads it) to its clinical wording (``clinician:`` beside
    # the ``reason:`` in the file), for staff documents.
    clinician_reasons: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def stops_after(self) -> Mapping[str, tuple[Condition, ...]]:
        """For each page, the conditions that end the questionnaire and read its answers.

        They are the conditions of red flags whose triage level stops the questionnaire,
        tested after each page that holds one of the questions they read.
        """
        stops = {level.id for level in self.triage_levels if level.stops}
        conditions = [flag.when for flag in self.red_flags if flag.triage in stops]
        return {
            page.id: tuple(c for c in conditions if c.subjects() & {q.id for q in page.questions})
            for page in self.pages
        }

    @cached_property
    def answer_flags(self) -> tuple[tuple[RedFlag, frozenset[str]], ...]:
        """The red flags that read answers only (no derived value), each with the questions it reads."""
        flags = ((flag, frozenset(flag.when.subjects())) for flag in self.red_flags)
        return tuple((flag, reads) for flag, reads in flags if reads <= self.questions.keys())

    @cached_property
    def interrupting_flags(self) -> tuple[tuple[RedFlag, frozenset[str]], ...]:
        """Of those, the ones whose triage level gets a page of its own as soon as they show."""
        return tuple((flag, reads) for flag, reads in self.answer_flags if self.triage_level(flag.triage).interrupts)

    @cached_property
    def severity(self) -> Mapping[str, int]:
        """Triage level id to rank: 0 is the most severe."""
        return {level.id: rank for rank, level in enumerate(self.triage_levels)}

    @cached_property
    def definitions(self) -> Mapping[str, Condition]:
        """Derived yes/no values and the conditions that define them."""
        return {d.id: d.when for d in self.derived if d.when is not None}

    @cached_property
    def _pages_by_id(self) -> Mapping[str, Page]:
        return {page.id: page for page in self.pages}

    @cached_property
    def _derived_by_id(self) -> Mapping[str, Derived]:
        return {d.id: d for d in self.derived}

    def page(self, page_id: str) -> Page | None:
        return self._pages_by_id.get(page_id)

    def red_flag(self, flag_id: str) -> RedFlag:
        return next(flag for flag in self.red_flags if flag.id == flag_id)

    def triage_level(self, level_id: str) -> TriageLevel:
        return self.triage_levels[self.severity[level_id]]

    def derived_value(self, derived_id: str) -> Derived:
        return self._derived_by_id[derived_id]
