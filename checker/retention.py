"""Retention: ``flask --app checker purge`` deletes what the clinic no longer needs."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import ColumnElement, Delete, and_, delete, or_, select

from .cases import refresh
from .db import DatabaseCommand, db, utcnow
from .models import (
    AuditEvent,
    Case,
    ConsultationRequest,
    Draft,
    Invitation,
    OutboxMessage,
    PendingSignIn,
    SignInFailure,
    SpentCode,
    StaffSession,
    Submission,
)
from .rules import current_rules


def purge(now: datetime) -> dict[str, int]:
    """Delete expired drafts and invitations, and submissions and requests past retention.

    One transaction: all of it, or nothing.
    """
    config = current_app.config
    kept_until = now - timedelta(days=config["RETENTION_DAYS"])
    session_ended = or_(
        StaffSession.last_seen_at <= now - timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
        StaffSession.created_at <= now - timedelta(hours=config["STAFF_SESSION_HOURS"]),
    )
    # The parts of cases that go: their cases are tidied after.
    past: list[tuple[str, type[ConsultationRequest | Submission | Invitation], ColumnElement[bool]]] = [
        ("consultation requests", ConsultationRequest, ConsultationRequest.created_at < kept_until),
        ("submissions", Submission, Submission.submitted_at < kept_until),
        (
            "invitations",
            Invitation,
            or_(and_(Invitation.used_at.is_(None), Invitation.expires_at <= now), Invitation.used_at < kept_until),
        ),
    ]
    statements: dict[str, Delete] = {
        "ended staff sessions": delete(StaffSession).where(session_ended),
        "refused sign-ins over a day old": delete(SignInFailure).where(SignInFailure.at < now - timedelta(days=1)),
        "sign-ins left at the code": delete(PendingSignIn).where(PendingSignIn.created_at < now - timedelta(hours=1)),
        "spent two-factor codes over a day old": delete(SpentCode).where(SpentCode.at < now - timedelta(days=1)),
        "drafts": delete(Draft).where(Draft.expires_at <= now),
        "sent email notices over a week old": delete(OutboxMessage).where(
            OutboxMessage.sent_at < now - timedelta(days=7)
        ),
        **{name: delete(model).where(condition) for name, model, condition in past},
    }
    counts: dict[str, int] = {}
    try:
        touched = {
            case_id
            for _, model, condition in past
            for case_id in db.session.scalars(select(model.case_id).where(condition, model.case_id.is_not(None)))
            if case_id is not None
        }
        for name, statement in statements.items():
            counts[name] = db.session.execute(statement).rowcount  # type: ignore[attr-defined]
        counts["cases left empty"] = _tidy_cases(touched, now)
        summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n)[:200]
        db.session.add(AuditEvent(action="purged", target=summary or "nothing"))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


def _tidy_cases(case_ids: set[int], now: datetime) -> int:
    """Bring the touched cases' summaries up to date, and delete those with nothing left (and their notes)."""
    empty = 0
    rules = current_rules()
    for case in db.session.scalars(select(Case).where(Case.id.in_(case_ids))):
        parts = [select(m.id).where(m.case_id == case.id) for m in (Invitation, Submission, ConsultationRequest)]
        if not any(db.session.scalar(part.limit(1)) for part in parts):
            db.session.delete(case)
            empty += 1
        else:
            refresh(case, rules, now)
    return empty


@click.command("purge", cls=DatabaseCommand)
@with_appcontext
def purge_command() -> None:
    """Delete expired drafts and invitations, and submissions and requests older than
    CHECKER_RETENTION_DAYS (default 365)."""
    counts = purge(utcnow())
    click.echo("Deleted " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".")
