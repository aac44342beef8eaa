"""Two-factor sign-in: a time-based code (TOTP) from an authenticator app, or a recovery code.

Enrolment shows a QR code (inline SVG, no script) and the secret in text; the first good code
confirms it, and ten one-use recovery codes are shown once. A code works once (its time step
is remembered); recovery codes are kept only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
import segno
from flask import current_app
from markupsafe import Markup

from ...models import StaffUser

RECOVERY_CODES = 10
_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read back


def required() -> bool:
    return bool(current_app.config["TWO_FACTOR"] == "required")


def new_secret() -> str:
    return pyotp.random_base32()


def qr_code(user: StaffUser, secret: str, title: str) -> Markup:
    """The secret as an authenticator app's QR code: inline SVG, drawn with attributes only."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_app.config["CLINIC_NAME"])
    svg = segno.make(uri, error="m").svg_inline(scale=5, title=title, border=4)
    # segno escapes the title, and the URI (email, clinic name) only becomes path data.
    return Markup(svg)  # noqa: S704  # nosec B704


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def matches(secret: str, code: str, after_step: int | None) -> int | None:
    """The time step of ``code`` when it is right for ``secret`` (a step either side allowed,
    for clocks that drift) and newer than ``after_step``; else None."""
    code = _clean(code)
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(time.time())
    for step in (now - 1, now, now + 1):
        if (after_step is None or step > after_step) and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """Ten codes to show once, and the hashes to keep."""
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    shown = [f"{c[:5]}-{c[5:]}" for c in codes]
    return shown, [_hash(c) for c in codes]


def recovery_code_index(user: StaffUser, code: str) -> int | None:
    """Where ``code`` is among the account's unused recovery codes, if it is one."""
    digest = _hash(_clean(code))
    for index, kept in enumerate(user.recovery_codes or []):
        if secrets.compare_digest(kept, digest):
            return index
    return None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
