"""Problems found in a rules file, reported as ``PATH:LINE:COLUMN: message``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a rules file, at a place in it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class RulesError(Exception):
    """A rules file cannot be used; carries every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean_or_list(word: object, choices: Iterable[str]) -> str:
    """A 'did you mean' hint, or else the list of what is allowed."""
    choices = list(choices)
    return did_you_mean(word, choices) or f" (expected one of: {', '.join(choices)})"


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint when a close match exists, else ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
