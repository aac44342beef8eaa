"""The signed session cookie, made cheaper to read and write.

Flask's default cookie session tags every value so tuples, bytes and dates survive a round
trip, and builds a new signer for every request. Everything this app keeps in the session
is plain JSON (answers, tokens, a language, Flask-Login's ids, flashed messages, which come
back as lists), so plain compact JSON does, at a fraction of the cost, and one signer per
secret key is reused.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from ..urls import API_PREFIX


def _text(value: Any) -> str:
    """Lazy translated strings (Flask-Login's flashed message) are kept as their text."""
    if hasattr(value, "__html__"):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be kept in the session")


class PlainJSON:
    """Compact UTF-8 JSON (non-ASCII text is half the size of ``\\u`` escapes)."""

    @staticmethod
    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_text)

    @staticmethod
    def loads(value: str | bytes) -> Any:
        return json.loads(value, object_hook=_untagged)


# Cookies written before this serializer (Flask's tagged JSON) can still arrive: a flashed
# message there is a tagged tuple, {" t": [category, text]}, which would break the page.
_TAGS = (" t", " m")  # tuple, Markup: the only tagged values this app ever kept


def _untagged(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        tag, content = next(iter(value.items()))
        if tag in _TAGS:
            return content
    return value


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, with plain JSON and a signer kept per set of keys.

    The JSON API is stateless: its requests get no session to read or write at all.
    """

    serializer = PlainJSON()  # type: ignore[assignment]

    def __init__(self) -> None:
        self._signers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        signer = self._signers.get(keys)
        if signer is None:
            signer = self._signers[keys] = super().get_signing_serializer(app)  # type: ignore[assignment]
        return signer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
