"""A Babel extractor for ``rules.yaml``: every text a person reads, with its line.

Configured in ``babel.cfg``; ``pybabel extract -F babel.cfg -o messages.pot .`` then
collects the rules' wording together with the strings of the code and templates.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from .engine.load import Node, load_text

# Keys whose values are shown to people (question wording, advice, reasons...).
TEXT_KEYS = frozenset(
    {
        "text",
        "hint",
        "label",
        "phrase",
        "title",
        "intro",
        "name",
        "summary",
        "advice",
        "reason",
        "describe",
        "clinician",
    }
)
LIST_KEYS = frozenset({"points"})


def rules_messages(root: Node) -> Iterator[tuple[int, str, str]]:
    """(line, path, text) for each translatable text in the rules, in file order."""
    if isinstance(root.value, dict):
        for key, child in root.value.items():
            if key == "cases":
                continue  # worked cases are for checking, never shown
            if key in TEXT_KEYS and isinstance(child.value, str):
                yield child.at.line, child.path, _clean(child.value)
            elif key in LIST_KEYS and isinstance(child.value, list):
                for item in child.value:
                    if isinstance(item.value, str):
                        yield item.at.line, item.path, _clean(item.value)
            else:
                yield from rules_messages(child)
    elif isinstance(root.value, list):
        for item in root.value:
            yield from rules_messages(item)


def _clean(text: str) -> str:
    """The text as the compiler keeps it (folded to single spaces)."""
    return " ".join(text.split()) if "\n" not in text.strip() else text.strip()


def extract_rules(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extraction method: yields (line, function, message, comments)."""
    text = fileobj.read().decode("utf-8")
    for line, path, message in rules_messages(load_text(text, getattr(fileobj, "name", "rules.yaml"))):
        yield line, None, message, [path]
