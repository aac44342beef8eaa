"""Signing in and out: the password, then the code from an authenticator app (enrolment the first
time, recovery codes once), then on to the staff page asked for."""

from __future__ import annotations

import re
import time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ...db import db
from ...models import StaffUser
from ...web.limits import limited
from ..blueprint import bp
from ..forms import ActionForm, CodeForm, SignInForm
from ..records import audit
from . import two_factor
from .auth import Refused, check_sign_in, end_session, fresh_session, refused, sign_in_waits, start_session

PENDING_KEY = "pending_staff"  # after the password, before the code: {"id", "at", "next"}
ENROL_KEY = "enrolling_secret"  # the secret being enrolled, until its first code confirms it
CODES_KEY = "new_recovery_codes"  # shown once, right after enrolment
PENDING_SECONDS = 300


STAFF_PATH = re.compile(r"/staff(?:/[^\x00-\x1f\x7f]*)?")


def _safe_next(target: str | None) -> str:
    """Only a path inside the staff area, on one line: never an open redirect, never a broken header."""
    if target and STAFF_PATH.fullmatch(target):
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
                session[PENDING_KEY] = {"id": user.id, "at": time.time(), "next": request.args.get("next")}
                return redirect(url_for("clinic.second_step"))
            start_session(user)
            audit("signed in")
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if request.method == "GET" else 422 if (problem or form.errors) else 200
    return render_template("clinic/sign_in.html", form=form, problem=problem), status


def _pending_user() -> StaffUser | None:
    """Who gave the right password in this browser a moment ago, if anyone."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, int(pending.get("id", 0)))
    return user if user is not None and user.active else None


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limited("RATE_LIMIT_SIGN_IN", methods=("POST",))
def second_step() -> Response | tuple[str, int]:
    """The code from an authenticator app (or a recovery code); enrolment the first time."""
    user = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(_("Sign in again: the code was not entered in time."))
        return redirect(url_for("clinic.sign_in"))
    enrolling = user.totp_secret is None
    secret = user.totp_secret or session.setdefault(ENROL_KEY, two_factor.new_secret())
    form = CodeForm()
    problem = None
    if form.validate_on_submit():
        waits = sign_in_waits(user.email)
        step = None if waits else two_factor.matches(secret, form.code.data, user.totp_last_step)
        recovery = (
            None if waits or enrolling or step is not None else two_factor.recovery_code_index(user, form.code.data)
        )
        if step is not None or recovery is not None:
            return _second_step_passed(user, secret, step, recovery)
        refused(user.email, user, waits)
        audit("two-factor code refused", f"staff {user.id}")
        db.session.commit()
        problem = _("That code is not right, or it was used already. Enter the newest code from your app.")
    status = 422 if request.method == "POST" else 200
    qr = two_factor.qr_code(user, secret, _("QR code for your authenticator app")) if enrolling else None
    return render_template(
        "clinic/two_factor.html", form=form, enrolling=enrolling, qr=qr, secret=secret, problem=problem
    ), status


def _second_step_passed(user: StaffUser, secret: str, step: int | None, recovery: int | None) -> Response:
    enrolling = user.totp_secret is None
    next_url = session.get(PENDING_KEY, {}).get("next")
    shown: list[str] = []
    if enrolling:
        shown, user.recovery_codes = two_factor.new_recovery_codes()
        user.totp_secret = secret
    if step is not None:
        user.totp_last_step = step
    if recovery is not None:
        user.recovery_codes = [c for i, c in enumerate(user.recovery_codes) if i != recovery]
    start_session(user)
    if enrolling:
        audit("enrolled two-factor sign-in", f"staff {user.id}")
    audit("signed in with a recovery code" if recovery is not None else "signed in")
    db.session.commit()
    if enrolling:
        session[CODES_KEY] = shown
        return redirect(url_for("clinic.recovery_codes"))
    return redirect(_safe_next(next_url))


@bp.get("/recovery-codes")
def recovery_codes() -> Response | str:
    """The new recovery codes, once."""
    codes = session.pop(CODES_KEY, None)
    if not codes:
        return redirect(url_for("clinic.inbox"))
    return render_template("clinic/recovery_codes.html", codes=codes)


@bp.post("/sign-out")
def sign_out() -> Response:
    if ActionForm().validate_on_submit():
        audit("signed out")
        db.session.commit()
        end_session()
    return redirect(url_for("clinic.sign_in"))
