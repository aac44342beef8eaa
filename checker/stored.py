"""Stored results shown as they were made, never recomputed with today's rules (SPEC section 7).

A submission keeps its answers and the result the engine gave then. Staff pages, PDFs and
FHIR exports draw outcome, triage, red flags, SAQ and reasons from that stored result. The
words around them (questions, flag and stage names) come from the rule set that produced
it: today's when the sha256 matches, else a shipped copy of that earlier file
(``checker/rules_archive/``) or the copy kept in the database when the first result it made
was stored, else today's with the bare id for anything it no longer knows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .db import db, utcnow
from .engine import (
    AnswerErrors,
    Outcome,
    Plan,
    Reason,
    RedFlag,
    Result,
    RulesError,
    RuleSet,
    TriageLevel,
    assess,
    load_rules_text,
    plan,
)
from .engine.conditions import All
from .models import RulesText, Submission
from .rules import current_rules_text

ARCHIVE = Path(__file__).parent / "rules_archive"


@dataclass(frozen=True)
class StoredResult:
    """A stored result with the same reading interface as the engine's :class:`Result`."""

    outcome: str | None
    triage: str
    red_flags: tuple[str, ...]
    saq_total: float | None
    reasons: tuple[Reason, ...]
    answers: Mapping[str, Any]
    plan: Plan
    rules: RuleSet  # words for the ids above, with the version and sha256 that produced them
    today: Result | None  # what today's rules make of the same answers, when that differs
    today_needs: tuple[str, ...]  # questions today's rules would need that this check did not ask

    @property
    def differs_today(self) -> bool:
        return self.today is not None or bool(self.today_needs)


def reason_records(result: Result) -> list[dict[str, Any]]:
    """The reasons with their templates and values, so a stored result reads in any language."""
    return [
        {"rule": r.rule, "template": r.template, "values": {k: _jsonable(v) for k, v in r.values.items()}}
        for r in result.reasons
    ]


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def stored_result(
    answers: Mapping[str, Any], result: Mapping[str, Any], version: str, sha256: str, current: RuleSet
) -> StoredResult:
    """The stored ``result`` of ``answers``, worded by the rule set that made it."""
    rules = _wording(current, version, sha256, result)
    saq = result.get("saq")
    stored = StoredResult(
        outcome=result.get("outcome"),
        triage=str(result.get("triage")),
        red_flags=tuple(result.get("red_flags") or ()),
        saq_total=saq.get("total") if isinstance(saq, Mapping) else None,
        reasons=_reasons(result),
        answers=MappingProxyType(dict(answers)),
        plan=plan(rules, answers),
        rules=rules,
        today=None,
        today_needs=(),
    )
    if sha256 == current.sha256:
        return stored
    try:
        today = assess(current, dict(answers))
    except AnswerErrors as exc:
        return dataclasses.replace(stored, today_needs=tuple(sorted(exc.errors)))
    made = (stored.outcome, stored.triage, stored.red_flags, stored.saq_total)
    if (today.outcome, today.triage, today.red_flags, today.saq_total) == made:
        return stored
    return dataclasses.replace(stored, today=today)


def _reasons(result: Mapping[str, Any]) -> tuple[Reason, ...]:
    """Reasons from their templates when stored (any language), else the stored English text."""
    shown = tuple(Reason(str(r.get("rule")), str(r.get("text")), {}) for r in _records(result.get("reasons")))
    parts = _records(result.get("reason_templates"))
    rebuilt = tuple(r for r in (_reason(p) for p in parts) if r is not None)
    # Stored before templates were kept, or damaged since: the text as shown, placeholders filled.
    return rebuilt if parts and len(rebuilt) == len(parts) else shown


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _reason(part: Mapping[str, Any]) -> Reason | None:
    """A stored reason template with its values; None when it is not one."""
    values = part.get("values")
    if not isinstance(part.get("rule"), str) or not isinstance(part.get("template"), str):
        return None
    if not isinstance(values, Mapping):
        return None
    filled: dict[str, str | tuple[str, ...] | float | int] = {}
    for key, value in values.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            filled[str(key)] = tuple(value)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            filled[str(key)] = value
        else:
            return None
    return Reason(part["rule"], part["template"], filled)


def new_submission(answers: dict[str, Any], result: Result, **fields: Any) -> Submission:
    """A submission to store (the caller adds and commits), with its rules file kept beside it."""
    keep_rules_text(result.rules)
    return Submission.of(answers, result, **fields)


def keep_rules_text(rules: RuleSet) -> None:
    """Keep the text of the running rules file once, in the caller's transaction.

    An insert that does nothing when the file is already there, so two first submissions at
    the same moment do not clash.
    """
    values = {"sha256": rules.sha256, "version": rules.version, "text": current_rules_text(), "first_used_at": utcnow()}
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):  # the dialect's own insert, loaded with the dialect in use
        insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
        db.session.execute(insert(RulesText).values(**values).on_conflict_do_nothing())
    elif db.session.get(RulesText, rules.sha256) is None:
        db.session.add(RulesText(**values))


def wording_of(check: Submission, current: RuleSet) -> RuleSet:
    """The rule set whose words name what a stored check holds (without reading it again)."""
    return _wording(current, check.rules_version, check.rules_sha256, check.result)


def _wording(current: RuleSet, version: str, sha256: str, result: Mapping[str, Any]) -> RuleSet:
    """The rule set that produced a result, or today's, knowing every id the result names."""
    rules = current if sha256 == current.sha256 else archived_rules().get(sha256) or _kept_rules(sha256) or current
    missing_flags = [f for f in result.get("red_flags") or () if f not in {x.id for x in rules.red_flags}]
    outcome = result.get("outcome")
    triage = str(result.get("triage"))
    never_stops = All((), None, None)
    return dataclasses.replace(
        rules,
        version=version,
        sha256=sha256,
        red_flags=rules.red_flags + tuple(RedFlag(f, triage, f, "", never_stops) for f in missing_flags),
        outcomes=MappingProxyType(
            {**rules.outcomes, **({outcome: Outcome(outcome, outcome, "")} if outcome not in rules.outcomes else {})}
        )
        if outcome
        else rules.outcomes,
        triage_levels=rules.triage_levels
        + ((TriageLevel(triage, triage, False),) if triage not in {t.id for t in rules.triage_levels} else ()),
    )


def _kept_rules(sha256: str) -> RuleSet | None:
    """The rules file kept in the database for this sha256, compiled, if it still compiles."""
    kept = db.session.get(RulesText, sha256)
    return _compiled(kept.text, kept.sha256) if kept is not None else None


@lru_cache(maxsize=16)
def _compiled(text: str, sha256: str) -> RuleSet | None:
    try:
        return load_rules_text(text, f"rules {sha256[:12]}", sha256)
    except RulesError:
        return None  # today's engine cannot read it: today's words are used instead


@lru_cache(maxsize=1)
def archived_rules() -> Mapping[str, RuleSet]:
    """The shipped earlier rules files that still compile, by their sha256."""
    found: dict[str, RuleSet] = {}
    for path in sorted(ARCHIVE.glob("*.yaml")):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            found[digest] = load_rules_text(data.decode("utf-8"), path.name, digest)
        except (RulesError, UnicodeDecodeError):
            continue  # an archive today's engine cannot read: today's words are used instead
    return MappingProxyType(found)
