"""Clinical wording for staff documents, from the rules file (``clinician:`` beside each name
and reason a person reads).

Patients read the rules' own plain wording; the clinician's summary names the same things
the way a clinician writes them. A stored result is worded by the rules that made it; what
that file had no clinical wording for comes from today's file (the same id, or the same reason
template), then from ``rules_archive/clinician/`` (reasons of earlier files that no longer
stand in today's), else the patient's own words, so nothing is ever left unnamed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, partial
from typing import Any

import yaml
from flask_babel import lazy_gettext as _l

from ..engine import Reason, RuleSet
from ..rules import current_rules
from ..stored import ARCHIVE
from ..web.i18n import join_list, translate
from ..web.i18n import reason_text as patient_reason_text

EARLIER_REASONS = ARCHIVE / "clinician"


@cache
def earlier_reasons() -> Mapping[str, str]:
    """Clinical wording of reasons that only earlier rules files have, keyed by their template."""
    found: dict[str, str] = {}
    for path in sorted(EARLIER_REASONS.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["reasons"]:
            found[" ".join(item["template"].split())] = " ".join(item["clinician"].split())
    return found


def _clinical(rules: RuleSet, pick: Callable[[RuleSet], str | None]) -> str | None:
    """The first clinical wording ``pick`` finds in the rules that made a result, then in today's."""
    for source in (rules, current_rules()):
        found = pick(source)
        if found:
            return found
    return None


def reason_text(rules: RuleSet, reason: Reason) -> str:
    """A reason in clinical words when its template has them; otherwise as the patient read it."""
    template = " ".join(reason.template.split())
    clinical = _clinical(rules, lambda r: r.clinician_reasons.get(template)) or earlier_reasons().get(template)
    if clinical is None:
        return patient_reason_text(reason)
    items = {}  # an SAQ item's phrase, as the reason lists it, to its clinical name
    for question in rules.questions.values():
        if question.phrase:
            found = _clinical(rules, partial(_clinician_of, question_id=question.id))
            if found:
                items[question.phrase] = translate(found)

    def words(text: str) -> str:
        if text == reason.template:
            return translate(clinical)
        item = items.get(text)
        return item.lower() if item is not None else translate(text)

    return reason.text(words, join_list)


def flag_name(rules: RuleSet, flag_id: str) -> str:
    found = _clinical(rules, lambda r: next((f.clinician for f in r.red_flags if f.id == flag_id), None))
    return translate(found) if found else translate(rules.red_flag(flag_id).name)


def stage_name(rules: RuleSet, outcome: str | None) -> str:
    if outcome is None:
        return str(_l("Stopped at the safety questions"))
    found = _clinical(rules, lambda r: r.outcomes[outcome].clinician if outcome in r.outcomes else None)
    return translate(found) if found else translate(rules.outcomes[outcome].name)


def triage_name(rules: RuleSet, triage: str) -> str:
    found = _clinical(rules, lambda r: r.triage_level(triage).clinician if triage in r.severity else None)
    return translate(found) if found else translate(rules.triage_level(triage).name)


def _clinician_of(rules: RuleSet, question_id: str) -> str | None:
    return rules.questions[question_id].clinician if question_id in rules.questions else None


def _question(rules: RuleSet, question_id: str) -> str:
    found = _clinical(rules, lambda r: _clinician_of(r, question_id))
    return translate(found) if found else translate(rules.questions[question_id].text)


def history_value(rules: RuleSet, question_id: str, value: Any) -> str:
    """An answer as a clinician writes it ("Complete paralysis" for "Not at all"), each chosen
    option by its ``clinician:`` wording, else its label; free text as written."""
    if value is None or value == "" or value == []:
        return ""
    question = rules.questions.get(question_id)
    if question is None or not question.options:
        return str(value)
    codes = value if isinstance(value, list | tuple) else [value]

    def option_words(code: Any) -> str | None:
        def pick(source: RuleSet) -> str | None:
            asked = source.questions.get(question_id)
            return next((o.clinician for o in asked.options if o.code == code), None) if asked else None

        found = _clinical(rules, pick)
        label = next((o.label for o in question.options if o.code == code), None)
        return translate(found) if found else translate(label) if label else None

    return ", ".join(words for code in codes if (words := option_words(code)))


saq_item = _question  # an SAQ item, as a clinician names it
history_label = _question  # a history question (cause, onset...), as a clinician names it


def saq_items(rules: RuleSet) -> tuple[str, ...]:
    """The question ids the SAQ total is made from, in the questionnaire's order."""
    return next((d.group for d in rules.derived if d.id == rules.score), ())


TEMPLATE_GLOBALS = {
    "clinical_flag": flag_name,
    "clinical_stage": stage_name,
    "clinical_triage": triage_name,
    "clinical_saq_item": saq_item,
    "saq_items": saq_items,
    "clinical_history": history_label,
    "clinical_answer": history_value,
    "clinical_reason": reason_text,
}
