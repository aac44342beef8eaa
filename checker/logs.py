"""Logging without secrets or personal data.

The app logs events by id or reference, never names, contact details or answers. Access
logs (the development server's, gunicorn's) print request paths, and two kinds of path
carry a secret token: clinic invitations and resume links. This filter blanks them.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

_TOKEN_PATHS = re.compile(r"(/(?:i|resume)/)[A-Za-z0-9_\-]+")


def scrub(text: str) -> str:
    """``text`` with link tokens replaced by ``[token]``."""
    return _TOKEN_PATHS.sub(r"\1[token]", text)


class TokenFilter(logging.Filter):
    """Rewrites log records so no invitation or resume token reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


def init_app(app: Flask) -> None:
    token_filter = TokenFilter()
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenFilter) for f in logger.filters):
            logger.addFilter(token_filter)
