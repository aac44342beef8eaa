"""Where a person is in the questionnaire, from the answers kept in their session.

The answers live in the signed session cookie for now; nothing is stored on the server.
Answers to pages that become skipped are kept (so changing an answer back restores
them) but the engine never uses them.
"""

from __future__ import annotations

from typing import Any

from flask import session

from ..engine import Kind, Page, RuleSet, clean_answer, plan
from ..rules import current_rules

SESSION_KEY = "answers"


def saved_answers() -> dict[str, Any]:
    """The answers in the session that the current rules still accept.

    An answer the rules no longer know (they changed since it was given) is dropped, so
    the person is asked again instead of being stuck.
    """
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return {}
    questions = current_rules().questions
    answers: dict[str, Any] = {}
    for qid, value in stored.items():
        question = questions.get(qid)
        if question is None:
            continue
        try:
            clean_answer(question, value)
        except ValueError:
            continue
        answers[qid] = value
    return answers


def save_page(page: Page, data: dict[str, Any]) -> None:
    """Replace this page's answers with ``data`` (empty answers are removed)."""
    answers = saved_answers()
    for question in page.questions:
        value = data.get(question.id)
        if value in (None, "", []):
            answers.pop(question.id, None)
        else:
            answers[question.id] = list(value) if question.kind is Kind.SEVERAL else value
    session[SESSION_KEY] = answers


def forget_answers() -> None:
    session.pop(SESSION_KEY, None)


def is_complete(page: Page, answers: dict[str, Any]) -> bool:
    return all(q.id in answers for q in page.questions if q.required)


def first_incomplete(rules: RuleSet, answers: dict[str, Any]) -> Page | None:
    """The first page still to be answered on the way these answers lead, if any."""
    for page in plan(rules, answers).asked:
        if not is_complete(page, answers):
            return page
    return None


def next_page(rules: RuleSet, answers: dict[str, Any], current: Page) -> Page | None:
    """The page after ``current`` on the way these answers lead (None: the end)."""
    route = plan(rules, answers).asked
    ids = [p.id for p in route]
    if current.id in ids:
        index = ids.index(current.id)
        return route[index + 1] if index + 1 < len(route) else None
    order = [p.id for p in rules.pages]
    later = [p for p in route if order.index(p.id) > order.index(current.id)]
    return later[0] if later else None


def previous_page(rules: RuleSet, answers: dict[str, Any], current: Page) -> Page | None:
    route = plan(rules, answers).asked
    ids = [p.id for p in route]
    index = ids.index(current.id) if current.id in ids else 0
    return route[index - 1] if index > 0 else None
