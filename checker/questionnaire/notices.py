"""What passes between a clinic's link and the clinic: opened, started, stopped, sent, urgent,
and, on a follow-up link, the person's earlier scores."""

from __future__ import annotations

from flask import session
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from ..cases import clinic_zone, is_urgent, refresh_case_of
from ..db import db, utcnow
from ..engine import RedFlag, Result, RuleSet
from ..mail import clinic_language, queue_notice
from ..models import Submission
from ..rules import current_rules
from ..trend import Trend, trend
from ..urls import external_url
from .journey import SENT_KEY, current_draft

# The clinic's emails about a case: a subject, and a body with the case's address (no personal details).
STOPPED = (
    _l("A patient stopped at the emergency page"),
    _l(
        "A patient who opened one of the clinic's links answered that they have signs of a possible "
        "stroke. They were told to call the emergency number now. Sign in to see the case:\n%(url)s\n\n"
        "This email holds no personal details on purpose."
    ),
)
TOLD_TODAY = (
    _l("A patient on a clinic link was told to get care today"),
    _l(
        "A patient who opened one of the clinic's links gave answers that need medical care today, "
        "and was shown that advice. They may not have sent their answers. Sign in to see the case:\n"
        "%(url)s\n\nThis email holds no personal details on purpose."
    ),
)
ARRIVED = (
    _l("A self-check with warning signs has arrived"),
    _l(
        "A self-check sent through one of the clinic's links shows warning signs that need care today "
        "or sooner. Sign in to see the case:\n%(url)s\n\nThis email holds no personal details on purpose."
    ),
)


def _tell_clinic(notice: tuple[LazyString, LazyString], case_id: int | None) -> None:
    """Queue one of the notices above for a case, in the clinic's language (the caller commits)."""
    if case_id is None:
        return
    subject, body = notice
    with clinic_language():
        queue_notice(str(subject), str(body) % {"url": external_url("clinic.case", case_id=case_id)})


def record_stop() -> None:
    """A person on a clinic's link reached the emergency page: the clinic sees it, and is told once."""
    draft = current_draft()
    invitation = draft.invitation if draft is not None else None
    if invitation is None or invitation.stopped_at is not None:
        return
    invitation.stopped_at = utcnow()
    refresh_case_of(invitation)
    _tell_clinic(STOPPED, invitation.case_id)
    db.session.commit()


def record_flags(rules: RuleSet, flags: tuple[RedFlag, ...]) -> None:
    """A person on a clinic's link was just shown advice that cannot wait (``flags``): the case
    waits under Urgent from this moment, and the clinic is told once, whether or not the person
    ever sends. A flag reached after staff saw the earlier ones makes the case wait again."""
    draft = current_draft()
    invitation = draft.invitation if draft is not None else None
    new = [flag.id for flag in flags if invitation is not None and flag.id not in invitation.flags]
    if invitation is None or not new:
        return
    waiting = invitation.flagged_at is not None and invitation.flags_reviewed_at is None
    invitation.flags = [*invitation.flags, *new]
    invitation.flagged_at = invitation.flagged_at or utcnow()
    levels = [flag.triage for flag in flags] + ([invitation.flags_triage] if invitation.flags_triage else [])
    invitation.flags_triage = min(levels, key=lambda level: rules.severity.get(level, len(rules.severity)))
    invitation.flags_reviewed_at = None
    refresh_case_of(invitation)
    if not waiting:
        _tell_clinic(TOLD_TODAY, invitation.case_id)
    db.session.commit()


def tell_clinic_if_urgent(submission: Submission) -> None:
    """An email (no personal details) when a check sent through a link needs care today or sooner,
    unless the clinic was already told when the person reached those warning signs.

    Queued in the caller's transaction, which commits it with the submission.
    """
    if submission.case_id is None or not is_urgent(current_rules(), submission.triage):
        return
    if submission.invitation is not None and submission.invitation.flagged_at is not None:
        return
    _tell_clinic(ARRIVED, submission.case_id)


def score_history(result: Result) -> Trend | None:
    """On a follow-up link: the person's earlier SAQ totals with this one, oldest first.

    Empty when the person did not come through a follow-up link or there is nothing earlier.
    """
    if result.saq_total is None:
        return None
    sent_id = session.get(SENT_KEY)
    sent = db.session.get(Submission, sent_id) if isinstance(sent_id, int) else None
    draft = current_draft()
    invitation = sent.invitation if sent is not None else draft.invitation if draft is not None else None
    if invitation is None or not invitation.follow_up or invitation.case is None:
        return None
    now = sent.submitted_at if sent is not None else utcnow()
    earlier = [(s.submitted_at, s.saq_total) for s in invitation.case.submissions if s.submitted_at < now]
    if not any(total is not None for _, total in earlier):
        return None
    return trend([*earlier, (now, result.saq_total)], zone=clinic_zone())
