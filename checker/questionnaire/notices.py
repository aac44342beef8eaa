"""What passes between a clinic's link and the clinic: opened, started, stopped, sent, urgent,
and, on a follow-up link, the person's earlier scores."""

from __future__ import annotations

from flask import session
from flask_babel import gettext as _

from ..cases import is_urgent, refresh_case_of
from ..db import db, utcnow
from ..engine import Result
from ..mail import clinic_language, queue_notice
from ..models import Submission
from ..rules import current_rules
from ..trend import Point, trend
from ..urls import external_url
from .journey import SENT_KEY, current_draft


def record_stop() -> None:
    """A person on a clinic's link reached the emergency page: the clinic sees it, and is told once."""
    draft = current_draft()
    invitation = draft.invitation if draft is not None else None
    if invitation is None or invitation.stopped_at is not None:
        return
    invitation.stopped_at = utcnow()
    refresh_case_of(invitation)
    if invitation.case_id is not None:
        with clinic_language():
            subject = _("A patient stopped at the emergency page")
            body = _(
                "A patient who opened one of the clinic's links answered that they have signs of a possible "
                "stroke. They were told to call the emergency number now. Sign in to see the case:\n%(url)s\n\n"
                "This email holds no personal details on purpose.",
                url=external_url("clinic.case", case_id=invitation.case_id),
            )
        queue_notice(subject, body)
    db.session.commit()


def tell_clinic_if_urgent(submission: Submission) -> None:
    """An email (no personal details) when a check sent through a link needs care today or sooner.

    Queued in the caller's transaction, which commits it with the submission.
    """
    if submission.case_id is None or not is_urgent(current_rules(), submission.triage):
        return
    with clinic_language():
        subject = _("A self-check with warning signs has arrived")
        body = _(
            "A self-check sent through one of the clinic's links shows warning signs that need care today "
            "or sooner. Sign in to see the case:\n%(url)s\n\nThis email holds no personal details on purpose.",
            url=external_url("clinic.case", case_id=submission.case_id),
        )
    queue_notice(subject, body)


def score_history(result: Result) -> list[Point]:
    """On a follow-up link: the person's earlier SAQ totals with this one, oldest first.

    Empty when the person did not come through a follow-up link or there is nothing earlier.
    """
    if result.saq_total is None:
        return []
    sent_id = session.get(SENT_KEY)
    sent = db.session.get(Submission, sent_id) if isinstance(sent_id, int) else None
    draft = current_draft()
    invitation = sent.invitation if sent is not None else draft.invitation if draft is not None else None
    if invitation is None or not invitation.follow_up or invitation.case is None:
        return []
    now = sent.submitted_at if sent is not None else utcnow()
    earlier = [(s.submitted_at, s.saq_total) for s in invitation.case.submissions if s.submitted_at < now]
    if not any(total is not None for _, total in earlier):
        return []
    return trend([*earlier, (now, result.saq_total)])
