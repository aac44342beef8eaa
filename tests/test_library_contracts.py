"""Where the app leans on a library's inner workings, the exact names and behaviours it relies on.

Each was kept because it measured a gain of 5% or more (docs/contributing.md, "Library contracts"); the
library versions are pinned to the minor release these tests were written against
(pyproject.toml). An upgrade that changes any of them fails here, by name, before it can fail
in front of a patient: with the limits storage's private methods renamed, a limited route
answered 500 on every third request.
"""

from __future__ import annotations

import json
import threading
from importlib.metadata import version

import pytest
from flask import g
from flask_login import AnonymousUserMixin, current_user
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.serializer import Serializer
from itsdangerous.url_safe import URLSafeSerializerMixin
from limits.storage import MemoryStorage

from checker import create_app
from checker.web.limits import SweptMemoryStorage
from checker.web.sessions import CookieSessions, CookieSigner, PlainJSON

from .conftest import TEST_CONFIG

PINNED = {"itsdangerous": "2.2.", "limits": "5.8.", "flask-login": "0.6.", "flask": "3.1.", "gunicorn": "27.0."}


@pytest.mark.parametrize(("package", "minor"), PINNED.items())
def test_the_installed_versions_are_the_ones_these_contracts_were_checked_against(package: str, minor: str) -> None:
    assert version(package).startswith(minor), f"{package} {version(package)}: check this module's contracts, then pin"


def test_the_session_signer_skips_itsdangerous_compression_by_its_place_in_the_mro() -> None:
    """sessions.CookieSigner.dump_payload calls ``super(URLSafeSerializerMixin, self)`` to get the
    JSON before itsdangerous compresses it (with zlib's default window, whatever the size), and
    compresses only large payloads itself, with a cookie-sized window: about a tenth of a
    question page's post (docs/contributing.md). That needs the mixin directly before the plain serializer."""
    mro = CookieSigner.__mro__
    assert mro.index(URLSafeSerializerMixin) < mro.index(URLSafeTimedSerializer.__mro__[-3])
    assert mro[mro.index(URLSafeSerializerMixin) + 1 :][:3] == URLSafeTimedSerializer.__mro__[2:5]
    assert "dump_payload" in vars(URLSafeSerializerMixin)
    assert "dump_payload" in vars(Serializer)
    signer = CookieSigner("key", salt="cookie-session", serializer=PlainJSON())
    assert super(URLSafeSerializerMixin, signer).dump_payload({"a": "é"}) == '{"a":"é"}'.encode()
    # itsdangerous still reads both forms it writes: plain, and "." + zlib
    for value in ({"a": 1}, {"note": "x" * 3000}):
        written = signer.dumps(value)
        assert written.startswith(".") is (len(json.dumps(value)) > 1024)
        assert URLSafeTimedSerializer("key", salt="cookie-session").loads(written) == value


def test_the_session_interface_overrides_only_flasks_public_methods() -> None:
    """CookieSessions replaces the serializer, the digest and get_signing_serializer, and calls
    Flask's own open_session and save_session: names Flask documents for a session interface."""
    from flask.sessions import SecureCookieSessionInterface

    for name in ("serializer", "digest_method", "salt", "key_derivation", "session_class"):
        assert hasattr(SecureCookieSessionInterface, name), name
    assert set(vars(CookieSessions)) - {
        "__module__",
        "__doc__",
        "__init__",
        "__annotations__",
        "__dict__",
        "__weakref__",
    } <= {  # fmt: skip
        "serializer",
        "session_class",
        "digest_method",
        "get_signing_serializer",
        "open_session",
    }


def test_the_limits_memory_storage_still_has_the_private_methods_our_sweep_replaces() -> None:
    """SweptMemoryStorage overrides MemoryStorage's name-mangled ``__schedule_expiry`` (so no timer
    thread starts every 10 ms) and calls its ``__expire_events``; it cancels ``timer``. Worth a
    tenth of an API call (docs/contributing.md)."""
    assert callable(vars(MemoryStorage).get("_MemoryStorage__schedule_expiry"))
    assert callable(vars(MemoryStorage).get("_MemoryStorage__expire_events"))
    assert "_MemoryStorage__schedule_expiry" in vars(SweptMemoryStorage)
    storage = SweptMemoryStorage()
    assert isinstance(storage.timer, threading.Timer)
    storage.timer.join(timeout=5)  # the library's first timer, cancelled at once
    assert not storage.timer.is_alive()
    before = threading.active_count()
    for number in range(50):
        storage.incr(f"key-{number}", 60)
    assert threading.active_count() == before  # the library's own would have started timers
    assert storage.get("key-1") == 1


def test_flask_login_reads_the_user_from_g_login_user() -> None:
    """The database-down error page sets ``g._login_user`` to an anonymous user, so rendering the
    page does not ask the database who is signed in (web/errors.py)."""
    app = create_app(TEST_CONFIG)
    with app.test_request_context("/staff/"):
        anonymous = AnonymousUserMixin()
        g._login_user = anonymous
        assert current_user._get_current_object() is anonymous
