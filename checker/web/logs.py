"""Logging without secrets or personal data.

The app logs events by id or reference, never names, contact details or answers. Access
logs (the development server's, gunicorn's, nginx's) print request paths, and three kinds of
path carry a secret token: clinic invitations, resume links and staff password links. This
filter blanks them in every log record the app's loggers and servers write; deploy/nginx.conf
does the same for its access log, from the same prefixes (a test holds the two together, and
holds every route with a token to a prefix here).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping

from flask import Flask

TOKEN_PREFIXES = ("/i/", "/resume/", "/staff/set-password/")  # a secret token follows each
_TOKEN_PATHS = re.compile("(" + "|".join(re.escape(p) for p in TOKEN_PREFIXES) + r")[A-Za-z0-9_\-]+")


def scrub(text: str) -> str:
    """``text`` with link tokens replaced by ``[token]``."""
    return _TOKEN_PATHS.sub(r"\1[token]", text)


def _has_token(text: str) -> bool:
    # Substring tests first: this runs on every field of every access log line.
    return "/i/" in text or "/resume/" in text or "/set-password/" in text


def _scrubbed(value: object) -> object:
    if isinstance(value, str) and _has_token(value):
        return scrub(value)
    return value


class TokenFilter(logging.Filter):
    """Rewrites log records so no invitation or resume token reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):  # gunicorn's access log: its own dict, edited in place to keep its class
            for key, value in args.items():  # dozens of fields a request: the test inline, no call for each
                if value.__class__ is str and _has_token(value):
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
