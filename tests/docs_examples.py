"""The guides' request and response examples, run against a live app (a doctest for curl).

An example is a ``sh`` block of one ``curl`` command to ``http://127.0.0.1:5000`` followed at
once by the answer it gets, in a block titled with the status (``json title="200 OK"``); a
block whose title says "not run" is left alone:

- a ``json`` answer is compared as JSON, where ``"..."`` stands for any value, a key ``"..."``
  for any other keys, and a list ending in ``"..."`` for any further items;
- a ``text`` answer (for ``curl -i``) lists lines (headers, sentences of a page) that must
  each be found in the answer, whatever their case.

The command runs in real curl, in ``docs/integrators/examples/`` (so ``-d @answers.json``
reads the file there), with the live app's address put in place of ``127.0.0.1:5000``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "integrators" / "examples"
SHOWN_BASE = "http://127.0.0.1:5000"
ANY = "..."
BLOCK = re.compile(r"^```(\w+)(?P<info>[^\n]*)\n(?P<body>.*?)\n```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="(\d{3})[^"]*"')
COMMAND = re.compile(r"curl -si? (-X \w+ )?'?" + re.escape(SHOWN_BASE))


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    command: str
    status: int
    kind: str  # json | text
    expected: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def examples(folder: Path = DOCS) -> Iterator[Example]:
    """Every example in the guides, in page order."""
    for page in sorted(folder.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        blocks = list(BLOCK.finditer(text))
        for block, answer in zip(blocks, blocks[1:], strict=False):
            command = block["body"].replace("\\\n", " ")
            if block[1] != "sh" or "not run" in block["info"] or not COMMAND.match(command):
                continue
            title = TITLE.search(answer["info"])
            between = text[block.end() : answer.start()].strip()
            if title is None or between:
                line = text.count("\n", 0, block.start()) + 1
                raise AssertionError(f"{page.relative_to(ROOT)}:{line}: a curl example needs its answer right after it")
            yield Example(
                str(page.relative_to(ROOT)),
                text.count("\n", 0, block.start()) + 1,
                command,
                int(title[1]),
                answer[1],
                answer["body"],
            )


def run(example: Example, base: str) -> tuple[int, str]:
    """The status and body (or headers, for ``-i``) that the live app at ``base`` answers."""
    args = shlex.split(example.command.replace(SHOWN_BASE, base))
    if args[0] != "curl":
        raise AssertionError(f"{example}: only curl is run")
    if shutil.which("curl") is None:
        raise AssertionError("curl is needed to run the guides' examples (Debian: apt-get install curl)")
    done = subprocess.run(  # noqa: S603  (the guides' own commands, to this machine's test server)
        [*args, "--max-time", "30", "-w", "\n%{http_code}"], cwd=EXAMPLES, capture_output=True, text=True, check=False
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body.replace(base, SHOWN_BASE)


def matches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` differs from ``expected`` (with its ``"..."`` wildcards)."""
    if expected == ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = (
            [] if ANY in expected else [f"{path}.{key}: not in the guide" for key in actual if key not in expected]
        )
        for key, value in expected.items():
            if key == ANY:
                continue
            if key not in actual:
                problems.append(f"{path}.{key}: missing from the answer")
            else:
                problems += matches(value, actual[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        open_ended = bool(expected) and expected[-1] == ANY
        items = expected[:-1] if open_ended else expected
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return [f"{path}: {len(actual)} items, the guide shows {len(items)}{' or more' if open_ended else ''}"]
        return [p for i, (e, a) in enumerate(zip(items, actual, strict=False)) for p in matches(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: the guide says {expected!r}, the app {actual!r}"]


def check(example: Example, base: str) -> list[str]:
    """What is untrue in one example, as messages naming its page and line."""
    status, body = run(example, base)
    problems = [] if status == example.status else [f"status {status}, the guide says {example.status}"]
    if example.kind == "json":
        try:
            actual = json.loads(body)
        except ValueError:
            return [f"{example}: the answer is not JSON: {body[:200]!r}"]
        problems += matches(json.loads(example.expected), actual)
    else:
        missing = [line for line in example.expected.splitlines() if line.lower() not in body.lower()]
        problems += [f"not in the answer: {line!r}" for line in missing]
    return [f"{example}: {problem}" for problem in problems]
