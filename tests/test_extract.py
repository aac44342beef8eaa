"""Every text of the rules that a person can read is found by the Babel extractor."""

from __future__ import annotations

from pathlib import Path

from checker.engine import RuleSet, load_rules
from checker.engine.conditions import All, Any_, Condition, Not
from checker.engine.load import load_text
from checker.extract import rules_messages

from .conftest import RULES_PATH, extract_catalogue


def _reasons(condition: Condition) -> set[str]:
    found = {condition.reason} if condition.reason else set()
    if isinstance(condition, (All, Any_)):
        for part in condition.parts:
            found |= _reasons(part)
    if isinstance(condition, Not):
        found |= _reasons(condition.part)
    return found


def shown_texts(rules: RuleSet) -> set[str]:
    texts: set[str] = set()
    for page in rules.pages:
        texts |= {page.title, page.intro or ""}
        for q in page.questions:
            texts |= {q.text, q.hint or "", q.phrase or "", *q.points}
            for o in q.options:
                texts |= {o.label, o.hint or "", o.phrase or ""}
    for level in rules.triage_levels:
        texts |= {level.name, level.advice}
    for flag in rules.red_flags:
        texts |= {flag.name, flag.advice}
    for outcome in rules.outcomes.values():
        texts |= {outcome.name, outcome.summary}
    for rule in rules.outcome_rules:
        texts |= {rule.reason, rule.describe} | _reasons(rule.when)
    for derived in rules.derived:
        if derived.when is not None:
            texts |= _reasons(derived.when)
    return texts - {""}


def test_extractor_finds_every_shown_text() -> None:
    rules = load_rules(RULES_PATH)
    extracted = {text for _, _, text in rules_messages(load_text(RULES_PATH.read_text(), "rules.yaml"))}
    assert shown_texts(rules) - extracted == set()
    assert not any("bell-2-weeks" in text for text in extracted)  # worked cases are not shown


def test_pybabel_extracts_templates_code_and_rules(tmp_path: Path) -> None:
    pot = extract_catalogue(tmp_path)
    catalogue = pot.read_text(encoding="utf-8")
    assert 'msgid "Step %(step)d of %(steps)d"' in catalogue  # a template
    assert 'msgid "Choose yes or no"' in catalogue  # code
    assert 'msgid "When I smile, my eye closes or gets narrower."' in catalogue  # rules.yaml
