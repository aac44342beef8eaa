"""The signed session cookie, made cheaper to read and write.

Flask's default cookie session tags every value so tuples, bytes and dates survive a round
trip, builds a new signer for every request, signs with Python's own HMAC code and compresses
with zlib's defaults. Everything this app keeps in the session is plain JSON (answers, tokens, a
language, Flask-Login's ids, flashed messages, which come back as lists), so plain compact JSON
does, at a fraction of the cost; one serializer per set of secret keys is reused; OpenSSL signs (the same
SHA-1 HMAC); and it compresses only a session large enough to need it, with a window a
cookie's size.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

from ..urls import API_PREFIX


def _text(value: Any) -> str:
    """Lazy translated strings (Flask-Login's flashed message) are kept as their text."""
    if hasattr(value, "__html__"):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be kept in the session")


class PlainJSON:
    """Compact UTF-8 JSON (non-ASCII text is half the size of ``\\u`` escapes), with one
    encoder and one decoder made once (``json.dumps`` with options builds new ones each call)."""

    def __init__(self) -> None:
        self.encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_text)
        self.decoder = json.JSONDecoder(object_hook=_untagged)

    def dumps(self, value: Any) -> str:
        return self.encoder.encode(value)

    def loads(self, value: str | bytes) -> Any:
        return self.decoder.decode(value.decode() if isinstance(value, bytes) else value)


# Cookies written before this serializer (Flask's tagged JSON) can still arrive: a flashed
# message there is a tagged tuple, {" t": [category, text]}, which would break the page.
_TAGS = (" t", " m")  # tuple, Markup: the only tagged values this app ever kept


def _untagged(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        tag, content = next(iter(value.items()))
        if tag in _TAGS:
            return content
    return value


# zlib's default 32 KB window and its tables took ten times longer to set up than to compress a
# cookie's few hundred bytes. A window the size of a whole cookie compresses it as well.
WINDOW_BITS, MEMORY_LEVEL = 12, 4
# Compressing a whole questionnaire's answers (about 600 bytes of JSON) took about 2% of a
# question page's post, every post, to save some 300 bytes of cookie. Under this size the JSON is
# kept as it is (a cookie of at most about 1.4 KB); over it (a long note), it is compressed, so
# more fits under the browser's 4 KB limit.
COMPRESS_OVER = 1024


class CookieSigner(URLSafeTimedSerializer):
    """itsdangerous' signed, timed, URL-safe serializer, compressing only JSON over
    ``COMPRESS_OVER`` bytes, with a cookie-sized window (itsdangerous compresses everything
    with zlib's default one): 6% of a question page's post, measured on 2026-12-07.

    What it writes is what itsdangerous writes, compressed or not, and is read as before. It
    reaches the plain JSON by skipping ``URLSafeSerializerMixin`` in the MRO: itsdangerous 2.2's
    layout, held by tests/test_library_contracts.py. (Its signer and derived key were once kept
    too: under 5%, so itsdangerous makes them again, as it does.)
    """

    def dump_payload(self, obj: Any) -> bytes:
        payload = super(URLSafeSerializerMixin, self).dump_payload(obj)  # the JSON, not yet compressed
        if len(payload) > COMPRESS_OVER:
            packer = zlib.compressobj(6, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL)
            compressed = packer.compress(payload) + packer.flush()
            if len(compressed) < len(payload) - 1:
                return b"." + base64_encode(compressed)
        return base64_encode(payload)


class CookieSession(SecureCookieSession):
    """A session that knows the length of the JSON it was read from, when its cookie held that
    JSON uncompressed (``None`` otherwise): a bound on its size, with no need to encode it again."""

    read_size: int | None = None


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, with plain JSON and a signer kept per set of keys.

    The JSON API is stateless: its requests get no session to read or write at all.
    """

    serializer = PlainJSON()  # type: ignore[assignment]
    session_class = CookieSession
    # SHA-1 as Flask signs with, passed as OpenSSL's own function: Flask's wrapper around it made
    # the hmac module fall back to its pure-Python HMAC on every request.
    digest_method = staticmethod(hashlib.sha1)

    def __init__(self) -> None:
        self._signers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)  # the current key last
        signer = self._signers.get(keys)
        if signer is None:
            signer = self._signers[keys] = CookieSigner(
                list(keys),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
            )
        return signer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        opened = super().open_session(app, request)
        cookie = request.cookies.get(self.get_cookie_name(app), "")
        if isinstance(opened, CookieSession) and opened and not cookie.startswith("."):
            # base64 without padding: four characters for every three bytes of the JSON
            opened.read_size = len(cookie.partition(".")[0]) * 3 // 4
        return opened


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
