"""Rate limits with the ``limits`` library: parsed once at start-up, one counter hit a request.

Counts are kept per client address and per route (the API's limit is one count for the whole
API). In memory by default; ``CHECKER_RATELIMIT_STORAGE_URI=redis://host:6379/0`` shares them
between workers and instances. A storage that fails costs no request: counts go to memory
until it answers again, and /readyz says so.

Only the routes that carry a limit do any of this work: there is no hook on other routes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from ..config import RATE_LIMITS
from .metrics import RATE_LIMITED

EXTENSION = "rate_limits"
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage without its timer thread.

    The library sweeps expired counters from a timer thread it starts again every 10 ms while
    any counter exists: a new thread many times a second in every busy worker. Here the sweep
    runs inline instead, at most once a second; a counter read after its window is dropped on
    the spot as before, so only the memory of idle counters waits for the sweep.
    """

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.timer.cancel()
        self.next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802  # replaces the private method by its mangled name
        now = time.monotonic()
        if now >= self.next_sweep:
            self.next_sweep = now + 1
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimits:
    """One app's limits, parsed from its settings, and the storage that counts them."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.enabled = bool(config["RATELIMIT_ENABLED"])
        self.items: dict[str, tuple[RateLimitItem, ...]] = {
            name: tuple(parse_many(str(config[name]))) for name in RATE_LIMITS
        }
        uri = str(config["RATELIMIT_STORAGE_URI"])
        # A Redis that hangs must not hold requests: give up quickly and count in memory meanwhile.
        options: dict[str, float] = (
            {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if uri.startswith(("redis://", "rediss://")) else {}
        )
        if uri == "memory://":
            self.storage: Storage = SweptMemoryStorage()
        else:  # the synchronous kind, from a plain URI
            self.storage = cast(Storage, storage_from_string(uri, **options))
        self.counter = FixedWindowRateLimiter(self.storage)
        self.fallback: FixedWindowRateLimiter | None = None
        self.logger = app.logger

    def _counter_for(self, use: Callable[[FixedWindowRateLimiter], bool]) -> bool:
        try:
            return use(self.counter)
        except Exception as exc:  # any storage error: count in memory rather than refuse or fail
            self.logger.warning("rate-limit storage failed (%s): counting in memory", type(exc).__name__)
            if self.fallback is None:
                self.fallback = FixedWindowRateLimiter(SweptMemoryStorage())
            return use(self.fallback)

    def _refuse(self, name: str, item: RateLimitItem, scope: str, client: str) -> TooManyRequests:
        RATE_LIMITED.labels(name).inc()
        try:
            reset = self.counter.get_window_stats(item, scope, client).reset_time
        except Exception:  # the storage is away: say a whole window
            reset = time.time() + item.get_expiry()
        return TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))

    def hit(self, name: str, scope: str, refuse: bool = True) -> None:
        """Count one request against every limit of setting ``name``; 429 past any of them (if ``refuse``)."""
        client = request.remote_addr or "unknown"
        for item in self.items[name]:
            if not self._counter_for(lambda counter, item=item: counter.hit(item, scope, client)) and refuse:  # type: ignore[misc]
                raise self._refuse(name, item, scope, client)

    def reset(self) -> None:
        self.storage.reset()

    def storage_state(self) -> str:
        """For /readyz. Told, not judged: while a shared storage is away, each worker counts in
        memory, which is weaker but keeps the site up."""
        try:
            if self.storage.check():
                return "ok"
        except Exception:  # noqa: S110  # nosec B110  # any client error means the same: not answering
            pass
        return "the rate-limit storage does not answer: counting per worker"


def rate_limits() -> RateLimits:
    limits: RateLimits = current_app.extensions[EXTENSION]
    return limits


def limited(name: str, methods: tuple[str, ...] = ()) -> Callable[[View], View]:
    """Limit a view by the setting ``name`` (e.g. "RATE_LIMIT_API"), for ``methods`` (all if empty)."""

    def decorate(view: View) -> View:
        scope = f"{name}:{view.__module__}.{view.__qualname__}"

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            limits = rate_limits()
            if limits.enabled and (not methods or request.method in methods):
                limits.hit(name, scope)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def count_now(name: str, scope: str) -> None:
    """Count one use of what setting ``name`` limits, inside a view, at the moment it is decided
    to do the work (a form found valid, before it is stored): 429 past the limit. Counted first,
    so parallel requests cannot all pass a check and then all be stored."""
    limits = rate_limits()
    if limits.enabled:
        limits.hit(name, scope)


def limit_blueprint(blueprint: Blueprint, name: str) -> None:
    """One count for every route of ``blueprint``."""

    @blueprint.before_request
    def count() -> None:
        limits = rate_limits()
        if limits.enabled:
            limits.hit(name, blueprint.name)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = RateLimits(app)
