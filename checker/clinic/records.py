"""Staff-side reading and writing of what patients sent; every write is one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_login import current_user
from sqlalchemy import delete, select

from ..cases import case_for, new_case, refresh, refresh_case_of
from ..db import db, lock, utcnow
from ..models import AuditEvent, Case, ConsultationRequest, Draft, Invitation, Submission, token_hash
from ..outreach import queue_link_email
from ..rules import current_rules
from ..shown_once import new_seed, token_from


def audit(action: str, target: str = "", case: Case | None = None) -> None:
    """Add an audit event to the current transaction (the caller commits), naming the case it
    concerns and that case's reference at the time, so the log can be searched by either."""
    staff_id = current_user.id if current_user.is_authenticated else None
    reference = case.reference if case is not None else ""
    db.session.add(
        AuditEvent(
            staff_id=staff_id,
            action=action,
            target=target[:200],
            case_id=case.id if case is not None else None,
            reference=reference,
        )
    )


def invite(
    label: str,
    days: int,
    staff_id: int,
    reference: str = "",
    email: str = "",
    language: str | None = None,
    appointment_at: datetime | None = None,
    send_at: datetime | None = None,
    commit: bool = True,
) -> tuple[Invitation, bool]:
    """A link for the person with this clinic reference: added to their open case if they have
    one (a follow-up once they have sent a check), else to a new case; whether the case was there.
    With an email address the app sends the link (now, or at ``send_at``), in ``language``."""
    case, known = case_for(reference) if reference.strip() else (new_case(), False)
    db.session.flush()
    if email:
        case.email, case.language = email, language or case.language
    follow_up = known and db.session.scalar(select(Submission.id).where(Submission.case_id == case.id).limit(1))
    link = create_invitation(
        label,
        days,
        staff_id,
        case,
        bool(follow_up),
        by_email=bool(email),
        appointment_at=appointment_at,
        send_at=send_at,
    )
    return link, known


def create_invitation(
    label: str,
    days: int,
    staff_id: int,
    case: Case,
    follow_up: bool = False,
    by_email: bool = False,
    appointment_at: datetime | None = None,
    send_at: datetime | None = None,
    commit: bool = True,
) -> Invitation:
    """A new link for ``case``: its page shows it once (:mod:`checker.shown_once`); or, ``by_email``,
    the app emails it to the case's address (at once, or at ``send_at``) and never shows it."""
    seed, now = new_seed(), utcnow()
    invitation = Invitation(
        token_hash=token_hash(token_from(seed)),
        link_seed=None if by_email else seed,
        mail_seed=seed if by_email else None,
        by_email=by_email,
        send_at=send_at,
        appointment_at=appointment_at,
        case_id=case.id,
        follow_up=follow_up,
        label=label.strip(),
        created_by_id=staff_id,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(invitation)
    db.session.flush()
    if by_email and (send_at is None or send_at <= now):
        queue_link_email(invitation, 0, now)
    refresh(case, current_rules())
    audit("created follow-up link" if follow_up else "created invitation", f"invitation {invitation.id}", case)
    if commit:
        db.session.commit()
    return invitation


def revoke(invitation: Invitation, action: str = "revoked link") -> bool:
    """The link stops working and any answers started with it are deleted (the caller commits);
    whether it was revoked now. Answers sent a moment before win: a sent link is not revoked."""
    lock(invitation)  # a "Send my answers" at the same moment finishes first, or waits for this
    revoked = invitation.revoked_at is None and invitation.used_at is None
    if revoked:
        invitation.revoked_at = utcnow()
        db.session.execute(delete(Draft).where(Draft.invitation_id == invitation.id, Draft.submission_id.is_(None)))
        audit(action, f"invitation {invitation.id}", invitation.case)
    refresh_case_of(invitation)
    return revoked


def mark_done(record: Submission | ConsultationRequest, done: bool, commit: bool = True) -> bool:
    """Mark a check reviewed or a request handled, or undo that; audited. Whether it changed."""
    word, kind = ("reviewed", "submission") if isinstance(record, Submission) else ("handled", "request")
    if (record.status == word) == done:
        return False
    record.status = word if done else "new"
    setattr(record, f"{word}_by_id", current_user.id if done else None)
    setattr(record, f"{word}_at", utcnow() if done else None)
    audit(f"marked {word}" if done else f"undid {word}", f"{kind} {record.id}", record.case)
    refresh_case_of(record)
    if commit:
        db.session.commit()
    return True
