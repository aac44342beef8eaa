"""A case and what staff do with it: links (follow-up, revoke, resend), notes, assignment,
undoing a review, deleting on a patient's request."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..cases import (
    case_trend,
    case_with_reference,
    clinic_zone,
    merge,
    reference_key,
    refresh,
    refresh_case_of,
    set_reference,
)
from ..db import db, utcnow
from ..ehr.write_back import filings_of
from ..grading import SCALES
from ..mail import patient_mail_configured
from ..models import Case, CaseEvent, CaseNote, ConsultationRequest, FollowUpSchedule, Invitation, StaffUser, Submission
from ..rules import current_rules
from ..web.security import Form
from .blueprint import bp
from .forms import (
    ActionForm,
    AssignForm,
    ContactForm,
    EventForm,
    FollowUpForm,
    MergeForm,
    NoteForm,
    ReferenceForm,
    ScheduleForm,
)
from .records import audit, create_invitation, mark_done, revoke


def first_error(form: Form) -> str:
    """What to tell a staff member whose form was refused: its first field's problem, or that
    the form (its CSRF token) had expired."""
    fields = [errors for name, errors in form.errors.items() if name != "csrf_token" and errors]
    return str(fields[0][0]) if fields else _("The form had expired. Try again.")


def case_record(case_id: int) -> Case:
    """The case, or the case it was merged into (so a page open from before a merge still works)."""
    found: Case = db.session.get(Case, case_id) or abort(404)
    for _hop in range(100):
        if found.merged_into_id is None:
            return found
        found = db.session.get(Case, found.merged_into_id) or abort(404)
    abort(404)


def _assign_form(case: Case) -> AssignForm:
    form = AssignForm(staff=case.assigned_to_id or 0)
    staff = db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.email))
    form.staff.choices = [(0, _("Nobody"))] + [(user.id, user.email) for user in staff]
    return form


@bp.get("/cases/<int:case_id>")
def case(case_id: int) -> Response | str:
    record = case_record(case_id)
    if record.id != case_id:
        flash(_("Case %(id)s was merged into this case.", id=case_id))
        return redirect(url_for("clinic.case", case_id=record.id))
    audit("viewed", f"case {record.id}", record)
    db.session.commit()
    return render_template(
        "clinic/case.html",
        case=record,
        points=case_trend(record, eface=request.args.get("eface") == "1"),
        eface_shown=request.args.get("eface") == "1",
        rules=current_rules(),
        now=utcnow(),
        form=ActionForm(),
        follow_up_form=FollowUpForm(days=current_app.config["INVITATION_DAYS"], by_email=bool(record.email)),
        contact_form=ContactForm(prefix="contact", email=record.email or "", language=record.language or "en"),
        schedule_form=ScheduleForm(prefix="schedule", days=current_app.config["INVITATION_DAYS"]),
        can_email=patient_mail_configured(),
        note_form=NoteForm(),
        assign_form=_assign_form(record),
        event_form=EventForm(),
        reference_form=ReferenceForm(reference=record.reference),
        merge_form=MergeForm(other=request.args.get("other", "")[:40]),
        same_reference=_same_reference(record),
        filings=filings_of(record),
        grading_scales=SCALES,
    )


def _same_reference(case: Case) -> list[Case]:
    """Other open cases with this case's reference (made before references were one per person)."""
    if not case.reference_key:
        return []
    alike = func.lower(func.replace(Case.reference, " ", "")) == case.reference_key
    others = select(Case).where(alike, Case.id != case.id, Case.merged_into_id.is_(None), Case.reference_key.is_(None))
    return [
        other for other in db.session.scalars(others.limit(20)) if reference_key(other.reference) == case.reference_key
    ]


