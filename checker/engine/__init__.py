"""The rule engine: pure Python, no web framework.

``load_rules(path)`` reads, checks and compiles a rules file once (running its worked
cases); ``assess(rules, answers)`` turns answers into a :class:`Result`.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from .compile import compile_rules
from .evaluate import (
    AnswerErrors,
    AnswerProblem,
    Plan,
    Reason,
    Result,
    accepted_answers,
    assess,
    clean_answer,
    known_red_flags,
    plan,
    validate,
)
from .load import load_text
from .model import Kind, Option, Outcome, Page, Question, RedFlag, RuleSet, TriageLevel, WorkedCase
from .problems import Problem, RulesError

__all__ = [
    "AnswerErrors",
    "AnswerProblem",
    "Kind",
    "Option",
    "Outcome",
    "Page",
    "Plan",
    "Problem",
    "Question",
    "Reason",
    "RedFlag",
    "Result",
    "RuleSet",
    "RulesError",
    "TriageLevel",
    "WorkedCase",
    "accepted_answers",
    "assess",
    "case_problems",
    "clean_answer",
    "known_red_flags",
    "load_rules",
    "load_rules_text",
    "plan",
    "validate",
]


def display_path(path: str) -> str:
    """The path as a person would type it: relative when inside the current folder."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def load_rules(path: str | os.PathLike[str]) -> RuleSet:
    """Read, check and compile a rules file; raise :class:`RulesError` with every problem."""
    shown = display_path(os.fspath(path))
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise RulesError([Problem(shown, 1, 1, f"cannot read the rules file: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RulesError([Problem(shown, line, 1, "the rules file is not UTF-8 text")]) from None
    return load_rules_text(text, shown, hashlib.sha256(data).hexdigest())


def load_rules_text(text: str, file: str = "rules.yaml", sha256: str | None = None) -> RuleSet:
    """Check and compile rules given as text (its worked cases must agree)."""
    digest = sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    rules = compile_rules(load_text(text, file), digest)
    problems = case_problems(rules)
    if problems:
        raise RulesError(problems)
    return rules


def case_problems(rules: RuleSet) -> list[Problem]:
    """Each worked case whose result differs from what the case expects."""
    problems: list[Problem] = []
    for index, case in enumerate(rules.cases):
        where = f"cases[{index}] '{case.name}'"

        def report(message: str, line: int = case.line, where: str = where) -> None:
            problems.append(Problem(rules.path, line, 1, f"{where}: {message}"))

        try:
            result = assess(rules, dict(case.answers))
        except AnswerErrors as exc:
            for qid, message in exc.errors.items():
                report(f"answers.{qid}: {message}")
            continue
        got: dict[str, Any] = {
            "outcome": result.outcome,
            "triage": result.triage,
            "red_flags": list(result.red_flags),
            "saq_total": result.saq_total,
        }
        for key, expected in case.expect.items():
            close = isinstance(expected, (int, float)) and isinstance(got[key], float)
            if key == "saq_total" and close and abs(float(expected) - got[key]) <= 0.05:
                continue
            if got[key] != expected:
                report(f"expected {key} {expected!r}, got {got[key]!r}")
    return problems
