"""Retention: ``flask --app checker purge`` deletes what the clinic no longer needs."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Delete, and_, delete, or_

from .db import db, utcnow
from .models import AuditEvent, ConsultationRequest, Draft, Invitation, SignInFailure, StaffSession, Submission


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
    statements: dict[str, Delete] = {
        "ended staff sessions": delete(StaffSession).where(session_ended),
        "refused sign-ins over a day old": delete(SignInFailure).where(SignInFailure.at < now - timedelta(days=1)),
        "drafts": delete(Draft).where(Draft.expires_at <= now),
        "consultation requests": delete(ConsultationRequest).where(ConsultationRequest.created_at < kept_until),
        "submissions": delete(Submission).where(Submission.submitted_at < kept_until),
        "invitations": delete(Invitation).where(
            or_(
                and_(Invitation.used_at.is_(None), Invitation.expires_at <= now),
                Invitation.used_at < kept_until,
            )
        ),
    }
    counts: dict[str, int] = {}
    try:
        for name, statement in statements.items():
            counts[name] = db.session.execute(statement).rowcount  # type: ignore[attr-defined]
        summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n)[:200]
        db.session.add(AuditEvent(action="purged", target=summary or "nothing"))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete expired drafts and invitations, and submissions and requests older than
    CHECKER_RETENTION_DAYS (default 365)."""
    counts = purge(utcnow())
    click.echo("Deleted " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".")
