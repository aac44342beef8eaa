"""The rule set the running app was started with."""

from __future__ import annotations

from flask import current_app

from .engine import RuleSet

RULES_KEY = "checker.rules"
RULES_TEXT_KEY = "checker.rules_text"  # the file as loaded, kept with the results it produces


def current_rules() -> RuleSet:
    rules: RuleSet = current_app.extensions[RULES_KEY]
    return rules


def current_rules_text() -> str:
    text: str = current_app.extensions[RULES_TEXT_KEY]
    return text
