"""The ``{"answers": {...}}`` document shared by the JSON API and the command line."""

from __future__ import annotations

import json
from typing import Any

from .engine import AnswerErrors


def parse_json(raw: bytes | str) -> Any:
    """A JSON body; raise :class:`AnswerErrors` when it is not JSON.

    JSON may escape half of a UTF-16 pair on its own (``"\\ud800"``), which is no text at
    all: refused here, so no answer or error message can carry one into a response.
    """
    try:
        data = json.loads(raw)
        if _may_hold_surrogates(raw):  # the rare body that could: check every string in it
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise AnswerErrors({"body": "not valid JSON"}) from None
    return data


def _may_hold_surrogates(raw: bytes | str) -> bool:
    """Whether a lone surrogate could hide in ``raw``: a \\u escape, or (in bytes) the UTF-8
    lead byte 0xED that the surrogates' (invalid) encodings start with."""
    if isinstance(raw, str):
        return True
    return b"\\u" in raw or b"\xed" in raw


def parse_document(raw: bytes | str) -> dict[str, Any]:
    """The answers inside a JSON document; raise :class:`AnswerErrors` naming what is wrong."""
    document = parse_json(raw)
    if not isinstance(document, dict):
        raise AnswerErrors({"body": 'expected a JSON object: {"answers": {...}}'})
    unknown = sorted(set(document) - {"answers"})
    if unknown:
        raise AnswerErrors({"body": f'unknown key {unknown[0]!r}: expected only "answers"'})
    if "answers" not in document:
        raise AnswerErrors({"answers": "required: an object mapping question ids to answers"})
    answers = document["answers"]
    if not isinstance(answers, dict):
        raise AnswerErrors({"answers": "must be an object mapping question ids to answers"})
    return answers
