"""Links that carry a person back: a clinic's invitation, and a resume link for saved answers."""

from __future__ import annotations

from flask import g, redirect, render_template, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..cases import refresh_case_of
from ..db import db, lock, utcnow
from ..ehr.write_back import launch_of, queue_write_back
from ..engine import AnswerErrors, assess, plan
from ..models import Draft, Invitation, Submission, token_hash
from ..rules import current_rules
from ..stored import new_submission
from ..urls import external_url
from ..web.metrics import count_result
from .forms import ActionForm
from .journey import (
    ANSWERS_KEY,
    DRAFT_KEY,
    LINK_KEY,
    SENT_KEY,
    continue_draft,
    current_draft,
    draft_token,
    saved_answers,
    saved_measure,
    start_draft,
)
from .notices import tell_clinic_if_urgent
from .views import bp, interrupting_flags, page_url


def _invitation(token: str) -> Invitation | None:
    if not 20 <= len(token) <= 100:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))


@bp.route("/i/<token>", methods=["GET", "POST"])
def invitation(token: str) -> Response | tuple[str, int] | str:
    """A clinic's link: says who asked, then starts (or continues) the check."""
    found = _invitation(token)
    if found is None:
        return render_template("questionnaire/link_problem.html", problem="unknown"), 404
    if found.revoked_at is not None or found.used_at is not None:
        return render_template("questionnaire/link_problem.html", problem=found.status(utcnow())), 410
    earlier = db.session.scalar(
        select(Draft).where(Draft.invitation_id == found.id, Draft.expires_at > utcnow(), Draft.submission_id.is_(None))
    )
    # An expired link still brings back a check started in time: started answers are never lost.
    if found.expires_at <= utcnow() and earlier is None:
        return render_template("questionnaire/link_problem.html", problem="expired"), 410
    if found.opened_at is None:
        found.opened_at = utcnow()
        refresh_case_of(found)
        db.session.commit()
    draft = current_draft()
    mine = draft is not None and draft.invitation_id == found.id
    form = ActionForm()
    if form.validate_on_submit():
        if not mine:
            if earlier is not None:
                continue_draft(earlier)  # the link is the key: it brings back answers from any browser
            else:
                start_draft(found)
            if found.started_at is None:
                found.started_at = utcnow()
                refresh_case_of(found)
                db.session.commit()
        return carry_on()
    if mine and plan(current_rules(), saved_answers()).stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    return render_template(
        "questionnaire/invitation.html", form=form, started=mine or earlier is not None, follow_up=found.follow_up
    )


@bp.post("/send")
def send() -> Response | tuple[str, int]:
    """Send the answers to the clinic that invited this person: one transaction, once.

    A second "Send" (a double click, or a page sent again) shows what was sent. A check
    started before the link expired can still be sent after.
    """
    draft = current_draft()
    if not ActionForm().validate_on_submit():
        return redirect(url_for("questionnaire.check_answers"))
    if draft is None and g.get("sent_submission_id"):
        return _show_sent(db.session.get(Submission, g.sent_submission_id))
    if draft is None and _withdrawn(session.get(LINK_KEY)):
        # Staff withdrew the link (deleting the answers started with it) just before this Send.
        return render_template("questionnaire/link_problem.html", problem="revoked"), 410
    if draft is None or draft.invitation is None:
        return redirect(url_for("questionnaire.check_answers"))
    invitation = draft.invitation
    # One outcome when staff revoke (or replace) the link at the same moment: whichever locks the
    # link first wins, and the other sees what it did.
    lock(invitation)
    if invitation.revoked_at is not None:
        db.session.commit()
        return render_template("questionnaire/link_problem.html", problem="revoked"), 410
    if invitation.used_at is not None:
        db.session.refresh(draft)  # sent a moment ago by this same draft (another click)?
        db.session.commit()
        if draft.submission_id is not None:
            return _show_sent(db.session.get(Submission, draft.submission_id))
        return render_template("questionnaire/link_problem.html", problem="sent"), 410
    rules = current_rules()
    answers = saved_answers()
    try:
        result = assess(rules, answers)
    except AnswerErrors:
        return redirect(url_for("questionnaire.check_answers"))
    measure = saved_measure()
    submission = new_submission(
        answers,
        result,
        invitation_id=invitation.id,
        case_id=invitation.case_id,
        started_at=draft.created_at,
        camera=measure.to_json() if measure else None,
    )
    invitation.used_at = utcnow()
    db.session.add(submission)
    try:
        db.session.flush()
        draft.submission_id = submission.id
        draft.answers, draft.camera = {}, None  # in the submission now: no second copy waits for the purge
        if (launch := launch_of(submission)) is not None:
            queue_write_back(submission, launch)  # filed into the EHR it was launched from
        refresh_case_of(invitation)
        tell_clinic_if_urgent(submission)
        db.session.commit()
        count_result("link", result.outcome, result.triage)
    except IntegrityError:  # the same answers sent at the same moment by a second click
        db.session.rollback()
        return _show_sent(db.session.scalar(select(Submission).where(Submission.invitation_id == invitation.id)))
    return _show_sent(submission)


