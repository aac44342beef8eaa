"""Staff-side reading and writing of what patients sent; every write is one transaction."""

from __future__ import annotations

from datetime import timedelta

from flask_login import current_user
from sqlalchemy import delete, select

from ..cases import case_for, new_case, refresh, refresh_case_of
from ..db import db, lock, utcnow
from ..models import AuditEvent, Case, ConsultationRequest, Draft, Invitation, Submission, token_hash
from ..rules import current_rules
from .shown_once import new_seed, token_from


def audit(action: str, target: str = "") -> None:
    """Add an audit event to the current transaction (the caller commits)."""
    staff_id = current_user.id if current_user.is_authenticated else None
    db.session.add(AuditEvent(staff_id=staff_id, action=action, target=target))


def invite(label: str, days: int, staff_id: int, reference: str = "") -> tuple[Invitation, bool]:
    """A link for the person with this clinic reference: added to their open case if they have
    one (a follow-up once they have sent a check), else to a new case; whether the case was there."""
    case, known = case_for(reference) if reference.strip() else (new_case(), False)
    db.session.flush()
    follow_up = known and db.session.scalar(select(Submission.id).where(Submission.case_id == case.id).limit(1))
    return create_invitation(label, days, staff_id, case, follow_up=bool(follow_up)), known


def create_invitation(label: str, days: int, staff_id: int, case: Case, follow_up: bool = False) -> Invitation:
    """A new link for ``case``: its page shows it once (:mod:`.shown_once`)."""
    seed = new_seed()
    invitation = Invitation(
        token_hash=token_hash(token_from(seed)),
        link_seed=seed,
        case_id=case.id,
        follow_up=follow_up,
        label=label.strip(),
        created_by_id=staff_id,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(invitation)
    db.session.flush()
    refresh(case, current_rules())
    audit("created follow-up link" if follow_up else "created invitation", f"invitation {invitation.id}")
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
        audit(action, f"invitation {invitation.id}")
    refresh_case_of(invitation)
    return revoked


def mark_done(record: Submission | ConsultationRequest, done: bool) -> bool:
    """Mark a check reviewed or a request handled, or undo that; audited. Whether it changed."""
    word, kind = ("reviewed", "submission") if isinstance(record, Submission) else ("handled", "request")
    if (record.status == word) == done:
        return False
    record.status = word if done else "new"
    setattr(record, f"{word}_by_id", current_user.id if done else None)
    setattr(record, f"{word}_at", utcnow() if done else None)
    audit(f"marked {word}" if done else f"undid {word}", f"{kind} {record.id}")
    refresh_case_of(record)
    db.session.commit()
    return True
