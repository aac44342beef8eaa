"""Email to the clinic through the configured SMTP server; quietly off when not configured.

Requests never talk to the mail server: :func:`queue_notice` writes the message to the
outbox in the caller's transaction, and :func:`send_due` (``flask --app checker outbox
run``) sends it, trying again with growing pauses when the server is slow or down.

Delivery is at least once, not exactly once: a worker stopped (or a database lost) between
the mail server's "accepted" and the row's "sent" sends that notice again. Each notice has one
Message-ID and Date from the moment it is queued, so every copy is the same message and mail
systems that drop duplicates by Message-ID show it once.
"""

from __future__ import annotations

import smtplib
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from .db import DatabaseGroup, database_problem, db, utcnow
from .models import Invitation, LinkEmail, OutboxMessage

SMTP_TIMEOUT = 10
RETRY_FIRST_SECONDS = 30
RETRY_MAX_SECONDS = 3600
SENDING_LEASE = timedelta(minutes=5)  # a claimed message is another worker's again after this


def normal_address(text: str) -> str | None:
    """``text`` as an email address in its normal form, or None when it is not one. (The
    validator is imported when first needed: its rules take a twentieth of start-up.)"""
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def mail_configured() -> bool:
    """Whether the clinic gets email notices (a mail server and the clinic's address)."""
    config = current_app.config
    return bool(config["MAIL_SERVER"] and config["CLINIC_EMAIL"])


def patient_mail_configured() -> bool:
    """Whether the app can email links to patients (a mail server; links start at BASE_URL)."""
    return bool(current_app.config["MAIL_SERVER"])


def clinic_language() -> Any:
    """A context in which gettext speaks the clinic's language (not the patient's)."""
    return force_locale(current_app.config["CLINIC_LANGUAGE"])


def new_message_id() -> str:
    """A Message-ID under the site's own domain."""
    return make_msgid(domain=urlsplit(str(current_app.config["BASE_URL"])).hostname or None)


def queue_notice(subject: str, body: str) -> None:
    """Add a notice for the clinic to the current transaction (the caller commits)."""
    if mail_configured():
        db.session.add(OutboxMessage(subject=subject[:200], body=body, message_id=new_message_id()))


class NotNeeded(Exception):
    """A patient's email that should no longer go: the link was answered, revoked or expired."""


def _patient_email(notice: OutboxMessage) -> tuple[str, str]:
    """(address, text) of an email to a patient about a link, the link written in now."""
    from .outreach import email_body, may_email
    from .shown_once import token_from
    from .urls import external_url

    invitation = db.session.get(Invitation, notice.invitation_id)
    sent = db.session.scalar(select(LinkEmail).where(LinkEmail.outbox_id == notice.id))
    if invitation is None or sent is None or not may_email(invitation, utcnow()):
        raise NotNeeded
    seed, address = invitation.mail_seed, invitation.case.email if invitation.case is not None else None
    if seed is None or not address:
        raise NotNeeded
    link = external_url("questionnaire.invitation", token=token_from(seed))
    return address, email_body(invitation, sent.number, link)


