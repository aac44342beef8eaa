"""The app reaching patients on its own: link emails, reminders and scheduled follow-ups.

:func:`run_due` does whatever is due at a moment: it makes the follow-up links schedules call
for, queues the invitation email of each emailed link whose time has come, and queues
reminders (at most two, ``CHECKER_REMINDER_DAYS`` after the invitation email) for links not
opened, or started and not sent. It runs each round of ``flask outbox run``, which then sends
what was queued; several workers may run at once. Each piece of work is claimed by a row the
database allows only once (a schedule's due date on the link, a link's email number), so two
workers at the same moment make each link and each email once.

An email says who is asking (the clinic), when, and where to answer, in the patient's language;
never anything about their health. Its link is written in only when the outbox sends it (from
the link's mail seed and the app's secret key), so the outbox never holds a working link.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from .cases import clinic_zone, refresh
from .db import db, utcnow
from .mail import new_message_id
from .models import Case, CaseEvent, FollowUpSchedule, Invitation, LinkEmail, OutboxMessage, token_hash
from .rules import current_rules

REMINDERS = 2  # at most, after the invitation email


def reminder_days() -> list[int]:
    """Days after the invitation email each reminder is due (``CHECKER_REMINDER_DAYS``)."""
    return list(current_app.config["REMINDER_DAYS"])


@contextmanager
def _once() -> Iterator[None]:
    """A savepoint whose insert the database may refuse as already done by another worker."""
    try:
        with db.session.begin_nested():
            yield
    except IntegrityError:
        pass


def may_email(invitation: Invitation, now: datetime) -> bool:
    """Whether an email about this link may still go: it can be answered, nothing stopped it,
    the person was not told to get care (the clinic contacts them), and the case has an address."""
    case = invitation.case
    return (
        invitation.mail_seed is not None
        and invitation.status(now) in ("not_opened", "opened", "started")
        and invitation.flagged_at is None
        and case is not None
        and bool(case.email)
    )


def queue_link_email(invitation: Invitation, number: int, now: datetime) -> bool:
    """Queue email ``number`` (0 the invitation, 1 and 2 reminders) for the link, once; whether
    this call queued it (the caller commits)."""
    queued = False
    with _once():
        message = OutboxMessage(
            subject=_subject(invitation, number), body="", message_id=new_message_id(), invitation_id=invitation.id
        )
        db.session.add(message)
        db.session.flush()
        db.session.add(LinkEmail(invitation_id=invitation.id, number=number, queued_at=now, outbox_id=message.id))
        db.session.flush()
        queued = True
    return queued


def _language(invitation: Invitation) -> str:
    case = invitation.case
    language = case.language if case is not None and case.language else None
    return str(language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"])


def _subject(invitation: Invitation, number: int) -> str:
    clinic = current_app.config["CLINIC_NAME"]
    with force_locale(_language(invitation)):
        if number == 0:
            return str(_("%(clinic)s: a short questionnaire before your visit", clinic=clinic))[:200]
        return str(_("Reminder from %(clinic)s: your questionnaire", clinic=clinic))[:200]


def email_body(invitation: Invitation, number: int, link: str) -> str:
    """The email's text, in the patient's language, with the link written in."""
    config = current_app.config
    with force_locale(_language(invitation)):
        lines = [
            _("Hello,"),
            "",
            _(
                "%(clinic)s asks you to answer a short questionnaire before your visit. It takes about 10 minutes.",
                clinic=config["CLINIC_NAME"],
            )
            if number == 0
            else _(
                "This is a reminder: %(clinic)s asked you to answer a short questionnaire, and it is not finished yet.",
                clinic=config["CLINIC_NAME"],
            ),
        ]
        if invitation.appointment_at is not None:
            when = format_date(invitation.appointment_at.astimezone(clinic_zone()), "long")
            lines.append(_("Your appointment: %(date)s.", date=when))
        lines += [
            "",
            _("Open this link to answer:"),
            link,
            "",
            _(
                "The link works until %(date)s.",
                date=format_date(invitation.expires_at.astimezone(clinic_zone()), "long"),
            ),
            _("If you did not expect this email, you can ignore it."),
        ]
        if config["CLINIC_PHONE"]:
            lines.append(_("Questions? Call %(phone)s.", phone=config["CLINIC_PHONE"]))
        lines += ["", config["CLINIC_NAME"]]
    return "\n".join(str(line) for line in lines)


def _claim(model: Any, row_id: int) -> Any:
    """The row, locked for this worker (another worker skips it: PostgreSQL), or None."""
    return db.session.scalar(select(model).where(model.id == row_id).with_for_update(skip_locked=True))


def queue_due_emails(now: datetime) -> int:
    """Invitation emails whose time has come, and reminders that are due; how many were queued."""
    queued = 0
    days = reminder_days()

    def email(number: int) -> Any:
        return exists().where(LinkEmail.invitation_id == Invitation.id, LinkEmail.number == number)

    def first_email_before(moment: datetime) -> Any:
        when = func.coalesce(LinkEmail.sent_at, LinkEmail.queued_at)
        return exists().where(LinkEmail.invitation_id == Invitation.id, LinkEmail.number == 0, when <= moment)

    # Only links with an email due now: the invitation's, or a reminder whose day has come.
    due = [and_(~email(0), or_(Invitation.send_at.is_(None), Invitation.send_at <= now))]
    due += [
        and_(first_email_before(now - timedelta(days=day)), ~email(number))
        for number, day in enumerate(days[:REMINDERS], start=1)
    ]
    candidates = db.session.scalars(
        select(Invitation.id).where(
            Invitation.by_email.is_(True),
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.stopped_at.is_(None),
            Invitation.flagged_at.is_(None),
            Invitation.mail_seed.is_not(None),
            Invitation.expires_at > now,
            or_(*due),
        )
    ).all()
    for invitation_id in candidates:
        invitation = _claim(Invitation, invitation_id)
        if invitation is None:
            continue
        sent = {done.number: done for done in invitation.emails}
        number = None
        if 0 not in sent:
            if invitation.send_at is None or invitation.send_at <= now:
                number = 0
        elif invitation.status(now) in ("not_opened", "opened", "started"):
            first = sent[0].sent_at or sent[0].queued_at
            reached = [n for n, day in enumerate(days[:REMINDERS], start=1) if first + timedelta(days=day) <= now]
            number = next((n for n in reached if n not in sent), None)
        if number is not None and may_email(invitation, now) and queue_link_email(invitation, number, now):
            queued += 1
        db.session.commit()
    return queued


def _due_dates(schedule: FollowUpSchedule, events: list[CaseEvent], today: date) -> list[date]:
    """The schedule's due dates up to today, from the day it was made (nothing before it)."""
    made = schedule.created_at.astimezone(clinic_zone()).date()
    if schedule.every_weeks:
        step = timedelta(weeks=schedule.every_weeks)
        due, latest = schedule.starts_on + step, None
        while due <= today:
            latest = due if due >= made else latest
            due += step
        return [latest] if latest is not None else []  # one link for the latest; none for missed ones
    dates = {
        event.on + timedelta(weeks=weeks)
        for event in events
        if event.kind == schedule.after_event
        for weeks in schedule.offsets_weeks
    }
    return sorted(d for d in dates if made <= d <= today)


