"""The logs of the whole test run, read for what must never be in a log.

Every in-process log record of the run goes through the production JSON handler into one
file, and every gunicorn the tests start adds its output to it. At the end of the run the
file is read for link tokens in paths, email addresses, and the personal data the tests seed
on purpose (``SEEDED``); any found fails the run, naming the lines.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from checker.web.logs import TOKEN_PREFIXES, handler_for

# Written by tests that go through the whole product with them (test_operations): a name, a
# phone number, an email address and a note nobody else uses.
SEEDED = ("Zephyrine Quillfeather", "555 0199 7321", "zephyrine.q@example.org", "left eyelid twitches at dinner")
_TOKEN_IN_PATH = re.compile("(" + "|".join(re.escape(p) for p in TOKEN_PREFIXES) + r")(?!\[token\])[A-Za-z0-9_\-]{8,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

PATH = Path(tempfile.gettempdir()) / f"checker-test-log-{id(SEEDED)}.jsonl"


def start() -> logging.Handler:
    """Send every record of this process to the run's log file, as production writes it."""
    PATH.write_text("", encoding="utf-8")
    handler = handler_for("json", PATH.open("a", encoding="utf-8"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # aiosmtpd logs each envelope's addresses: it is the tests' own mail server, standing in for
    # the clinic's, not part of the app, and its lines would drown the ones that matter.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    return handler


def add(output: str) -> None:
    """A server's own output (gunicorn's), into the run's log."""
    with PATH.open("a", encoding="utf-8") as log:
        log.write(output if output.endswith("\n") or not output else output + "\n")


def problems(text: str) -> list[str]:
    """Each line holding a token, an email address or a seeded value, with what it holds."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in (("a link token", _TOKEN_IN_PATH), ("an email address", _EMAIL)):
            if pattern.search(line):
                found.append(f"line {number}: {what}: {line[:300]}")
        found.extend(f"line {number}: seeded data {value!r}: {line[:300]}" for value in SEEDED if value in line)
    return found
