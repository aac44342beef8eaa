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
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from .db import DatabaseGroup, database_problem, db, utcnow
from .models import OutboxMessage

SMTP_TIMEOUT = 10
RETRY_FIRST_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def mail_configured() -> bool:
    config = current_app.config
    return bool(config["MAIL_SERVER"] and config["CLINIC_EMAIL"])


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


def _send(notice: OutboxMessage) -> None:
    """Send one notice now, as it was queued (its Message-ID and Date); raise on any failure."""
    config = current_app.config
    message = EmailMessage()
    message["Date"] = formatdate(notice.created_at.timestamp(), usegmt=True)
    message["Message-ID"] = notice.message_id
    message["Subject"] = notice.subject
    message["From"] = config["MAIL_FROM"] or config["CLINIC_EMAIL"]
    message["To"] = config["CLINIC_EMAIL"]
    message.set_content(notice.body)
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

    On PostgreSQL a message another worker is sending is skipped, so several workers never
    send one twice.
    """
    now = now or utcnow()
    sent = failed = 0
    if not mail_configured():
        return sent, failed
    for _ in range(limit):
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        message = db.session.scalar(query)
        if message is None:
            break
        try:
            _send(message)
        except (OSError, smtplib.SMTPException) as exc:
            message.attempts += 1
            message.next_attempt_at = utcnow() + retry_pause(message.attempts)
            message.last_error = type(exc).__name__
            failed += 1
            current_app.logger.warning("could not send outbox message %s: %s", message.id, type(exc).__name__)
        else:
            message.sent_at = utcnow()
            sent += 1
        db.session.commit()
        if message.sent_at is None:
            break  # the server is failing: the rest wait for the next round
    return sent, failed


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
    """The clinic's email notices."""


@outbox_group.command("run")
@click.option("--once", is_flag=True, help="Send what is due now, then stop.")
@click.option("--every", default=5.0, show_default=True, help="Seconds between rounds.")
@with_appcontext
def run_command(once: bool, every: float) -> None:
    """Send the notices in the outbox, again and again (Ctrl-C stops).

    A round the database fails is logged and tried again; the notices wait in the outbox.
    """
    if not mail_configured():
        click.echo("Mail is not configured (CHECKER_MAIL_SERVER, CHECKER_CLINIC_EMAIL): nothing to send.")
        return
    while True:
        try:
            sent, failed = send_due()
        except DBAPIError as exc:
            if once:
                raise
            db.session.rollback()
            current_app.logger.error("outbox round failed: %s", database_problem(exc))
        else:
            if sent or failed or once:
                click.echo(f"Sent {sent}, failed {failed}.")
            if once:
                return
        time.sleep(every)
