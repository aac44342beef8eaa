"""Logging without secrets or personal data.

The app logs events by id or reference, never names, contact details or answers. Access
logs (the development server's, gunicorn's) print request paths, and two kinds of path
carry a secret token: clinic invitations and resume links. This filter blanks them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping

from flask import Flask

_TOKEN_PATHS = re.compile(r"(/(?:i|resume)/)[A-Za-z0-9_\-]+")


def scrub(text: str) -> str:
    """``text`` with link tokens replaced by ``[token]``."""
    return _TOKEN_PATHS.sub(r"\1[token]", text)


def _scrubbed(value: object) -> object:
    # A substring test first: this runs on every field of every access log line.
    if isinstance(value, str) and ("/i/" in value or "/resume/" in value):
        return scrub(value)
    return value


class TokenFilter(logging.Filter):
    """Rewrites log records so no invitation or resume token reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):  # gunicorn's access log: its own dict, edited in place to keep its class
            for key, value in args.items():  # dozens of fields a request: the test inline, no call for each
                if value.__class__ is str and ("/i/" in value or "/resume/" in value):
                    args[key] = scrub(value)
        elif isinstance(args, Mapping):
            record.args = {key: _scrubbed(value) for key, value in args.items()}
        elif args:
            record.args = tuple(_scrubbed(arg) for arg in args)
        record.msg = _scrubbed(record.msg)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the error's type, never its data)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def init_app(app: Flask) -> None:
    if app.config["LOG_FORMAT"] == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        app.logger.handlers = [handler]
        app.logger.setLevel(logging.INFO)
        app.logger.propagate = False
    token_filter = TokenFilter()
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenFilter) for f in logger.filters):
            logger.addFilter(token_filter)
