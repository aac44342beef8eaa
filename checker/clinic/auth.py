"""Staff accounts: argon2 password hashes, sign-in with a lockout after repeated failures."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from sqlalchemy import select

from ..db import db, utcnow
from ..models import StaffUser

hasher = PasswordHasher()
login_manager = LoginManager()
login_manager.login_view = "clinic.sign_in"
login_manager.login_message = _l("Sign in to see that page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"
# A hash to check against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = hasher.hash("not a real password")

MIN_PASSWORD_LENGTH = 12


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> StaffUser | None:
    if not user_id.isdigit():
        return None
    return db.session.get(StaffUser, int(user_id))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_staff(email: str, password: str) -> StaffUser:
    """A new staff account; ``ValueError`` when the email is taken or the password too short."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise ValueError("that is not an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(select(StaffUser).where(StaffUser.email == email)) is not None:
        raise ValueError(f"there is already a staff account for {email}")
    user = StaffUser(email=email, password_hash=hasher.hash(password))
    db.session.add(user)
    db.session.commit()
    return user


class Locked(Exception):
    """Too many failed attempts: the account is locked for a while."""


def check_sign_in(email: str, password: str) -> StaffUser | None:
    """The staff user for these credentials, or None; raise :class:`Locked` while locked."""
    user: StaffUser | None = db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    now = utcnow()
    if user is None:
        _verify(_DUMMY_HASH, password)
        return None
    if user.locked_until is not None and user.locked_until > now:
        raise Locked
    if not _verify(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= current_app.config["SIGN_IN_ATTEMPTS"]:
            user.locked_until = now + timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
            user.failed_sign_ins = 0
            db.session.commit()
            raise Locked
        db.session.commit()
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = now
    db.session.commit()
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False
