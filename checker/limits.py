"""Rate limits (Flask-Limiter): in memory by default, shared through Redis when configured.

``CHECKER_RATELIMIT_STORAGE_URI=redis://host:6379/0`` lets several instances share counts.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def configured(name: str) -> Callable[[], str]:
    """A limit read from the configuration when a request comes in, e.g. RATE_LIMIT_API."""

    def limit() -> str:
        return str(current_app.config[name])

    return limit


def init_app(app: Flask) -> None:
    limiter.init_app(app)
