"""WTForms classes built once from the rule set: one form per page, fields named by question id.

The forms have no checks of their own: whether an answer is needed, its codes, its length
and the codes that stand alone are the engine's (:func:`clean_answer`, ``required``), worded
here for a person. A clinician who edits these in ``rules.yaml`` edits the web pages too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext
from werkzeug.datastructures import MultiDict
from wtforms import Field, RadioField, SelectMultipleField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import StopValidation, ValidationError

from ..engine import AnswerProblem, Kind, Page, Question, RuleSet, clean_answer
from ..web.security import Form


def _missing_message(question: Question) -> Any:
    if question.kind is Kind.SCALE:
        return lazy_gettext("Choose how often this happens")
    if set(question.codes) == {"yes", "no"}:
        return lazy_gettext("Choose yes or no")
    if question.kind is Kind.SEVERAL:
        return lazy_gettext("Choose at least one answer")
    return lazy_gettext("Choose an answer")


def _problem_message(question: Question, problem: AnswerProblem) -> Any:
    if problem.kind == "too_long":
        return lazy_gettext("Write %(max)d characters or fewer", max=problem.limit)
    if problem.kind == "alone":
        return lazy_gettext('Choose "None of these" on its own, or only the treatments you had')
    return _missing_message(question)  # a code the page does not offer: the form was tampered with


class EngineCheck:
    """The engine's check of one answer, worded for a person: needed or not (``required``), then
    :func:`clean_answer` (codes, length, codes that stand alone)."""

    def __init__(self, question: Question) -> None:
        self.question = question
        self.field_flags = {"required": question.required}

    def __call__(self, form: Form, field: Field) -> None:
        value = field.data
        if value is None or value == "" or value == []:
            field.errors[:] = []  # a choice left blank is no "not a valid choice"
            if self.question.required:
                raise StopValidation(str(_missing_message(self.question)))
            raise StopValidation()
        try:
            clean_answer(self.question, list(value) if self.question.kind is Kind.SEVERAL else value)
        except AnswerProblem as problem:
            raise ValidationError(str(_problem_message(self.question, problem))) from None


def _field(question: Question) -> Field:
    check = [EngineCheck(question)]
    if question.kind is Kind.TEXT:
        return TextAreaField(question.text, validators=check)
    choices = [SelectChoice(o.code, o.label) for o in question.options]
    if question.kind is Kind.SEVERAL:
        return SelectMultipleField(question.text, choices=choices, validators=check, validate_choice=False)
    coerce = int if question.kind is Kind.SCALE else str
    return RadioField(question.text, choices=choices, coerce=coerce, validators=check, validate_choice=False)


class ActionForm(Form):
    """A button that changes something (start again, send, start an invitation): only a CSRF token."""


def build_forms(rules: RuleSet) -> Mapping[str, type[Form]]:
    """A form class for each page, keyed by page id."""
    forms: dict[str, type[Form]] = {}
    for page in rules.pages:
        fields = {question.id: _field(question) for question in page.questions}
        forms[page.id] = type(f"{page.id.title()}Form", (Form,), fields)
    return forms


def tampered(page: Page, posted: MultiDict[str, str]) -> bool:
    """True when a posted value is not one the page offers: a tampered or forged form."""
    for question in page.questions:
        values = posted.getlist(question.id)
        if len(values) > 1 and question.kind is not Kind.SEVERAL:
            return True
        if question.kind is not Kind.TEXT and not question.code_texts.issuperset(values):
            return True
    return False
