"""Staff accounts on the web, for admins: list, add (with a one-time link to set a password),
disable, enable, unlock, change role, sign out everywhere, reset two-step sign-in.

Passwords are never typed by an admin: the owner sets theirs from a one-time link.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ...db import db
from ...models import StaffSession, StaffUser
from ...shown_once import take_token
from ...urls import external_url
from ..blueprint import OPEN_ENDPOINTS, bp
from ..forms import ActionForm, NewAccountForm, SetPasswordForm
from . import staff as accounts

OPEN_ENDPOINTS.add("clinic.set_password")


def _admin() -> StaffUser:
    if not current_user.is_admin:
        abort(403)
    user: StaffUser = current_user._get_current_object()
    return user


@bp.route("/accounts", methods=["GET", "POST"])
def accounts_page() -> Response | tuple[str, int]:
    admin = _admin()
    form = NewAccountForm()
    if form.validate_on_submit():
        try:
            user = accounts.invite_staff(form.email.data, form.role.data, admin)
        except ValueError as exc:
            form.email.errors = [
                _("There is already an account for this email address")
                if "already" in str(exc)
                else _("Enter an email address, like name@clinic.example")
            ]
        else:
            return redirect(url_for("clinic.account", staff_id=user.id))
    sessions = dict(
        db.session.execute(select(StaffSession.staff_id, func.count()).group_by(StaffSession.staff_id)).all()
    )
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    status = 422 if form.errors else 200
    return render_template("clinic/accounts.html", form=form, users=users, sessions=sessions), status


@bp.get("/accounts/<int:staff_id>")
def account(staff_id: int) -> str:
    _admin()
    user = db.session.get(StaffUser, staff_id) or abort(404)
    made = accounts.new_password_link(user)
    token = take_token(made) if made is not None else None
    link = external_url("clinic.set_password", token=token) if token else None
    return render_template("clinic/account.html", user=user, link=link, form=ActionForm())


@bp.post("/accounts/<int:staff_id>/<action>")
def account_action(staff_id: int, action: str) -> Response:
    admin = _admin()
    user = db.session.get(StaffUser, staff_id) or abort(404)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("clinic.account", staff_id=user.id))
    changes: dict[str, Callable[[], object]] = {
        "disable": lambda: accounts.set_active(user, False, admin),
        "enable": lambda: accounts.set_active(user, True, admin),
        "unlock": lambda: accounts.unlock(user, admin),
        "sign-out": lambda: accounts.sign_out_everywhere(user, admin),
        "reset-two-factor": lambda: accounts.reset_two_factor(user, admin),
        "make-admin": lambda: accounts.set_role(user, "admin", admin),
        "make-staff": lambda: accounts.set_role(user, "staff", admin),
    }
    if action == "password-link":
        accounts.password_link(user, admin)
        return redirect(url_for("clinic.account", staff_id=user.id))
    if action not in changes:
        abort(404)
    try:
        changes[action]()
    except ValueError:
        flash(_("That would leave the clinic without an admin: make another account admin first."))
    else:
        flash(_("Done."))
    return redirect(url_for("clinic.account", staff_id=user.id))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Response | tuple[str, int]:
    """A staff member sets their own password from a one-time link."""
    user = accounts.link_owner(token)
    if user is None:
        return render_template("clinic/set_password.html", form=None, user=None), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        problem = accounts.password_problem(form.password.data, user.email)
        if form.password.data != form.again.data:
            form.again.errors = [_("The two passwords are not the same")]
        elif problem:
            form.password.errors = [_password_message(problem)]
        elif accounts.use_password_link(token, user, form.password.data):
            flash(_("Your password is set. Sign in with it now."))
            return redirect(url_for("clinic.sign_in"))
        else:  # the same link sent from another tab or browser at the same moment: that one set it
            return render_template("clinic/set_password.html", form=None, user=None), 410
    status = 422 if request.method == "POST" else 200
    return render_template("clinic/set_password.html", form=form, user=user), status


def _password_message(problem: str) -> str:
    if "at least" in problem:
        return str(_("Use at least 12 characters"))
    if "at most" in problem:
        return str(_("Use at most 256 characters"))
    return str(_("This password is too easy to guess. Try a few unrelated words."))
