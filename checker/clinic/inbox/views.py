"""The inbox and what it opens: submissions (with their PDF and FHIR exports), consultation
requests and invitation links."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from ...cases import case_trend, latest_gradings
from ...db import db, like_pattern, utcnow
from ...ehr.write_back import launch_of
from ...exports.fhir import Record, result_bundle
from ...exports.reports import fhir_download, pdf_response
from ...grading import SCALES
from ...mail import failing_notices, overdue_notices, patient_mail_configured
from ...models import Case, ConsultationRequest, Draft, Invitation, Submission
from ...rules import current_rules
from ...shown_once import take_token
from ...stored import StoredResult
from ...urls import external_url, fhir_canon
from ...web.i18n import current_language, reason_text, translate
from ...web.limits import limited
from ..blueprint import bp
from ..forms import ActionForm, InvitationForm
from ..paging import cursor_of, older_than
from ..records import audit, invite, mark_done
from ..worklist import count as worklist_count
from .queue import chosen_filter, counts, page_of

LINKS_PAGE = 50


@bp.get("/", endpoint="inbox")
def inbox_page() -> str:
    """One row per case: a filter, a search, and pages that follow on from the last row shown."""
    show, search = chosen_filter(request.args)
    cursor = request.args.get("after") or None
    now = utcnow()
    page = page_of(show, search, cursor, now)
    audit("viewed inbox", f"{show} search {search!r}"[:200] if search else show)
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
        overdue=overdue_notices(now),
        worklist=worklist_count(now),
    )


@bp.get("/submissions/<int:submission_id>")
def submission(submission_id: int) -> str:
    record = db.session.get(Submission, submission_id) or abort(404)
    audit("viewed", f"submission {record.id}", record.case)
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
    audit(f"exported {what}", f"submission {record.id}", record.case)
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
        gradings=latest_gradings(record.case, until=record.submitted_at) if record.case is not None else [],
        grading_scales=SCALES,
        exported_by=current_user.email,
        exported_at=utcnow(),
        pdf=True,
    )
    return pdf_response(html, f"self-check-{record.id}.pdf")


@bp.get("/submissions/<int:submission_id>.fhir.json")
def submission_fhir(submission_id: int) -> Response:
    record, result = _export(submission_id, "FHIR")
    return fhir_download(submission_bundle(record, result), f"self-check-{record.id}.fhir.json")


def submission_bundle(record: Submission, result: StoredResult) -> dict[str, Any]:
    """A stored self-check as its FHIR Bundle, in this request's language."""
    patient = record.case.reference if record.case is not None and record.case.reference else None
    launch = launch_of(record)  # answered on an EHR launch: its patient and encounter there
    record_ids = Record(str(record.id), patient, *((launch.subject(), launch.visit()) if launch else ()))
    return result_bundle(
        result,
        record.submitted_at,
        fhir_canon(),
        translate,
        reason_text,
        record_ids,
        language=current_language(),
        measure=record.measure,
    )


def _marked(record: Submission | ConsultationRequest, done: bool, message: str, back: str) -> Response:
    """A button that marks a check or request done (or waiting again): said when it changed."""
    if ActionForm().validate_on_submit() and mark_done(record, done):
        flash(message)
    return redirect(back)


@bp.post("/submissions/<int:submission_id>/reviewed")
def mark_reviewed(submission_id: int) -> Response:
    record = db.session.get(Submission, submission_id) or abort(404)
    back = url_for("clinic.submission", submission_id=record.id)
    return _marked(record, True, _("Marked as reviewed."), back)


@bp.post("/submissions/<int:submission_id>/not-reviewed")
def undo_reviewed(submission_id: int) -> Response:
    record = db.session.get(Submission, submission_id) or abort(404)
    back = url_for("clinic.submission", submission_id=record.id)
    return _marked(record, False, _("Marked as waiting for review again."), back)


@bp.get("/requests/<int:request_id>")
def consultation_request(request_id: int) -> str:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    audit("viewed", f"request {record.id}", record.case)
    db.session.commit()
    return render_template("clinic/request.html", record=record, form=ActionForm())


@bp.post("/requests/<int:request_id>/handled")
def mark_handled(request_id: int) -> Response:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    back = url_for("clinic.consultation_request", request_id=record.id)
    return _marked(record, True, _("Marked as handled."), back)


@bp.post("/requests/<int:request_id>/not-handled")
def undo_handled(request_id: int) -> Response:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    back = url_for("clinic.consultation_request", request_id=record.id)
    return _marked(record, False, _("Marked as waiting again."), back)


@bp.route("/invitations", methods=["GET", "POST"])
def invitations() -> Response | tuple[str, int]:
    form = InvitationForm()
    if request.method == "GET":
        form.days.data = current_app.config["INVITATION_DAYS"]
    if form.email.data and not patient_mail_configured():
        form.email.errors = [
            _(
                "This clinic has no mail server set up, so the app cannot send email. "
                "Leave the address empty and copy the link."
            )
        ]
    elif form.validate_on_submit():
        reference, email = form.reference.data or "", form.email.data or ""
        invitation, known = invite(
            form.label.data or "", form.days.data, current_user.id, reference, email, form.language.data
        )
        if known:
            flash(
                _("%(reference)s already has a case: this follow-up link was added to it.", reference=reference.strip())
                if invitation.follow_up
                else _("%(reference)s already has a case: this link was added to it.", reference=reference.strip())
            )
        return redirect(url_for("clinic.invitation", invitation_id=invitation.id))
    search, cursor = request.args.get("q", "").strip()[:100], request.args.get("after") or None
    listed, next_cursor = links_page(search, cursor)
    audit("viewed invitations", f"search {search!r}"[:200] if search else "")
    db.session.commit()
    page = {"invitations": listed, "search": search, "first": cursor is None, "next_cursor": next_cursor}
    status = 422 if form.errors else 200
    return render_template("clinic/invitations.html", form=form, now=utcnow(), **page), status


def links_page(search: str, cursor: str | None) -> tuple[list[Invitation], str | None]:
    """A page of links, newest first, whose case's reference, labels or names (or own label)
    hold every word of ``search``; and the next page's cursor."""
    query = select(Invitation).join(Case, Invitation.case_id == Case.id).options(contains_eager(Invitation.case))
    for word in search.lower().split()[:5]:
        query = query.where(Case.search_text.like(like_pattern(word), escape="\\"))
    if (older := older_than(Invitation.created_at, Invitation.id, cursor)) is not None:
        query = query.where(older)
    rows = list(
        db.session.scalars(query.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(LINKS_PAGE + 1))
    )
    more = len(rows) > LINKS_PAGE
    rows = rows[:LINKS_PAGE]
    return rows, cursor_of(rows[-1].created_at, rows[-1].id) if more else None


@bp.get("/invitations/<int:invitation_id>")
def invitation(invitation_id: int) -> str:
    record = db.session.get(Invitation, invitation_id) or abort(404)
    audit("viewed", f"invitation {record.id}", record.case)
    db.session.commit()
    # Shown once, to whoever made it; a link the app made on a schedule, to the first staff member to open it.
    token = take_token(record) if record.created_by_id in (current_user.id, None) else None
    link = external_url("questionnaire.invitation", token=token) if token else None
    draft = db.session.scalar(select(Draft).where(Draft.invitation_id == record.id, Draft.submission_id.is_(None)))
    last_page = current_rules().page(draft.page) if draft is not None and draft.page else None
    return render_template(
        "clinic/invitation.html", record=record, link=link, now=utcnow(), form=ActionForm(), last_page=last_page
    )
