"""The staff side: sign-in, inbox, submissions, consultation requests, invitations, audit."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import db, utcnow
from ..fhir import result_bundle
from ..i18n import reason_text, translate
from ..limits import configured, limiter
from ..models import AuditEvent, ConsultationRequest, Invitation, Submission
from ..reports import fhir_download, pdf_response
from ..rules import current_rules
from ..stored import StoredResult
from ..urls import external_url
from .auth import Refused, check_sign_in, end_session, login_manager, start_session
from .forms import ActionForm, InvitationForm, SignInForm
from .records import STATUS_FILTERS, audit, create_invitation, inbox

bp = Blueprint("clinic", __name__, url_prefix="/staff")
OPEN_ENDPOINTS = {"clinic.sign_in"}


@bp.context_processor
def staff_context() -> dict[str, object]:
    return {"sign_out_form": ActionForm(), "current_user": current_user}


@bp.before_request
def require_sign_in() -> Response | None:
    """Every staff page needs a signed-in staff member, except the sign-in page itself."""
    if request.endpoint in OPEN_ENDPOINTS or current_user.is_authenticated:
        return None
    result: Response = login_manager.unauthorized()
    return result


def _safe_next(target: str | None) -> str:
    """Only a path inside the staff area: never an open redirect."""
    if target and target.startswith("/staff") and not target.startswith("//"):
        return target
    return url_for("clinic.inbox")


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(configured("RATE_LIMIT_SIGN_IN"), methods=["POST"])
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
            start_session(user)
            audit("signed in")
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if request.method == "GET" else 422 if (problem or form.errors) else 200
    return render_template("clinic/sign_in.html", form=form, problem=problem), status


@bp.post("/sign-out")
def sign_out() -> Response:
    if ActionForm().validate_on_submit():
        audit("signed out")
        db.session.commit()
        end_session()
    return redirect(url_for("clinic.sign_in"))


@bp.get("/", endpoint="inbox")
def inbox_page() -> str:
    status = request.args.get("status", "new")
    if status not in STATUS_FILTERS:
        status = "new"
    audit("viewed inbox", status)
    db.session.commit()
    return render_template("clinic/inbox.html", items=inbox(status), status=status, rules=current_rules())


@bp.get("/submissions/<int:submission_id>")
def submission(submission_id: int) -> str:
    record = db.session.get(Submission, submission_id) or abort(404)
    audit("viewed", f"submission {record.id}")
    db.session.commit()
    result = record.shown(current_rules())
    return render_template(
        "clinic/submission.html",
        record=record,
        result=result,
        rules=result.rules,
        current_version=current_rules().version,
        form=ActionForm(),
        requests=db.session.scalars(select(ConsultationRequest).where(ConsultationRequest.submission_id == record.id)),
    )


def _export(submission_id: int, what: str) -> tuple[Submission, StoredResult]:
    record = db.session.get(Submission, submission_id) or abort(404)
    audit(f"exported {what}", f"submission {record.id}")
    db.session.commit()
    return record, record.shown(current_rules())


@bp.get("/submissions/<int:submission_id>.pdf")
def submission_pdf(submission_id: int) -> Response:
    record, result = _export(submission_id, "PDF")
    html = render_template(
        "pdf/submission.html", record=record, result=result, rules=result.rules, pdf=True, requests=[], form=None
    )
    return pdf_response(html, f"self-check-{record.id}.pdf")


@bp.get("/submissions/<int:submission_id>.fhir.json")
def submission_fhir(submission_id: int) -> Response:
    record, result = _export(submission_id, "FHIR")
    return fhir_download(
        result_bundle(result, record.submitted_at, translate, reason_text), f"self-check-{record.id}.fhir.json"
    )


@bp.post("/submissions/<int:submission_id>/reviewed")
def mark_reviewed(submission_id: int) -> Response:
    record = db.session.get(Submission, submission_id) or abort(404)
    if ActionForm().validate_on_submit() and record.status != "reviewed":
        record.status, record.reviewed_by_id, record.reviewed_at = "reviewed", current_user.id, utcnow()
        audit("marked reviewed", f"submission {record.id}")
        db.session.commit()
        flash(_("Marked as reviewed."))
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
    if ActionForm().validate_on_submit() and record.status != "handled":
        record.status, record.handled_by_id, record.handled_at = "handled", current_user.id, utcnow()
        audit("marked handled", f"request {record.id}")
        db.session.commit()
        flash(_("Marked as handled."))
    return redirect(url_for("clinic.consultation_request", request_id=record.id))


@bp.route("/invitations", methods=["GET", "POST"])
def invitations() -> Response | tuple[str, int]:
    form = InvitationForm()
    if request.method == "GET":
        form.days.data = current_app.config["INVITATION_DAYS"]
    if form.validate_on_submit():
        invitation, token = create_invitation(form.label.data or "", form.days.data, current_user.id)
        session["new_invitation_link"] = external_url("questionnaire.invitation", token=token)
        return redirect(url_for("clinic.invitation", invitation_id=invitation.id))
    listed = db.session.scalars(select(Invitation).order_by(Invitation.created_at.desc()).limit(200))
    status = 422 if form.errors else 200
    return render_template("clinic/invitations.html", form=form, invitations=list(listed), now=utcnow()), status


@bp.get("/invitations/<int:invitation_id>")
def invitation(invitation_id: int) -> str:
    record = db.session.get(Invitation, invitation_id) or abort(404)
    link = session.pop("new_invitation_link", None)
    return render_template("clinic/invitation.html", record=record, link=link, now=utcnow())


@bp.get("/audit")
def audit_log() -> str:
    if not current_user.is_admin:
        abort(403)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(300))
    return render_template("clinic/audit.html", events=list(events))