@bp.post("/cases/<int:case_id>/reference")
def change_reference(case_id: int) -> Response:
    """Add or correct the clinic's reference; one already on another open case is refused."""
    record = case_record(case_id)
    form = ReferenceForm()
    if not form.validate_on_submit():
        flash(first_error(form))
        return redirect(url_for("clinic.case", case_id=record.id))
    before, wanted = record.reference, (form.reference.data or "").strip()
    other = set_reference(record, wanted)
    if other is not None:
        db.session.rollback()
        flash(
            _(
                "%(reference)s is already the reference of case %(id)s. To make them one record, merge that case"
                " into this one below.",
                reference=wanted,
                id=other.id,
            )
        )
        return redirect(url_for("clinic.case", case_id=record.id, other=other.id, _anchor="merge"))
    if wanted != before:
        audit("changed reference", f"case {record.id} ({before or '-'} to {wanted or '-'})", record)
        flash(_("Patient reference saved."))
    db.session.commit()
    return redirect(url_for("clinic.case", case_id=record.id))


def _other_case(record: Case, asked: str) -> Case | None:
    """The case a staff member means by a number or a reference (not ``record`` itself)."""
    asked = asked.strip()
    found = case_with_reference(asked)
    if found is None and asked.isdigit() and len(asked) < 12:
        found = db.session.get(Case, int(asked))
    return found if found is not None and found.id != record.id and found.merged_into_id is None else None


@bp.post("/cases/<int:case_id>/merge")
def merge_ask(case_id: int) -> Response | str:
    """Which case to merge into this one: shown side by side before anything moves."""
    record = case_record(case_id)
    form = MergeForm()
    if not form.validate_on_submit():
        flash(first_error(form))
        return redirect(url_for("clinic.case", case_id=record.id, _anchor="merge"))
    other = _other_case(record, form.other.data or "")
    if other is None:
        flash(_("No other open case has that number or patient reference."))
        return redirect(url_for("clinic.case", case_id=record.id, _anchor="merge"))
    return render_template("clinic/merge.html", case=record, other=other, form=ActionForm(), rules=current_rules())


@bp.post("/cases/<int:case_id>/merge/<int:other_id>")
def merge_cases(case_id: int, other_id: int) -> Response:
    record = case_record(case_id)
    other = db.session.get(Case, other_id) or abort(404)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("clinic.case", case_id=record.id))
    try:
        merge(other, record)
    except ValueError:
        db.session.rollback()
        flash(_("That case was already merged."))
        return redirect(url_for("clinic.case", case_id=record.id))
    audit(
        "merged case",
        f"case {other.id} ({other.reference or '-'}) into case {record.id} ({record.reference or '-'})",
        record,
    )
    db.session.commit()
    flash(_("Case %(other)s was merged into this case.", other=other.id))
    return redirect(url_for("clinic.case", case_id=record.id))


@bp.post("/cases/<int:case_id>/follow-up")
def follow_up(case_id: int) -> Response:
    """A new link for the same person to answer again; the case shows every check in order."""
    record = case_record(case_id)
    form = FollowUpForm()
    if not form.validate_on_submit():
        flash(first_error(form))
        return redirect(url_for("clinic.case", case_id=record.id))
    by_email = bool(form.by_email.data and record.email and patient_mail_configured())
    return _link_page(create_invitation("", form.days.data, current_user.id, record, True, by_email=by_email))


@bp.post("/cases/<int:case_id>/reviewed")
def review_all(case_id: int) -> Response:
    """Every check of the case waiting for review, marked reviewed at once (each audited)."""
    record = case_record(case_id)
    if ActionForm().validate_on_submit():
        waiting = [check for check in record.submissions if check.status == "new"]
        marked = sum(mark_done(check, True, commit=False) for check in waiting)
        db.session.commit()
        if marked:
            flash(ngettext("%(num)s check marked as reviewed.", "%(num)s checks marked as reviewed.", marked))
    return redirect(url_for("clinic.case", case_id=record.id, _anchor="checks"))


@bp.post("/cases/<int:case_id>/contact")
def change_contact(case_id: int) -> Response:
    """The address the app sends this person's links to, and their language (the address is
    never written to the audit log)."""
    record = case_record(case_id)
    form = ContactForm(prefix="contact")
    if form.validate_on_submit():
        record.email, record.language = (form.email.data or None), form.language.data
        audit("changed contact", f"case {record.id} ({'email set' if record.email else 'no email'})", record)
        db.session.commit()
        flash(_("Contact details saved."))
    else:
        flash(first_error(form))
    return redirect(url_for("clinic.case", case_id=record.id, _anchor="contact"))


