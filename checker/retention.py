"""Retention: ``flask --app checker purge`` deletes what the clinic no longer needs."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import ColumnElement, Delete, Update, and_, delete, exists, or_, select, update

from .cases import refresh
from .db import DatabaseCommand, db, utcnow
from .models import (
    AuditEvent,
    Case,
    ConsultationRequest,
    Draft,
    EhrLaunch,
    EhrWriteBack,
    FollowUpSchedule,
    Grading,
    GradingVersion,
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
    """Delete expired drafts and invitations, and submissions, requests and gradings past retention.

    One transaction: all of it, or nothing.
    """
    config = current_app.config
    kept_until = now - timedelta(days=config["RETENTION_DAYS"])
    session_ended = or_(
        StaffSession.last_seen_at <= now - timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
        StaffSession.created_at <= now - timedelta(hours=config["STAFF_SESSION_HOURS"]),
    )
    # The parts of cases that go: their cases are tidied after.
    recent_version = exists().where(GradingVersion.grading_id == Grading.id, GradingVersion.created_at >= kept_until)
    past: list[tuple[str, type[ConsultationRequest | Submission | Invitation | Grading], ColumnElement[bool]]] = [
        ("consultation requests", ConsultationRequest, ConsultationRequest.created_at < kept_until),
        ("submissions", Submission, Submission.submitted_at < kept_until),
        ("gradings", Grading, ~recent_version),  # kept while any version is recent
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
        "EHR launches never authorized": delete(EhrLaunch).where(
            EhrLaunch.authorized_at.is_(None), EhrLaunch.expires_at <= now
        ),
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
        for name, change in _no_longer_needed(now).items():
            counts[name] = db.session.execute(change).rowcount  # type: ignore[attr-defined]
        counts["cases left empty"] = _tidy_cases(touched, now)
        summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n)[:200]
        db.session.add(AuditEvent(action="purged", target=summary or "nothing"))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


CLEARED = ("emailed links' seeds", "patient email addresses", "EHR tokens")


def _no_longer_needed(now: datetime) -> dict[str, Update]:
    """What the app kept only to email patients: a link's mail seed once the link is answered,
    revoked or expired; a case's email address once no open emailed link or schedule needs it.
    And an EHR launch's tokens once its link is closed (or gone) and no write-back waits for them."""
    closed = or_(Invitation.used_at.is_not(None), Invitation.revoked_at.is_not(None), Invitation.expires_at <= now)
    open_link = exists().where(Invitation.case_id == Case.id, Invitation.mail_seed.is_not(None), ~closed)
    schedule = exists().where(FollowUpSchedule.case_id == Case.id, FollowUpSchedule.active.is_(True))
    launch_link_open = exists().where(Invitation.id == EhrLaunch.invitation_id, ~closed)
    filing = exists().where(
        EhrWriteBack.launch_id == EhrLaunch.id, EhrWriteBack.filed_at.is_(None), EhrWriteBack.given_up_at.is_(None)
    )
    return {
        "emailed links' seeds": update(Invitation)
        .where(Invitation.mail_seed.is_not(None), closed)
        .values(mail_seed=None),
        "patient email addresses": update(Case)
        .where(Case.email.is_not(None), ~open_link, ~schedule)
        .values(email=None),
        "EHR tokens": update(EhrLaunch)
        .where(EhrLaunch.access_token.is_not(None), ~launch_link_open, ~filing)
        .values(access_token=None, refresh_token=None),
    }


def _tidy_cases(case_ids: set[int], now: datetime) -> int:
    """Bring the touched cases' summaries up to date, and delete those with nothing left (and their notes)."""
    empty = 0
    rules = current_rules()
    for case in db.session.scalars(select(Case).where(Case.id.in_(case_ids))):
        parts = [
            select(m.id).where(m.case_id == case.id) for m in (Invitation, Submission, ConsultationRequest, Grading)
        ]
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
    CHECKER_RETENTION_DAYS (default 365); clear what was kept only to email patients."""
    counts = purge(utcnow())
    cleared = {name: counts.pop(name) for name in CLEARED}
    click.echo(
        "Deleted "
        + ", ".join(f"{n} {name}" for name, n in counts.items())
        + "; cleared "
        + ", ".join(f"{n} {name}" for name, n in cleared.items())
        + "."
    )
