"""What every clinician-graded scale is made of, and how raw values are checked and scored.

Its records are named tuples: immutable like frozen dataclasses, and several times cheaper
to define when the app starts.

Pure Python: no Flask, no database. Wording is English and marked with ``N_`` so the web
layer can translate it when it shows it; the scales' own formulas live beside their items
(``sunnybrook``, ``eface``, ``house_brackmann``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

Number = int | float
Raw = Mapping[str, object]


def N_(text: str) -> str:  # noqa: N802  (gettext's name for "translate later")
    """Mark ``text`` for translation where it is shown; it is returned unchanged."""
    return text


class Choice(NamedTuple):
    """One answer a choice item offers: the code stored, the points it is worth, its wording."""

    code: str
    points: int
    label: str
    details: tuple[tuple[str, str], ...] = ()  # (what is described, how it looks): House–Brackmann


class Item(NamedTuple):
    """One thing the clinician grades: a choice, or a whole number from ``low`` to ``high``."""

    id: str
    label: str
    choices: tuple[Choice, ...] = ()
    low: int = 0
    high: int = 0
    hint: str = ""
    two_sided: bool = False  # eFACE: 100 is balanced; either way from it is worse

    @property
    def numeric(self) -> bool:
        return not self.choices

    def choice(self, code: str) -> Choice:
        return next(choice for choice in self.choices if choice.code == code)


class Section(NamedTuple):
    """Items graded together (resting symmetry, voluntary movement...)."""

    id: str
    title: str
    items: tuple[Item, ...]
    hint: str = ""
    inline: bool = False  # short choices, shown side by side


class Score(NamedTuple):
    """One number a scale gives: its name and the range it can take."""

    id: str
    label: str
    low: Number
    high: Number
    better: str = "higher"  # or "lower": which way is better, for reading a change


class Graded(NamedTuple):
    """The scores of one set of raw values, with notes (message ids) on how they were reached."""

    scores: dict[str, Number]
    notes: tuple[str, ...] = ()


class Scale(NamedTuple):
    """A clinician-graded scale: its items, the scores it gives and how it computes them."""

    id: str
    name: str
    source: str  # the publication, as cited on the "How grading works" page
    sections: tuple[Section, ...]
    scores: tuple[Score, ...]
    compute: Callable[[Mapping[str, int | str]], Graded]
    note: str = ""  # what the page says about the scale's totals
    show_points: bool = False  # each choice shown with the points it counts (Sunnybrook)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def grade(self, raw: Raw) -> tuple[dict[str, int | str], Graded]:
        """The raw values as stored (codes and whole numbers) and their scores;
        :class:`GradingErrors` naming every item that is missing or out of range."""
        values = clean(self.items, raw)
        return values, self.compute(values)


class Problem(NamedTuple):
    """What is wrong with one item's value: a message id and what it names."""

    message: str
    low: int = 0
    high: int = 0


class GradingErrors(ValueError):
    """Every item whose value was missing or wrong, by item id."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__(", ".join(f"{item}: {problem.message}" for item, problem in problems.items()))
        self.problems = problems


CHOOSE_ONE = N_("Choose one.")
WHOLE_NUMBER = N_("Enter a whole number from %(low)s to %(high)s.")


def clean(items: tuple[Item, ...], raw: Raw) -> dict[str, int | str]:
    """Each item's value, checked: a code it offers, or a whole number in its range (digits
    in a string are accepted, as a form sends them). Values for no item are left out."""
    values: dict[str, int | str] = {}
    problems: dict[str, Problem] = {}
    for item in items:
        value = raw.get(item.id)
        if isinstance(value, str):
            value = value.strip()
        if item.choices:
            if isinstance(value, str) and any(choice.code == value for choice in item.choices):
                values[item.id] = value
            else:
                problems[item.id] = Problem(CHOOSE_ONE)
            continue
        number = _whole_number(value)
        if number is None or not item.low <= number <= item.high:
            problems[item.id] = Problem(WHOLE_NUMBER, item.low, item.high)
        else:
            values[item.id] = number
    if problems:
        raise GradingErrors(problems)
    return values


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 4:
        return int(value)
    return None