def _withdrawn(link_id: object) -> bool:
    """Whether the clinic link this browser was answering has been withdrawn."""
    link = db.session.get(Invitation, link_id) if isinstance(link_id, int) else None
    return link is not None and link.revoked_at is not None


def _show_sent(submission: Submission | None) -> Response:
    """The result of what was sent, with the note that the clinic has it."""
    if submission is None:
        return redirect(url_for("questionnaire.check_answers"))
    session.pop(DRAFT_KEY, None)
    session.pop(LINK_KEY, None)
    session[ANSWERS_KEY] = dict(submission.answers)  # the person can still read their result
    session[SENT_KEY] = submission.id
    return redirect(url_for("questionnaire.result"))


@bp.get("/saved")
def saved() -> Response | str:
    """The resume link for answers saved on the server."""
    draft = current_draft()
    token = draft_token()
    if draft is None or token is None:
        return redirect(url_for("questionnaire.landing"))
    link = external_url("questionnaire.resume", token=token)
    rules = current_rules()
    page = rules.page(draft.page or "")
    urgent = interrupting_flags(rules, plan(rules, saved_answers()))
    return render_template("questionnaire/saved.html", link=link, draft=draft, page=page, urgent=urgent, rules=rules)


def carry_on(resume_at: str | None = None) -> Response:
    """Where answers taken up again lead: the emergency page if they stopped there (with its
    way back to the safety answers), else page ``resume_at``, the first page still to answer, or
    the answers to check."""
    rules = current_rules()
    route = plan(rules, saved_answers())
    if route.stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    page = rules.page(resume_at or "") or route.first_incomplete()
    return redirect(page_url(page) if page else url_for("questionnaire.check_answers"))


@bp.route("/resume/<token>", methods=["GET", "POST"])
def resume(token: str) -> Response | tuple[str, int] | str:
    """Saved answers back, once the person confirms: a link alone never replaces answers.

    Opening the link only asks. Confirming (a form with its token) takes up the saved answers
    in this browser under a new token, so the link that was followed stops working: whoever
    sent it cannot reopen what is typed from now on.
    """
    draft = None
    if 20 <= len(token) <= 100:
        draft = db.session.scalar(select(Draft).where(Draft.token_hash == token_hash(token)))
    if draft is None or draft.expires_at <= utcnow():
        return render_template("questionnaire/link_problem.html", problem="resume"), 410
    form = ActionForm()
    if form.validate_on_submit():
        continue_draft(draft)
        return carry_on(draft.page)
    mine = current_draft()
    in_progress = bool(session.get(ANSWERS_KEY)) or (mine is not None and mine.id != draft.id and bool(mine.answers))
    return render_template("questionnaire/resume.html", form=form, draft=draft, in_progress=in_progress)