def _send(notice: OutboxMessage) -> None:
    """Send one message now, as it was queued (its Message-ID and Date); raise on any failure."""
    config = current_app.config
    to, body = _patient_email(notice) if notice.invitation_id is not None else (config["CLINIC_EMAIL"], notice.body)
    if not to:
        raise NotNeeded
    message = EmailMessage()
    message["Date"] = formatdate(notice.created_at.timestamp(), usegmt=True)
    message["Message-ID"] = notice.message_id
    message["Subject"] = notice.subject
    message["From"] = config["MAIL_FROM"] or config["CLINIC_EMAIL"]
    message["To"] = to
    message.set_content(body)
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=SMTP_TIMEOUT) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def retry_pause(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... at most an hour between tries."""
    return timedelta(seconds=min(RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def send_due(now: datetime | None = None, limit: int = 50) -> tuple[int, int]:
    """Send the messages that are due; (sent, failed). Each is its own transaction.

    A worker first claims a message: a lease (its next try moved ``SENDING_LEASE`` on) that one
    UPDATE takes only if no other worker took it, committed before anything is sent. So several
    workers never send one twice, on PostgreSQL (which also skips rows another worker has
    locked) and on SQLite alike; a worker stopped while sending leaves the message to be tried
    again when the lease runs out.
    """
    now = now or utcnow()
    sent = failed = 0
    if not patient_mail_configured():
        return sent, failed
    for _ in range(limit):
        due = (OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
        candidate = (
            select(OutboxMessage.id)
            .where(*due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        message_id = db.session.scalar(candidate)
        if message_id is None:
            break
        lease = update(OutboxMessage).where(OutboxMessage.id == message_id, *due)
        held_until = max(now, utcnow()) + SENDING_LEASE
        claimed = db.session.execute(lease.values(next_attempt_at=held_until)).rowcount  # type: ignore[attr-defined]
        db.session.commit()
        message = db.session.get(OutboxMessage, message_id) if claimed == 1 else None
        if message is None:
            continue  # another worker claimed it first
        try:
            _send(message)
        except NotNeeded:
            _drop(message, "no longer needed")
            db.session.commit()
            continue
        except (OSError, smtplib.SMTPException) as exc:
            message.attempts += 1
            message.next_attempt_at = utcnow() + retry_pause(message.attempts)
            message.last_error = type(exc).__name__
            failed += 1
            current_app.logger.warning("could not send outbox message %s: %s", message.id, type(exc).__name__)
        else:
            message.sent_at = utcnow()
            db.session.execute(
                update(LinkEmail).where(LinkEmail.outbox_id == message.id).values(sent_at=message.sent_at)
            )
            sent += 1
        db.session.commit()
        if message.sent_at is None:
            break  # the server is failing: the rest wait for the next round
    return sent, failed


def _drop(message: OutboxMessage, why: str) -> None:
    """A message that will not be sent: gone from the outbox, the reason kept on its link email."""
    db.session.execute(update(LinkEmail).where(LinkEmail.outbox_id == message.id).values(dropped=why))
    db.session.delete(message)


OVERDUE_AFTER = timedelta(minutes=15)  # a worker running every few seconds would have tried by then


def overdue_notices(now: datetime | None = None) -> int:
    """Messages due over 15 minutes ago and still not tried again: the worker is not running."""
    due_before = (now or utcnow()) - OVERDUE_AFTER
    return (
        db.session.scalar(
            select(func.count()).where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at < due_before)
        )
        or 0
    )


def failing_notices() -> tuple[int, str]:
    """How many notices have failed at least once and are not sent yet, and the last error."""
    rows = db.session.execute(
        select(OutboxMessage.last_error)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0)
        .order_by(OutboxMessage.id.desc())
    ).scalars()
    errors = list(rows)
    return len(errors), errors[0] if errors else ""


@click.group("outbox", cls=DatabaseGroup)
def outbox_group() -> None:
    """Email: the clinic's notices, and links, reminders and scheduled follow-ups for patients."""


@outbox_group.command("run")
@click.option("--once", is_flag=True, help="Send what is due now, then stop.")
@click.option("--every", default=5.0, show_default=True, help="Seconds between rounds.")
@with_appcontext
def run_command(once: bool, every: float) -> None:
    """Do what is due (scheduled follow-up links, link emails and reminders: checker.outreach),
    then send the outbox, again and again (Ctrl-C stops).

    A round the database fails is logged and tried again; the messages wait in the outbox.
    ``python -m checker.worker`` does the same without loading the web app.
    """
    run_outbox(once, every)


def run_outbox(once: bool, every: float) -> None:
    """The worker's rounds (see ``run_command``), in an app context; with ``once``, a database
    failure is raised for the caller to explain."""
    mailing, filing = patient_mail_configured(), bool(current_app.config["SMART_ISSUERS"])
    if not mailing:
        current_app.logger.warning("mail is not configured (CHECKER_MAIL_SERVER): nothing to send")
    if not mailing and not filing:
        return
    from .ehr.write_back import file_due
    from .outreach import run_due

    while True:
        try:
            sent = failed = 0
            if mailing:
                made, queued = run_due()
                if made or queued:
                    current_app.logger.info("made %d scheduled links, queued %d emails", made, queued)
                sent, failed = send_due()
            if filing:
                filed, not_filed = file_due()
                if filed or not_filed:
                    current_app.logger.info("filed %d checks in the EHR, %d not yet", filed, not_filed)
        except DBAPIError as exc:
            if once:
                raise
            db.session.rollback()
            current_app.logger.error("outbox round failed: %s", database_problem(exc))
        else:
            if sent or failed or once:
                current_app.logger.info("sent %d, failed %d", sent, failed)
            if once:
                return
        time.sleep(every)
