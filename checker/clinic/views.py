"""The staff side: sign-in, inbox, submissions, consultation requests, invitations, audit."""

from __future__ import annotations

import re
import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..cases import case_trend
from ..db import db, utcnow
from ..exports.fhir import Record, result_bundle
from ..exports.reports import fhir_download, pdf_response
from ..mail import failing_notices
from ..models import AuditEvent, ConsultationRequest, Draft, Invitation, StaffUser, Submission
from ..rules import current_rules
from ..stored import StoredResult
from ..urls import external_url, fhir_canon
from ..web.i18n import reason_text, translate
from ..web.limits import limited
from . import two_factor
from .auth import (
    Refused,
    check_sign_in,
    end_session,
    fresh_session,
    login_manager,
    refused,
    sign_in_waits,
    start_session,
)
from .forms import ActionForm, CodeForm, InvitationForm, SignInForm
from .queue import DEFAULT_FILTER, FILTERS, counts, page_of
from .records import audit, create_invitation, mark_done

bp = Blueprint("clinic", __name__, url_prefix="/staff")
OPEN_ENDPOINTS = {"clinic.sign_in", "clinic.second_step"}
PENDING_KEY = "pending_staff"  # after the password, before the code: {"id", "at", "next"}
ENROL_KEY = "enrolling_secret"  # the secret being enrolled, until its first code confirms it
CODES_KEY = "new_recovery_codes"  # shown once, right after enrolment
PENDING_SECONDS = 300
NEW_LINK_KEY = "new_invitation_link"  # shown once on the link's page, never stored


@bp.context_processor
def staff_context() -> dict[str, object]:
    # Never filled from the request: an error page about a refused body must not read it again.
    return {"sign_out_form": ActionForm(formdata=None), "current_user": current_user}


@bp.before_request
def require_sign_in() -> Response | None:
    """Every staff page needs a signed-in staff member, except the sign-in page itself."""
    if request.endpoint in OPEN_ENDPOINTS or current_user.is_authenticated:
        return None
    result: Response = login_manager.unauthorized()
    return result


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


@bp.get("/", endpoint="inbox")
def inbox_page() -> str:
    """One row per case: a filter, a search, and pages that follow on from the last row shown."""
    show = request.args.get("show", DEFAULT_FILTER)
    if show not in FILTERS:
        show = DEFAULT_FILTER
    search = request.args.get("q", "")[:100].strip()
    cursor = request.args.get("after") or None
    now = utcnow()
    page = page_of(show, search, cursor, now)
    audit("viewed inbox", show)
    db.session.commit()
    return render_template(
        "clinic/inbox.html",
        page=page,
        show=show,
        search=search,
        counts=counts(search, now),
        rules=current_rules(),
        now=now,
        failing=failing_notices(),
    )


@bp.get("/submissions/<int:submission_id>")
def submission(submission_id: int) -> str:
    record = db.session.get(Submission, submission_id) or abort(404)
    audit("viewed", f"submission {record.id}")
    db.session.commit()
    today = current_rules()
    result = record.shown(today)
    return render_template(
        "clinic/submission.html",
        record=record,
        result=result,
        rules=result.rules,
        current_version=today.version,
        form=ActionForm(),
        requests=db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.submission_id == record.id)),
    )


def _export(submission_id: int, what: str) -> tuple[Submission, StoredResult]:
    record = db.session.get(Submission, submission_id) or abort(404)
    audit(f"exported {what}", f"submission {record.id}")
    db.session.commit()
    return record, record.shown(current_rules())


@bp.get("/submissions/<int:submission_id>.pdf")
@limited("RATE_LIMIT_PDF")
def submission_pdf(submission_id: int) -> Response:
    record, result = _export(submission_id, "PDF")
    html = render_template(
        "pdf/clinician.html",
        record=record,
        result=result,
        points=case_trend(record.case, until=record.submitted_at) if record.case is not None else [],
        exported_by=current_user.email,
        exported_at=utcnow(),
        pdf=True,
    )
    return pdf_response(html, f"self-check-{record.id}.pdf")


@bp.get("/submissions/<int:submission_id>.fhir.json")
def submission_fhir(submission_id: int) -> Response:
    record, result = _export(submission_id, "FHIR")
    patient = record.case.reference if record.case is not None and record.case.reference else None
    bundle = result_bundle(
        result, record.submitted_at, fhir_canon(), translate, reason_text, Record(str(record.id), patient)
    )
    return fhir_download(bundle, f"self-check-{record.id}.fhir.json")


@bp.post("/submissions/<int:submission_id>/reviewed")
def mark_reviewed(submission_id: int) -> Response:
    record = db.session.get(Submission, submission_id) or abort(404)
    if ActionForm().validate_on_submit() and mark_done(record, True):
        flash(_("Marked as reviewed."))
    return redirect(url_for("clinic.submission", submission_id=record.id))


@bp.post("/submissions/<int:submission_id>/not-reviewed")
def undo_reviewed(submission_id: int) -> Response:
    record = db.session.get(Submission, submission_id) or abort(404)
    if ActionForm().validate_on_submit() and mark_done(record, False):
        flash(_("Marked as waiting for review again."))
    return redirect(url_for("clinic.submission", submission_id=record.id))


@bp.get("/requests/<int:request_id>")
def consultation_request(request_id: int) -> str:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    audit("viewed", f"request {record.id}")
    db.session.commit()
    return render_template("clinic/request.html", record=record, form=ActionForm())


@bp.post("/requests/<int:request_id>/handled")
def mark_handled(request_id: int) -> Response:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    if ActionForm().validate_on_submit() and mark_done(record, True):
        flash(_("Marked as handled."))
    return redirect(url_for("clinic.consultation_request", request_id=record.id))


@bp.post("/requests/<int:request_id>/not-handled")
def undo_handled(request_id: int) -> Response:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    if ActionForm().validate_on_submit() and mark_done(record, False):
        flash(_("Marked as waiting again."))
    return redirect(url_for("clinic.consultation_request", request_id=record.id))


@bp.route("/invitations", methods=["GET", "POST"])
def invitations() -> Response | tuple[str, int]:
    form = InvitationForm()
    if request.method == "GET":
        form.days.data = current_app.config["INVITATION_DAYS"]
    if form.validate_on_submit():
        invitation, token = create_invitation(
            form.label.data or "", form.days.data, current_user.id, reference=form.reference.data or ""
        )
        session[NEW_LINK_KEY] = external_url("questionnaire.invitation", token=token)
        return redirect(url_for("clinic.invitation", invitation_id=invitation.id))
    listed = db.session.scalars(select(Invitation).order_by(Invitation.created_at.desc()).limit(200))
    status = 422 if form.errors else 200
    return render_template("clinic/invitations.html", form=form, invitations=list(listed), now=utcnow()), status


@bp.get("/invitations/<int:invitation_id>")
def invitation(invitation_id: int) -> str:
    record = db.session.get(Invitation, invitation_id) or abort(404)
    link = session.pop(NEW_LINK_KEY, None)
    draft = db.session.scalar(select(Draft).where(Draft.invitation_id == record.id, Draft.submission_id.is_(None)))
    last_page = current_rules().page(draft.page) if draft is not None and draft.page else None
    return render_template(
        "clinic/invitation.html", record=record, link=link, now=utcnow(), form=ActionForm(), last_page=last_page
    )


@bp.get("/audit")
def audit_log() -> str:
    if not current_user.is_admin:
        abort(403)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(300))
    return render_template("clinic/audit.html", events=list(events))
