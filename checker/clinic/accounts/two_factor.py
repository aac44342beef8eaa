"""Two-factor sign-in: a time-based code (TOTP) from an authenticator app, or a recovery code.

Enrolment shows a QR code (inline SVG, no script) and the secret in text, kept on the
account (not in the cookie) until the first good code confirms it; then ten one-use recovery
codes are shown once, derived from a seed the page takes (:mod:`checker.shown_once`). Every code
is spent in one place, :func:`spend`: a unique row, so the same code sent by several
browsers at once lets one in. Recovery codes are kept only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
from flask import current_app
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from ...db import db
from ...models import SpentCode, StaffUser
from ...shown_once import derived, new_seed

RECOVERY_CODES = 10
_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read back


def required() -> bool:
    return bool(current_app.config["TWO_FACTOR"] == "required")


def new_secret() -> str:
    return pyotp.random_base32()


def qr_code(user: StaffUser, secret: str, title: str) -> Markup:
    """The secret as an authenticator app's QR code: inline SVG, drawn with attributes only."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_app.config["CLINIC_NAME"])
    import segno  # when an account enrols, not at start-up

    svg = segno.make(uri, error="m").svg_inline(scale=5, title=title, border=4)
    # segno escapes the title, and the URI (email, clinic name) only becomes path data.
    return Markup(svg)  # noqa: S704  # nosec B704


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def matches(secret: str, code: str, after_step: int | None) -> int | None:
    """The time step of ``code`` when it is right for ``secret`` (a step either side allowed,
    for clocks that drift) and newer than ``after_step``; else None."""
    code = _clean(code)
    if not (code.isascii() and code.isdigit()) or len(code) != 6:  # "١٢٣٤٥٦" is digits too, but not a code
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(time.time())
    for step in (now - 1, now, now + 1):
        if (after_step is None or step > after_step) and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> tuple[str, list[str]]:
    """A seed for ten new codes (shown once, by :func:`recovery_codes_from`) and the hashes to keep."""
    seed = new_seed()
    return seed, [_hash(_clean(code)) for code in recovery_codes_from(seed)]


def recovery_codes_from(seed: str) -> list[str]:
    """The ten codes a seed gives under the current secret key, as shown: ``ABCDE-FGHJK``."""
    codes = []
    for number in range(RECOVERY_CODES):
        value = int.from_bytes(derived(seed, f"recovery-code-{number}"), "big")
        letters = []
        for _ in range(10):
            value, index = divmod(value, len(_ALPHABET))
            letters.append(_ALPHABET[index])
        codes.append("".join(letters[:5]) + "-" + "".join(letters[5:]))
    return codes


def shown_codes_match(user: StaffUser, codes: list[str]) -> bool:
    """Whether the codes about to be shown are the account's (the secret key may have changed)."""
    return sorted(_hash(_clean(code)) for code in codes) == sorted(user.recovery_codes or [])


def recovery_code_hash(user: StaffUser, code: str) -> str | None:
    """The kept hash ``code`` matches among the account's unused recovery codes, if any."""
    digest = _hash(_clean(code))
    for kept in user.recovery_codes or []:
        if secrets.compare_digest(kept, digest):
            return kept
    return None


def spend_step(user: StaffUser, secret: str, step: int) -> bool:
    """Use the code of time step ``step`` of ``secret`` once (a secret enrolled again after a reset
    has codes of its own)."""
    return spend(user, "totp", _hash(f"{secret}:{step}"))


def spend(user: StaffUser, kind: str, value: str) -> bool:
    """Use a code once: whether this request is the one that spent it (the caller commits).

    The unique row is the decision: of two requests spending the same code at the same moment,
    the database lets one insert it and refuses the other.
    """
    try:
        with db.session.begin_nested():
            db.session.add(SpentCode(staff_id=user.id, kind=kind, value=value))
    except IntegrityError:
        return False
    return True


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
