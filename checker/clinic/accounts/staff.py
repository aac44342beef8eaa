"""Staff accounts: emails and passwords by NIST SP 800-63B, roles, disabling and unlocking.

Every change is audited and ends the account's sessions where it should (a new password, a
disabled account). Passwords reach these functions from a prompt or a form, never from a
command-line argument.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ...db import db, utcnow
from ...mail import normal_address
from ...models import AuditEvent, PasswordLink, SignInFailure, StaffUser, token_hash
from ...shown_once import new_seed, token_from
from .auth import end_all_sessions, hasher, normalise_email

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # the same everywhere: accounts, forms, the command line
ROLES = ("staff", "admin")  # staff: invitations and inbox; admin: also staff accounts and the audit log
_SCORED = 64  # zxcvbn's estimate grows slow on long input; a longer password is judged by its start


def checked_email(email: str) -> str:
    """The email in its normal form; ``ValueError`` when it is not an email address."""
    found = normal_address(email.strip())
    if found is None:
        raise ValueError(f"{email.strip()!r} is not an email address")
    return found.lower()


def password_problem(password: str, email: str) -> str | None:
    """Why a password will not do, or None: length, then how easy it is to guess.

    Common passwords, repeats, keyboard runs and words taken from the email address or the
    clinic's name are refused (zxcvbn's score under 3 of 4).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    words = [w for w in [*re.split(r"[@._+-]+", email), *str(current_app.config["CLINIC_NAME"]).split()] if len(w) > 2]
    rest = password.lower()
    for word in sorted({w.lower() for w in words}, key=len, reverse=True):
        rest = rest.replace(word, "")
    if len(re.sub(r"[^a-z]", "", rest)) < 4:
        return "the password is too easy to guess (it is built from the email address or the clinic's name)"
    from zxcvbn import zxcvbn  # its word lists load at the first password set, not at start-up

    estimate = zxcvbn(password[:_SCORED], user_inputs=[email, *words])
    if estimate["score"] < 3:
        hint = estimate["feedback"].get("warning") or "it would be easy to guess"
        return f"the password is too easy to guess ({hint.rstrip('.')}): try a few unrelated words"
    return None


def available_email(email: str) -> str:
    """The email in its normal form when no account has it yet; ``ValueError`` with the reason."""
    email = checked_email(email)
    if db.session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise ValueError(f"there is already a staff account for {email}")
    return email


def find_staff(email: str) -> StaffUser:
    user: StaffUser | None = db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise ValueError(f"there is no staff account for {normalise_email(email)}")
    return user


def record(action: str, user: StaffUser, by: StaffUser | None) -> None:
    """Audit a change to an account (the caller commits)."""
    db.session.add(AuditEvent(staff_id=by.id if by else None, action=action, target=f"staff {user.id}"))


def create_staff(email: str, password: str, role: str | None = None, by: StaffUser | None = None) -> StaffUser:
    """A new account; ``ValueError`` with the reason when it cannot be made.

    With no role given, the first account is an admin (someone has to manage the rest).
    """
    email = available_email(email)
    problem = password_problem(password, email)
    if problem:
        raise ValueError(problem)
    if role is None:
        role = "staff" if db.session.scalar(select(StaffUser.id).limit(1)) is not None else "admin"
    user = _new_account(email, role, hasher.hash(password), by)
    db.session.commit()
    return user


def _new_account(email: str, role: str, password_hash: str, by: StaffUser | None) -> StaffUser:
    """Add an account for an :func:`available_email` with a checked role, audited (the caller commits)."""
    if role not in ROLES:
        raise ValueError(f"the role must be one of: {', '.join(ROLES)}")
    user = StaffUser(email=email, password_hash=password_hash, role=role)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same email added at the same moment, after it was found free
        db.session.rollback()
        raise ValueError(f"there is already a staff account for {email}") from None
    record(f"created {role} account", user, by)
    return user


LINK_HOURS = 24
UNUSABLE = "!"  # a password hash nothing matches: the account waits for its owner to set one


def invite_staff(email: str, role: str, by: StaffUser) -> StaffUser:
    """A new account with no password yet, and a one-time link for its owner to set one."""
    user = _new_account(available_email(email), role, UNUSABLE, by)
    password_link(user, by)
    return user


def password_link(user: StaffUser, by: StaffUser | None) -> PasswordLink:
    """A one-time link to set the password (earlier links stop working), shown once on the
    account's page (:mod:`checker.shown_once`)."""
    db.session.execute(delete(PasswordLink).where(PasswordLink.staff_id == user.id))
    seed = new_seed()
    link = PasswordLink(
        token_hash=token_hash(token_from(seed)),
        link_seed=seed,
        staff_id=user.id,
        expires_at=utcnow() + timedelta(hours=LINK_HOURS),
    )
    db.session.add(link)
    record("made a password link", user, by)
    db.session.commit()
    return link


