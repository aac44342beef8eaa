"""One log stream, without secrets or personal data.

Every logger writes through one handler on the root logger: one JSON object a line
(``CHECKER_LOG_FORMAT=json``) or a line of text, each with the request's id when there is a
request (``web.telemetry``). gunicorn's own lines join the stream through gunicorn.conf.py.

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
import socket
import sys
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from flask import Flask

INSTANCE = socket.gethostname()  # each line says which machine or container wrote it
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)  # set by web.telemetry
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


def where(trace: TracebackType | None) -> str:
    """An error's frames as "file:line in function" lines: no source text, which can quote data."""
    return "\n".join(f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(trace))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, instance, process, logger, request id, message, the
    fields a record carries in ``extra={"fields": {...}}``, and for an error its type and where
    it happened (the traceback's frames, never the error's message or source, which can hold data)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "instance": INSTANCE,
            "pid": record.process,
            "logger": record.name,
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        entry["message"] = record.getMessage()
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = where(record.exc_info[2])
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, request id, message (and an error's traceback)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = REQUEST_ID.get()
        record.request = f" [{request_id}]" if request_id else ""
        return super().format(record)

    def formatException(self, ei: Any) -> str:  # noqa: N802  # logging's name
        """The frames and the error's type, as in JSON: never the error's message."""
        return f"Traceback (most recent call last):\n{where(ei[2])}\n{ei[0].__name__}"


class AppHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler on the root logger (a class of its own, so it is put there once). It
    writes to the standard error of the moment, which tests and the CLI runner replace."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def handler_for(log_format: str, stream: Any = None) -> logging.Handler:
    """A handler writing ``log_format`` ("json" or "text") with link tokens blanked, to
    ``stream`` (default: the standard error of the moment)."""
    handler: logging.Handler = AppHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(TokenFilter())
    return handler


def configure(log_format: str) -> None:
    """Every logger (the app's, the servers', the libraries') writes through one handler on the
    root logger. Done once a process: gunicorn.conf.py may have put it there already."""
    root = logging.getLogger()
    if not any(isinstance(h, AppHandler) for h in root.handlers):
        root.addHandler(handler_for(log_format))
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # Alembic names each of its plugins at INFO as it loads them: seven lines on every command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):  # they can have handlers of their own
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenFilter) for f in logger.filters):
            logger.addFilter(TokenFilter())


def init_app(app: Flask) -> None:
    configure(app.config["LOG_FORMAT"])
    app.logger.setLevel(logging.INFO)
    app.logger.handlers = []  # Flask's own handler would print every line a second time
    app.logger.propagate = True