@bp.post("/cases/<int:case_id>/schedules")
def add_schedule(case_id: int) -> Response:
    """Follow-up links made (and emailed, when the case has an address) on a schedule."""
    record = case_record(case_id)
    form = ScheduleForm(prefix="schedule")
    if form.validate_on_submit():
        every = form.kind.data == "every"
        schedule = FollowUpSchedule(
            case_id=record.id,
            every_weeks=form.weeks_apart() if every else None,
            starts_on=utcnow().astimezone(clinic_zone()).date(),
            after_event=None if every else form.after_event.data,
            offsets_weeks=[] if every else form.weeks_after(),
            days_valid=form.days.data,
            created_by_id=current_user.id,
        )
        db.session.add(schedule)
        db.session.flush()
        audit("added schedule", f"case {record.id} schedule {schedule.id}", record)
        db.session.commit()
        flash(_("Schedule saved. Its links are made when they are due."))
    else:
        flash(first_error(form))
    return redirect(url_for("clinic.case", case_id=record.id, _anchor="schedules"))


@bp.post("/schedules/<int:schedule_id>/stop")
def stop_schedule(schedule_id: int) -> Response:
    schedule = db.session.get(FollowUpSchedule, schedule_id) or abort(404)
    if ActionForm().validate_on_submit() and schedule.active:
        schedule.active = False
        audit("stopped schedule", f"case {schedule.case_id} schedule {schedule.id}", schedule.case)
        db.session.commit()
        flash(_("Schedule stopped. Links already made still work."))
    return redirect(url_for("clinic.case", case_id=schedule.case_id, _anchor="schedules"))


def _link_page(invitation: Invitation) -> Response:
    """A new link's own page, which shows it once."""
    return redirect(url_for("clinic.invitation", invitation_id=invitation.id))


def _invitation(invitation_id: int) -> Invitation:
    found: Invitation = db.session.get(Invitation, invitation_id) or abort(404)
    return found


@bp.post("/invitations/<int:invitation_id>/revoke")
def revoke_link(invitation_id: int) -> Response:
    invitation = _invitation(invitation_id)
    if ActionForm().validate_on_submit():
        revoked = revoke(invitation)
        db.session.commit()
        if revoked:
            flash(_("The link no longer works. Any answers started with it were deleted."))
        elif invitation.used_at is not None:
            flash(_("The patient sent their answers before the link could be revoked. They are kept with the case."))
    return redirect(url_for("clinic.invitation", invitation_id=invitation.id))


@bp.post("/invitations/<int:invitation_id>/resend")
def resend_link(invitation_id: int) -> Response:
    """A new link for the same case in place of a lost one: the old one stops working."""
    old = _invitation(invitation_id)
    if not ActionForm().validate_on_submit() or old.used_at is not None or old.case is None:
        return redirect(url_for("clinic.invitation", invitation_id=old.id))
    if not revoke(old, "revoked link for a new one"):
        db.session.commit()
        if old.used_at is not None:
            flash(_("The patient sent their answers before the link could be replaced. They are kept with the case."))
        return redirect(url_for("clinic.invitation", invitation_id=old.id))
    days = max(1, min(365, current_app.config["INVITATION_DAYS"]))
    by_email = old.by_email and bool(old.case.email) and patient_mail_configured()
    replacement = create_invitation(
        old.label, days, current_user.id, old.case, old.follow_up, by_email, appointment_at=old.appointment_at
    )
    return _link_page(replacement)


