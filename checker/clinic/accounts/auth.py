"""Staff accounts: argon2 password hashes, server-side sessions, sign-in throttling.

A signed-in browser holds a random token for a :class:`StaffSession` row; every staff
request checks that row (idle limit, absolute lifetime, the client's address as the
configured proxies give it), so signing out ends every copy of the cookie.

Every try at a password or a code is a row (:class:`SignInFailure`) written before the try is
judged, one account at a time, and deleted when it succeeds: parallel tries are all counted,
and none is judged on a count that misses the others. An account and client address that keep
failing wait, longer each time; an account failing from many addresses waits too. Every
email, known or not, throttled or not, gets the same answer after the same argon2 work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, request, session
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, login_user, logout_user
from sqlalchemy import delete, func, select

from ...db import db, serialised, utcnow
from ...models import SignInFailure, StaffSession, StaffUser, new_token, token_hash
from ...web.i18n import LANGUAGE_KEY

hasher = PasswordHasher()
login_manager = LoginManager()
login_manager.login_view = "clinic.sign_in"
login_manager.login_message = _l("Sign in to see that page.")
login_manager.login_message_category = "info"
# Our own sessions replace Flask-Login's "strong" protection, which hashes the client-sent
# X-Forwarded-For header: a stolen cookie replayed with the victim's header passed it.
login_manager.session_protection = None


@cache
def _dummy_hash() -> str:
    """A hash to check against when the email is unknown, so both cases take the same time
    (made at the first sign-in, not at start-up: hashing costs a sixth of a second)."""
    return hasher.hash("not a real password")


SESSION_KEY = "staff_session"
SEEN_EVERY = timedelta(seconds=60)  # how often a session's last-seen time is written
WIDE_FACTOR = 10  # an account failing this many times its limit, from anywhere, waits too


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> StaffUser | None:
    """The signed-in staff member, when this browser's session is still good."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not user_id.isdigit():
        return None
    record = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash(token)))
    now = utcnow()
    if record is None or record.staff_id != int(user_id) or not _still_good(record, now):
        if record is not None:
            db.session.delete(record)
            db.session.commit()
        session.pop(SESSION_KEY, None)
        return None
    if now - record.last_seen_at >= SEEN_EVERY:
        record.last_seen_at = now
        db.session.commit()
    user: StaffUser | None = db.session.get(StaffUser, record.staff_id)
    return user if user is not None and user.active else None


def _still_good(record: StaffSession, now: datetime) -> bool:
    config = current_app.config
    return (
        now - record.last_seen_at < timedelta(minutes=config["STAFF_IDLE_MINUTES"])
        and now - record.created_at < timedelta(hours=config["STAFF_SESSION_HOURS"])
        and record.address == client_address()
    )


def client_address() -> str:
    """The client's address: the connection's, or what the configured proxies say it is."""
    return (request.remote_addr or "")[:64]


def start_session(user: StaffUser) -> None:
    """Sign ``user`` in on this browser with a new server-side session."""
    token = new_token()
    fresh_session()
    db.session.add(StaffSession(token_hash=token_hash(token), staff_id=user.id, address=client_address()))
    db.session.commit()
    session[SESSION_KEY] = token
    login_user(user)


def fresh_session() -> None:
    """Clear the session at a change of who is signed in, keeping only the language chosen."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language


def end_session() -> None:
    """Sign this browser out: its session row goes, so every copy of the cookie stops working."""
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        db.session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
        db.session.commit()
    logout_user()
    fresh_session()


def end_all_sessions(user_id: int) -> int:
    """Sign a staff member out everywhere (the caller commits); how many sessions ended."""
    ended = db.session.execute(delete(StaffSession).where(StaffSession.staff_id == user_id))
    return int(ended.rowcount or 0)  # type: ignore[attr-defined]


def normalise_email(email: str) -> str:
    return email.strip().lower()


class Refused(Exception):
    """A sign-in that did not succeed; ``throttled`` says whether waiting was why."""

    def __init__(self, user: StaffUser | None, throttled: bool) -> None:
        super().__init__("sign-in refused")
        self.user, self.throttled = user, throttled


def check_sign_in(email: str, password: str) -> StaffUser:
    """The staff user for these credentials; raise :class:`Refused` (recorded) otherwise."""
    user: StaffUser | None = db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    throttled = attempt(email)
    right = _verify(user.password_hash if user is not None else _dummy_hash(), password)  # the same work every time
    if user is None or not right or throttled or not user.active:
        raise Refused(user, throttled)
    succeeded(email)
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_sign_in_at = utcnow()
    db.session.commit()
    return user


def attempt(email: str) -> bool:
    """Count a try (a password or a code) before judging it; whether the account must wait.

    The try is written as a refused one, committed, before anything is judged, and the count
    it is judged by is taken with it, one try per account at a time (PostgreSQL: a lock on the
    account; SQLite: the write turn the row takes). Ten tries at once are ten counted tries.
    :func:`succeeded` removes it again.
    """
    account, address, now = token_hash(normalise_email(email)), client_address(), utcnow()
    serialised(f"sign-in:{account}")
    row = SignInFailure(account=account, address=address, at=now)
    db.session.add(row)
    db.session.flush()
    throttled = row.while_throttled = _throttled(account, address, now, row.id)
    db.session.commit()
    return throttled


def succeeded(email: str) -> None:
    """A try passed: forget this account's refused tries from this address, the try itself too
    (the caller commits)."""
    db.session.execute(
        delete(SignInFailure).where(
            SignInFailure.account == token_hash(normalise_email(email)), SignInFailure.address == client_address()
        )
    )


def _throttled(account: str, address: str, now: datetime, this_try: int) -> bool:
    """Whether this account must wait, from this address or from everywhere, by the tries before this one."""
    config = current_app.config
    limit: int = config["SIGN_IN_ATTEMPTS"]
    longest = timedelta(minutes=config["LOCKOUT_MINUTES"])
    earlier = SignInFailure.id != this_try
    here_count, here_last = db.session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(
            earlier,
            SignInFailure.account == account,
            SignInFailure.address == address,
            SignInFailure.at > now - longest,
        )
    ).one()
    if here_count >= limit and here_last is not None:
        wait = min(timedelta(minutes=2 ** (here_count - limit)), longest)  # 1, 2, 4 ... minutes
        if now < _aware(here_last) + wait:
            return True
    everywhere = db.session.scalar(
        select(func.count()).where(
            earlier,
            SignInFailure.account == account,
            SignInFailure.at > now - timedelta(hours=1),
            SignInFailure.while_throttled.is_(False),
        )
    )
    return (everywhere or 0) >= limit * WIDE_FACTOR


def _aware(moment: datetime) -> datetime:
    """Aggregates skip the column type's conversion: SQLite gives naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False
