"""Clinician-graded scales of facial function: Sunnybrook, eFACE and House–Brackmann.

Pure Python, beside the rule engine: each scale is its items and formulas
(:class:`~checker.grading.scale.Scale`); ``SCALES[id].grade(raw)`` checks raw values and
scores them, raising :class:`GradingErrors` naming every item that is wrong.
"""

from __future__ import annotations

from .eface import EFACE
from .house_brackmann import HOUSE_BRACKMANN
from .scale import Choice, Graded, GradingErrors, Item, Problem, Scale, Score, Section
from .sunnybrook import SUNNYBROOK

SCALES: dict[str, Scale] = {scale.id: scale for scale in (SUNNYBROOK, EFACE, HOUSE_BRACKMANN)}

__all__ = ["SCALES", "Choice", "Graded", "GradingErrors", "Item", "Problem", "Scale", "Score", "Section"]
