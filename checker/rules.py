"""The rule set the running app was started with."""

from __future__ import annotations

from flask import current_app

from .engine import RuleSet

RULES_KEY = "checker.rules"


def current_rules() -> RuleSet:
    rules: RuleSet = current_app.extensions[RULES_KEY]
    return rules