def _missing(schedule: FollowUpSchedule, today: date) -> list[date]:
    """The schedule's due dates by today that have no link yet."""
    events = list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == schedule.case_id)))
    made = set(
        db.session.scalars(
            select(Invitation.due_key).where(Invitation.schedule_id == schedule.id, Invitation.due_key.is_not(None))
        )
    )
    return [due for due in _due_dates(schedule, events, today) if due.isoformat() not in made]


def make_scheduled_links(now: datetime) -> int:
    """The follow-up links schedules call for by now (each due date once); how many were made.

    Each round reads the active schedules; only one with a due date still missing its link is
    claimed (locked, skipped by other workers) and given the link, in its own transaction."""
    from .shown_once import new_seed, token_from

    made = 0
    today = now.astimezone(clinic_zone()).date()
    rules = current_rules()
    schedules = db.session.scalars(select(FollowUpSchedule).where(FollowUpSchedule.active.is_(True))).all()
    for candidate in schedules:
        if not _missing(candidate, today):
            continue
        schedule = _claim(FollowUpSchedule, candidate.id)
        case: Case | None = schedule.case if schedule is not None else None
        if schedule is None or case is None or case.merged_into_id is not None:
            db.session.rollback()
            continue
        for due in _missing(schedule, today):  # again, now that it is ours
            with _once():
                seed = new_seed()
                link = Invitation(
                    token_hash=token_hash(token_from(seed)),
                    link_seed=None if case.email else seed,  # shown to staff once when it is not emailed
                    mail_seed=seed if case.email else None,
                    by_email=bool(case.email),
                    case_id=case.id,
                    follow_up=True,
                    label=scheduled_label(schedule, due),
                    expires_at=datetime.combine(due, time(23, 59), clinic_zone()) + timedelta(days=schedule.days_valid),
                    schedule_id=schedule.id,
                    due_key=due.isoformat(),
                )
                db.session.add(link)
                db.session.flush()
                made += 1
        refresh(case, rules, now)
        db.session.commit()
    return made


def scheduled_label(schedule: FollowUpSchedule, due: date) -> str:
    with force_locale(current_app.config["CLINIC_LANGUAGE"]):
        return str(_("Scheduled follow-up, due %(date)s", date=format_date(due, "medium")))[:80]


def run_due(now: datetime | None = None) -> tuple[int, int]:
    """Make the scheduled links and queue the emails due at ``now``; (links made, emails queued)."""
    now = now or utcnow()
    return make_scheduled_links(now), queue_due_emails(now)