def new_password_link(user: StaffUser) -> PasswordLink | None:
    """The account's password link if it was made and not shown yet."""
    return db.session.scalar(
        select(PasswordLink).where(PasswordLink.staff_id == user.id, PasswordLink.link_seed.is_not(None))
    )


def link_owner(token: str) -> StaffUser | None:
    """The account a password link is for, while the link is good."""
    if not 20 <= len(token) <= 100:
        return None
    link = db.session.scalar(select(PasswordLink).where(PasswordLink.token_hash == token_hash(token)))
    owner: StaffUser | None = link.staff if link is not None and link.expires_at > utcnow() else None
    return owner if owner is not None and owner.active else None


def use_password_link(token: str, user: StaffUser, password: str) -> bool:
    """Set the password from a link, which then stops working; False when another request used
    the link a moment ago (of several at once, one sets the password)."""
    used = db.session.execute(delete(PasswordLink).where(PasswordLink.token_hash == token_hash(token)))
    if used.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return False
    set_password(user, password, by=user)
    return True


def set_password(user: StaffUser, password: str, by: StaffUser | None = None) -> None:
    """A new password; every session of the account ends."""
    problem = password_problem(password, user.email)
    if problem:
        raise ValueError(problem)
    user.password_hash = hasher.hash(password)
    end_all_sessions(user.id)
    record("changed password", user, by)
    db.session.commit()


def set_active(user: StaffUser, active: bool, by: StaffUser | None = None) -> None:
    """Disable (every session ends) or enable an account."""
    if active:
        user.active = True
    else:
        _change_keeping_an_admin(user, active=False)
        end_all_sessions(user.id)
    record("enabled account" if active else "disabled account", user, by)
    db.session.commit()


def set_role(user: StaffUser, role: str, by: StaffUser | None = None) -> None:
    if role not in ROLES:
        raise ValueError(f"the role must be one of: {', '.join(ROLES)}")
    if role == "admin":
        user.role = role
    else:
        _change_keeping_an_admin(user, role=role)
    record(f"set role {role}", user, by)
    db.session.commit()


def unlock(user: StaffUser, by: StaffUser | None = None) -> int:
    """Forget the account's refused sign-ins, so it need not wait; how many were forgotten."""
    forgotten = db.session.execute(delete(SignInFailure).where(SignInFailure.account == token_hash(user.email)))
    record("unlocked account", user, by)
    db.session.commit()
    return int(forgotten.rowcount or 0)  # type: ignore[attr-defined]


def reset_two_factor(user: StaffUser, by: StaffUser | None = None) -> None:
    """Forget the authenticator app and recovery codes (a lost phone): enrol again at next sign-in."""
    user.totp_secret, user.totp_last_step, user.recovery_codes = None, None, []
    user.pending_totp_secret = user.recovery_seed = None
    end_all_sessions(user.id)
    record("reset two-factor sign-in", user, by)
    db.session.commit()


def sign_out_everywhere(user: StaffUser, by: StaffUser | None = None) -> int:
    ended = end_all_sessions(user.id)
    record("signed out everywhere", user, by)
    db.session.commit()
    return ended


def _change_keeping_an_admin(user: StaffUser, **change: object) -> None:
    """Make ``change`` (a role without admin rights, or disabled) to ``user``'s account unless it
    would leave no active admin to manage the rest (``ValueError``; nothing is changed).

    Two admins taking each other's rights at the same moment must not both pass: the active
    admins' rows are locked first (PostgreSQL; SQLite lets one writer in at a time), and the
    change is one statement that finds another active admin as it writes.
    """
    admins = select(StaffUser.id).where(StaffUser.role == "admin", StaffUser.active).order_by(StaffUser.id)
    db.session.execute(admins.with_for_update())  # in one order: two of these cannot deadlock
    other = aliased(StaffUser)
    # Another admin who can sign in: an invited one who never set a password cannot manage anything.
    another_admin = (
        select(other.id)
        .where(other.role == "admin", other.active, other.password_hash != UNUSABLE, other.id != user.id)
        .exists()
    )
    keeps_no_rights = or_(StaffUser.role != "admin", ~StaffUser.active)
    changed = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, or_(keeps_no_rights, another_admin))
        .values(**change)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise ValueError("this is the only admin account: make another admin first")
    db.session.expire(user)