@bp.post("/invitations/<int:invitation_id>/seen")
def alert_seen(invitation_id: int) -> Response:
    """Staff have seen what the patient was told on this link: the stop at the emergency page,
    the advice to get care today, or both."""
    invitation = _invitation(invitation_id)
    if ActionForm().validate_on_submit():
        now, seen = utcnow(), []
        if invitation.stopped_at and not invitation.stop_reviewed_at:
            invitation.stop_reviewed_at = now
            seen.append("marked stop reviewed")
        if invitation.flagged_at and not invitation.flags_reviewed_at:
            invitation.flags_reviewed_at = now
            seen.append("marked warning signs reviewed")
        for action in seen:
            audit(action, f"invitation {invitation.id}", invitation.case)
        refresh_case_of(invitation)
        db.session.commit()
    return redirect(
        url_for("clinic.case", case_id=invitation.case_id) if invitation.case_id else url_for("clinic.inbox")
    )


@bp.post("/cases/<int:case_id>/notes")
def add_note(case_id: int) -> Response:
    record = case_record(case_id)
    form = NoteForm()
    if form.validate_on_submit():
        db.session.add(CaseNote(case_id=record.id, staff_id=current_user.id, text=form.text.data.strip()))
        audit("added note", f"case {record.id}", record)
        db.session.commit()
        flash(_("Note added."))
    elif form.text.errors:
        flash(form.text.errors[0])
    return redirect(url_for("clinic.case", case_id=record.id, _anchor="notes"))


@bp.post("/cases/<int:case_id>/events")
def add_event(case_id: int) -> Response:
    """A dated event on the case (a toxin session, an operation): marked on the trend."""
    record = case_record(case_id)
    form = EventForm()
    if form.validate_on_submit():
        note = (form.note.data or "").strip()
        event = CaseEvent(
            case_id=record.id, kind=form.kind.data, on=form.on.data, note=note, created_by_id=current_user.id
        )
        db.session.add(event)
        db.session.flush()
        audit("recorded event", f"case {record.id} event {event.id} ({event.kind} {event.on.isoformat()})", record)
        db.session.commit()
        flash(_("Event recorded."))
    else:
        flash(first_error(form))
    return redirect(url_for("clinic.case", case_id=record.id, _anchor="events"))


@bp.post("/events/<int:event_id>/delete")
def delete_event(event_id: int) -> Response:
    event = db.session.get(CaseEvent, event_id) or abort(404)
    case_id = event.case_id
    if ActionForm().validate_on_submit():
        db.session.delete(event)
        audit("deleted event", f"case {case_id} event {event_id}", event.case)
        db.session.commit()
        flash(_("Event deleted."))
    return redirect(url_for("clinic.case", case_id=case_id, _anchor="events"))


@bp.post("/cases/<int:case_id>/assign")
def assign(case_id: int) -> Response:
    record = case_record(case_id)
    form = _assign_form(record)
    if form.validate_on_submit():
        record.assigned_to_id = form.staff.data or None
        audit(
            "assigned",
            f"case {record.id} to staff {form.staff.data}" if form.staff.data else f"case {record.id}",
            record,
        )
        db.session.commit()
        flash(_("Assignment saved."))
    return redirect(url_for("clinic.case", case_id=record.id))


@bp.route("/submissions/<int:submission_id>/delete", methods=["GET", "POST"])
def delete_submission(submission_id: int) -> Response | str:
    record = db.session.get(Submission, submission_id) or abort(404)
    return _delete(record, f"submission {record.id}", _("Self-check %(id)s", id=record.id))


@bp.route("/requests/<int:request_id>/delete", methods=["GET", "POST"])
def delete_request(request_id: int) -> Response | str:
    record = db.session.get(ConsultationRequest, request_id) or abort(404)
    return _delete(record, f"request {record.id}", _("Consultation request %(reference)s", reference=record.reference))


def _delete(record: Submission | ConsultationRequest, target: str, name: str) -> Response | str:
    """Ask, then delete for good: the audit row names what was deleted, never what it held."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        case = record.case
        db.session.delete(record)
        audit("deleted", target, case)
        if case is not None:
            refresh(case, current_rules())
        db.session.commit()
        flash(_("%(name)s was deleted.", name=name))
        return redirect(url_for("clinic.case", case_id=case.id) if case is not None else url_for("clinic.inbox"))
    return render_template("clinic/delete.html", record=record, name=name, form=form)
