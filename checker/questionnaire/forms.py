"""WTForms classes built once from the rule set: one form per page, fields named by question id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Field, RadioField, SelectMultipleField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..engine import Kind, Page, Question, RuleSet
from ..web.security import Form


def _missing_message(question: Question) -> Any:
    if question.kind is Kind.SCALE:
        return lazy_gettext("Choose how often this happens")
    if set(question.codes) == {"yes", "no"}:
        return lazy_gettext("Choose yes or no")
    if question.kind is Kind.SEVERAL:
        return lazy_gettext("Choose at least one answer")
    return lazy_gettext("Choose an answer")


class _Alone:
    """Codes such as 'none' that cannot be chosen with others."""

    def __init__(self, codes: frozenset[Any]) -> None:
        self.codes = codes

    def __call__(self, form: FlaskForm, field: Field) -> None:
        chosen = set(field.data or ())
        if chosen & self.codes and len(chosen) > 1:
            raise ValidationError(lazy_gettext('Choose "None of these" on its own, or only the treatments you had'))


def _field(question: Question) -> Field:
    choices = [SelectChoice(o.code, o.label) for o in question.options]
    if question.kind is Kind.TEXT:
        limit = question.max_length or 10_000
        return TextAreaField(
            question.text,
            validators=[Optional(), Length(max=limit, message=lazy_gettext("Write %(max)d characters or fewer"))],
        )
    required = InputRequired(message=_missing_message(question))
    if question.kind is Kind.SEVERAL:
        return SelectMultipleField(question.text, choices=choices, validators=[required, _Alone(question.alone)])
    coerce = int if question.kind is Kind.SCALE else str
    return RadioField(question.text, choices=choices, coerce=coerce, validators=[required])


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
