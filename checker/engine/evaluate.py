"""Answers in, result out: validate, work out which pages were asked, and apply the rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .conditions import TraceNode, true_reasons
from .model import Kind, Page, Question, RedFlag, RuleSet
from .problems import did_you_mean

_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+(?:\.items)?)\}")


class AnswerErrors(Exception):
    """Answers that cannot be assessed: a message for each question id at fault."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class AnswerProblem(ValueError):
    """Why one answer is not valid: the message (the API's words) and its ``kind``, so each
    interface can word it for its own readers: "text", "too_long" (with ``limit``), "none_chosen",
    "alone", "not_a_code"."""

    def __init__(self, message: str, kind: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.limit = kind, limit


def _same(text: str) -> str:
    return text


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the outcome was reached, as a template and the answers that fill it."""

    rule: str
    template: str
    values: Mapping[str, str | tuple[str, ...] | float | int]

    def text(
        self,
        translate: Callable[[str], str] = _same,
        join: Callable[[list[str]], str] = join_words,
    ) -> str:
        def fill(match: re.Match[str]) -> str:
            value = self.values.get(match.group(1), "")
            if isinstance(value, tuple):
                return join([translate(v) for v in value])
            if isinstance(value, str):
                return translate(value)
            return f"{value:g}"

        return _PLACEHOLDER.sub(fill, translate(self.template))


@dataclass(frozen=True, slots=True)
class Plan:
    """The pages a set of answers leads through."""

    asked: tuple[Page, ...]
    skipped: tuple[Page, ...]
    stopped_after: str | None  # the page after which a stopping red flag ended it
    given: Mapping[str, Any] = field(default_factory=dict)  # the answers on the pages asked

    def first_incomplete(self) -> Page | None:
        """The first page asked whose required questions are not all answered, if any."""
        given = self.given.keys()
        for page in self.asked:
            if not page.required_ids <= given:
                return page
        return None


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer for one set of answers."""

    outcome: str | None
    triage: str
    red_flags: tuple[str, ...]
    saq_total: float | None
    reasons: tuple[Reason, ...]
    answers: Mapping[str, Any]  # the answers used: those on skipped pages are dropped
    derived: Mapping[str, Any]
    plan: Plan
    rules: RuleSet

    @property
    def stopped(self) -> bool:
        return self.plan.stopped_after is not None

    def to_json(self, trace: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "outcome": self.outcome,
            "triage": self.triage,
            "red_flags": list(self.red_flags),
            "saq": None if self.saq_total is None else {"total": self.saq_total},
            "reasons": [{"rule": r.rule, "text": r.text()} for r in self.reasons],
            "rules": {"version": self.rules.version, "sha256": self.rules.sha256},
        }
        if trace:
            data["trace"] = self.trace()
        return data

    def trace(self) -> dict[str, Any]:
        """Every condition that decided this result, and how each came out."""
        ctx = {**self.answers, **self.derived}
        flags = [
            {"id": f.id, "triage": f.triage, "present": f.id in self.red_flags, "test": f.when.explain(ctx).to_json()}
            for f in self.rules.red_flags
        ]
        tried: list[dict[str, Any]] = []
        if self.outcome is not None:
            for rule in self.rules.outcome_rules:
                node: TraceNode = rule.when.explain(ctx)
                tried.append({"outcome": rule.outcome, "result": node.result, "test": node.to_json()})
                if node.result:
                    break
        return {
            "pages": {
                "asked": [p.id for p in self.plan.asked],
                "skipped": [p.id for p in self.plan.skipped],
                "stopped_after": self.plan.stopped_after,
            },
            "derived": dict(self.derived),
            "red_flags": flags,
            "outcome_rules": tried,
        }


def plan(rules: RuleSet, answers: Mapping[str, Any]) -> Plan:
    """Which pages these answers lead through.

    A page whose skip condition reads a question not answered yet counts as asked, so a
    partly filled questionnaire shows the longest way still possible.
    """
    asked: list[Page] = []
    skipped: list[Page] = []
    kept: dict[str, Any] = {}
    unasked: set[str] = set()  # questions on pages skipped so far: known to have no answer
    stopped_after: str | None = None
    stops = rules.stops_after
    for page in rules.pages:
        if stopped_after is not None or not _is_asked(page, kept, unasked):
            skipped.append(page)
            unasked.update(page.question_ids)
            continue
        asked.append(page)
        for qid in page.question_ids:
            if qid in answers:
                kept[qid] = answers[qid]
        for condition in stops[page.id]:
            if condition.test(kept):
                stopped_after = page.id
    return Plan(tuple(asked), tuple(skipped), stopped_after, kept)


def _is_asked(page: Page, answers: Mapping[str, Any], unasked: set[str]) -> bool:
    """Whether the page is asked; while its skip condition waits on an answer still to come, yes."""
    if page.ask_when is None:
        return True
    for qid in page.ask_needs:  # a plain loop: this runs for every page of every route
        if qid not in answers and qid not in unasked:
            return True
    return page.ask_when.test(answers)


def stop_questions(rules: RuleSet, route: Plan, answers: Mapping[str, Any]) -> frozenset[str]:
    """The questions that stopped the questionnaire: the only ones its last page still needs."""
    if route.stopped_after is None:
        return frozenset()
    return frozenset().union(*(c.subjects() for c in rules.stops_after[route.stopped_after] if c.test(answers)))


def known_red_flags(rules: RuleSet, route: Plan, interrupting: bool = False) -> tuple[RedFlag, ...]:
    """The red flags that the answers on the pages of ``route``, partly given, already show,
    in the rules' order (with ``interrupting``, only those whose level interrupts the check).

    Only flags that read nothing but answers, all of them given, are decided this early: a
    flag that reads a derived value or an answer still to come waits for the full result.
    """
    given = route.given
    flags = rules.interrupting_flags if interrupting else rules.answer_flags
    return tuple(flag for flag, reads in flags if reads <= given.keys() and flag.when.test(given))


def clean_answer(question: Question, value: Any) -> Any:
    """The answer in its stored form; ``ValueError`` with a message when it is not valid."""
    if value.__class__ is question.code_type and value in question.code_set:
        return value  # the common case: one valid code
    kind = question.kind
    if kind is Kind.TEXT:
        if not isinstance(value, str):
            raise AnswerProblem("must be text", "text")
        if "\x00" in value:  # invisible, and no database can keep it in text
            raise AnswerProblem("must not contain the NUL character", "text")
        value = value.strip()
        if question.max_length is not None and len(value) > question.max_length:
            raise AnswerProblem(f"must be at most {question.max_length} characters", "too_long", question.max_length)
        return value
    if kind is Kind.SEVERAL:
        if not isinstance(value, list) or not value:
            raise AnswerProblem(f"must be a list of at least one of: {_codes(question)}", "none_chosen")
        for code in value:
            _check_code(question, code)
        chosen = frozenset(value)
        lonely = chosen & question.alone
        if lonely and len(chosen) > 1:
            raise AnswerProblem(f"'{sorted(lonely)[0]}' cannot be combined with other answers", "alone")
        return chosen
    _check_code(question, value)
    return value


def accepted_answers(rules: RuleSet, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The answers, as stored, that these rules still accept: any other is left out."""
    questions = rules.questions
    accepted: dict[str, Any] = {}
    for qid, value in stored.items():
        question = questions.get(qid)
        if question is None:
            continue
        if value.__class__ is not question.code_type or value not in question.code_set:  # not one valid code
            try:
                clean_answer(question, value)
            except ValueError:
                continue
        accepted[qid] = value
    return accepted


def _codes(question: Question) -> str:
    return ", ".join(str(c) for c in question.codes)


def _check_code(question: Question, code: Any) -> None:
    if type(code) is not type(question.codes[0]) or code not in question.code_set:
        if question.kind is Kind.SCALE and type(code) is not int:
            raise AnswerProblem(f"must be a whole number, one of: {_codes(question)}", "not_a_code")
        hint = did_you_mean(code, [str(c) for c in question.codes]) if isinstance(code, str) else ""
        raise AnswerProblem(f"{code!r} is not one of: {_codes(question)}{hint}", "not_a_code")


MAX_UNKNOWN_LISTED = 20  # unknown question ids named in one answer
MAX_HINTED_LENGTH = 64  # longer ids get no "did you mean", and are cut to this in the answer


def validate(rules: RuleSet, answers: Any) -> tuple[Mapping[str, Any], Plan]:
    """Check every answer and drop those on skipped pages; raise :class:`AnswerErrors`."""
    if not isinstance(answers, Mapping):
        raise AnswerErrors({"answers": "must be an object mapping question ids to answers"})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    questions = rules.questions
    unknown = 0
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            unknown += 1  # named (with a hint) up to a point: a flood of them costs no more than that
            if unknown <= MAX_UNKNOWN_LISTED:
                name = str(key)
                hint = did_you_mean(name, questions) if len(name) <= MAX_HINTED_LENGTH else ""
                errors[name[:MAX_HINTED_LENGTH]] = "unknown question id" + hint
            continue
        if value is None or value == "":
            continue  # treated as not answered
        try:
            cleaned[key] = clean_answer(question, value)
        except ValueError as exc:
            errors[key] = str(exc)
    route = plan(rules, cleaned)
    used = route.given
    for page in route.skipped:  # answers there are ignored, so a bad one there is no reason to refuse
        for question in page.questions:
            errors.pop(question.id, None)
    stopping = stop_questions(rules, route, used)  # once a stop holds, its page needs nothing else
    for page in route.asked:
        for question in page.questions:
            if page.id == route.stopped_after and question.id not in stopping:
                continue
            if question.required and question.id not in used and question.id not in errors:
                errors[question.id] = "an answer is required"
    if unknown > MAX_UNKNOWN_LISTED:
        errors["answers"] = f"{unknown - MAX_UNKNOWN_LISTED} more unknown question ids, not listed"
    if errors and route.stopped_after is None:  # a stop comes first: answers it cannot read do not hold it up
        raise AnswerErrors(errors)
    return used, route


def derive(rules: RuleSet, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The derived values, in the order the rules file gives them."""
    ctx: dict[str, Any] = dict(answers)
    values: dict[str, Any] = {}
    for d in rules.derived:
        if d.when is not None:
            value: Any = d.when.test(ctx)
        elif not all(q in ctx for q in d.group):
            value = None  # the group's page was not asked: no score and no count
        elif d.kind == "count":
            value = sum(1 for q in d.group if ctx[q] >= d.at_least)
        else:
            value = _percent(int(sum(ctx[q] for q in d.group)), d.top, d.decimals)
        ctx[d.id] = values[d.id] = value
    return values


def _percent(part: int, whole: int, decimals: int) -> float:
    """part / whole x 100, rounded half up to ``decimals`` places, in exact integer arithmetic."""
    scale: int = 10**decimals
    return ((200 * scale * part + whole) // (2 * whole)) / scale


def assess(rules: RuleSet, answers: Any) -> Result:
    """Validate ``answers`` and apply the rules; raise :class:`AnswerErrors` when invalid."""
    used, route = validate(rules, answers)
    derived = derive(rules, used)
    ctx = {**used, **derived}
    fired = [f for f in rules.red_flags if f.when.test(ctx)]
    red_flags = tuple(f.id for f in fired)
    triage = min((f.triage for f in fired), key=rules.severity.__getitem__, default=rules.triage_levels[-1].id)
    outcome: str | None = None
    reasons: tuple[Reason, ...] = ()
    if not rules.triage_level(triage).stops:
        for rule in rules.outcome_rules:
            if rule.when.test(ctx):
                outcome = rule.outcome
                texts = true_reasons(rule.when, ctx, rules.definitions.get) or [rule.reason]
                reasons = tuple(Reason(rule.outcome, t, _fill(rules, t, ctx)) for t in texts)
                break
    return Result(
        outcome=outcome,
        triage=triage,
        red_flags=red_flags,
        saq_total=derived.get(rules.score),
        reasons=reasons,
        answers=used,
        derived=derived,
        plan=route,
        rules=rules,
    )


@lru_cache(maxsize=1024)
def _placeholders(template: str) -> tuple[str, ...]:
    return tuple(_PLACEHOLDER.findall(template))


def _fill(rules: RuleSet, template: str, ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The values a reason's placeholders stand for, as English words or numbers."""
    values: dict[str, Any] = {}
    for name in _placeholders(template):
        base, _, part = name.partition(".")
        question = rules.questions.get(base)
        if question is not None:
            values[name] = _said(question, ctx.get(base))
        elif part == "items":
            d = rules.derived_value(base)
            values[name] = tuple(
                rules.questions[q].phrase or rules.questions[q].text for q in d.group if ctx.get(q, 0) >= d.at_least
            )
        else:
            values[name] = ctx.get(base)
    return values


def _said(question: Question, answer: Any) -> str | tuple[str, ...]:
    if isinstance(answer, frozenset):
        return tuple(o.said for o in question.options if o.code in answer)
    option = question.option(answer)
    return option.said if option else ""
