"""Signing in and out: the password, then the code from an authenticator app (enrolment the first
time, recovery codes once), then on to the staff page asked for.

Between the two steps the browser holds a random token for a :class:`PendingSignIn` row: no
cookie alone, even one signed with a known key, stands for a password that was right. The
secret being enrolled and the new recovery codes stay on the server too.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select
from werkzeug.wrappers import Response

from ...db import db, utcnow
from ...models import PendingSignIn, StaffUser, new_token, token_hash
from ...shown_once import take_seed
from ...web.limits import limited
from ..blueprint import bp
from ..forms import CodeForm, SignInForm
from ..records import audit
from . import two_factor
from .auth import Refused, attempt, check_sign_in, end_session, fresh_session, start_session, succeeded

PENDING_KEY = "pending_sign_in"  # the token of this browser's PendingSignIn, between the two steps
PENDING_SECONDS = 300


STAFF_PATH = re.compile(r"/staff(?:/[^\x00-\x1f\x7f]*)?")


def _safe_next(target: str | None) -> str:
    """Only a path inside the staff area, on one line: never an open redirect, never a broken header."""
    if target and len(target) <= 500 and STAFF_PATH.fullmatch(target):
        return target
    return url_for("clinic.inbox")


@bp.route("/sign-in", methods=["GET", "POST"])
@limited("RATE_LIMIT_SIGN_IN", methods=("POST",))
def sign_in() -> Response | tuple[str, int]:
    form = SignInForm()
    problem = None
    if form.validate_on_submit():
        try:
            user = check_sign_in(form.email.data, form.password.data)
        except Refused as refused:
            # One answer for every case (unknown email, wrong password, waiting): nothing to learn.
            problem = _(
                "The email address or password is not right. After several wrong tries, sign-in waits a few "
                "minutes before it accepts the right password."
            )
            target = f"staff {refused.user.id}" if refused.user is not None else "unknown account"
            audit("sign-in throttled" if refused.throttled else "sign-in failed", target)
            db.session.commit()
        else:
            if user.totp_secret or two_factor.required():
                fresh_session()
                token = new_token()
                next_path = _safe_next(request.args.get("next"))
                db.session.add(PendingSignIn(token_hash=token_hash(token), staff_id=user.id, next_path=next_path))
                db.session.commit()
                session[PENDING_KEY] = token
                return redirect(url_for("clinic.second_step"))
            start_session(user)
            audit("signed in")
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if request.method == "GET" else 422 if (problem or form.errors) else 200
    return render_template("clinic/sign_in.html", form=form, problem=problem), status


def _pending() -> PendingSignIn | None:
    """This browser's sign-in past the password, while it is recent and its account active."""
    token = session.get(PENDING_KEY)
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    pending = db.session.scalar(select(PendingSignIn).where(PendingSignIn.token_hash == token_hash(token)))
    if pending is None or pending.created_at < utcnow() - timedelta(seconds=PENDING_SECONDS):
        return None
    return pending if pending.staff.active else None


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limited("RATE_LIMIT_SIGN_IN", methods=("POST",))
def second_step() -> Response | tuple[str, int]:
    """The code from an authenticator app (or a recovery code); enrolment the first time."""
    pending = _pending()
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash(_("Sign in again: the code was not entered in time."))
        return redirect(url_for("clinic.sign_in"))
    user = pending.staff
    enrolling = user.totp_secret is None
    if enrolling and user.pending_totp_secret is None:
        user.pending_totp_secret = two_factor.new_secret()  # the same one in every tab, until confirmed
        db.session.commit()
    secret = str(user.totp_secret or user.pending_totp_secret)
    form = CodeForm()
    problem = None
    if form.validate_on_submit():
        waits = attempt(user.email)
        step = None if waits else two_factor.matches(secret, form.code.data, user.totp_last_step)
        recovery = None
        if step is not None:
            spent = two_factor.spend_step(user, secret, step)
        else:
            recovery = None if waits or enrolling else two_factor.recovery_code_hash(user, form.code.data)
            spent = recovery is not None and two_factor.spend(user, "recovery", recovery)
        if spent and _take(pending):
            return _second_step_passed(user, pending.next_path, step, recovery)
        db.session.rollback()
        audit("two-factor code refused", f"staff {user.id}")
        db.session.commit()
        problem = _("That code is not right, or it was used already. Enter the newest code from your app.")
    status = 422 if request.method == "POST" else 200
    qr = two_factor.qr_code(user, secret, _("QR code for your authenticator app")) if enrolling else None
    return render_template(
        "clinic/two_factor.html", form=form, enrolling=enrolling, qr=qr, secret=secret, problem=problem
    ), status


def _take(pending: PendingSignIn) -> bool:
    """Use up the sign-in past the password: only one request can (the caller commits)."""
    taken = db.session.execute(delete(PendingSignIn).where(PendingSignIn.id == pending.id))
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def _second_step_passed(user: StaffUser, next_path: str, step: int | None, recovery: str | None) -> Response:
    enrolling = user.totp_secret is None
    if enrolling:
        user.totp_secret, user.pending_totp_secret = user.pending_totp_secret, None
        user.recovery_seed, user.recovery_codes = two_factor.new_recovery_codes()
    if step is not None:
        user.totp_last_step = max(step, user.totp_last_step or step)
    if recovery is not None:
        user.recovery_codes = [code for code in user.recovery_codes if code != recovery]
    succeeded(user.email)
    start_session(user)  # commits all of it: the code spent, the sign-in past the password used up
    if enrolling:
        audit("enrolled two-factor sign-in", f"staff {user.id}")
    audit("signed in with a recovery code" if recovery is not None else "signed in")
    db.session.commit()
    if enrolling:
        return redirect(url_for("clinic.recovery_codes"))
    return redirect(_safe_next(next_path))


@bp.get("/recovery-codes")
def recovery_codes() -> Response | str:
    """The new recovery codes, once: the page takes their seed from the account."""
    user: StaffUser = current_user._get_current_object()
    seed = take_seed(user, "recovery_seed")
    if seed is None:
        return redirect(url_for("clinic.inbox"))
    codes = two_factor.recovery_codes_from(seed)
    if not two_factor.shown_codes_match(user, codes):  # the secret key changed in between
        flash(_("Your recovery codes could not be shown. Ask an admin to reset your two-step sign-in."))
        return redirect(url_for("clinic.inbox"))
    return render_template("clinic/recovery_codes.html", codes=codes)


@bp.post("/sign-out")
def sign_out() -> Response:
    """Sign out, whatever the form token says: ending a session is always safe to honour, and a
    stale token (a page left open) must not leave the session open while looking signed out."""
    if current_user.is_authenticated:
        audit("signed out")
        db.session.commit()
    end_session()
    return redirect(url_for("clinic.sign_in"))
