"""Staff-side reading and writing of what patients sent; every write is one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_login import current_user
from sqlalchemy import select

from ..db import db, utcnow
from ..models import AuditEvent, ConsultationRequest, Invitation, Submission, new_token, token_hash

STATUS_FILTERS = ("new", "done", "all")


def audit(action: str, target: str = "") -> None:
    """Add an audit event to the current transaction (the caller commits)."""
    staff_id = current_user.id if current_user.is_authenticated else None
    db.session.add(AuditEvent(staff_id=staff_id, action=action, target=target))


@dataclass(frozen=True)
class InboxItem:
    kind: str  # "submission" | "request"
    id: int
    at: datetime
    done: bool
    record: Submission | ConsultationRequest


def inbox(status: str, limit: int = 200) -> list[InboxItem]:
    """Submissions and consultation requests, newest first, filtered by status."""
    submissions = select(Submission).order_by(Submission.submitted_at.desc()).limit(limit)
    requests = select(ConsultationRequest).order_by(ConsultationRequest.created_at.desc()).limit(limit)
    if status == "new":
        submissions = submissions.where(Submission.status == "new")
        requests = requests.where(ConsultationRequest.status == "new")
    elif status == "done":
        submissions = submissions.where(Submission.status == "reviewed")
        requests = requests.where(ConsultationRequest.status == "handled")
    items = [
        InboxItem("submission", s.id, s.submitted_at, s.status == "reviewed", s)
        for s in db.session.scalars(submissions)
    ]
    items += [InboxItem("request", r.id, r.created_at, r.status == "handled", r) for r in db.session.scalars(requests)]
    return sorted(items, key=lambda item: item.at, reverse=True)[:limit]


def create_invitation(label: str, days: int, staff_id: int) -> tuple[Invitation, str]:
    """A new invitation and its token (the token itself is never stored)."""
    token = new_token()
    invitation = Invitation(
        token_hash=token_hash(token),
        label=label.strip(),
        created_by_id=staff_id,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(invitation)
    db.session.flush()
    audit("created invitation", f"invitation {invitation.id}")
    db.session.commit()
    return invitation, token
