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
    if str(app.config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        # A Redis that hangs must not hold requests: give up quickly and count in memory meanwhile.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
    limiter.init_app(app)


def storage_state() -> str:
    """For /readyz: whether the limits' storage answers. Told, not judged: while a shared storage
    is away, each worker counts in memory, which is weaker but keeps the site up."""
    try:
        return "ok" if limiter.storage.check() else "the rate-limit storage does not answer: counting per worker"
    except Exception:  # any client error means the same: not answering
        return "the rate-limit storage does not answer: counting per worker"
