"""Email to the clinic through the configured SMTP server; quietly off when not configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale


def mail_configured() -> bool:
    config = current_app.config
    return bool(config["MAIL_SERVER"] and config["CLINIC_EMAIL"])


def clinic_language() -> Any:
    """A context in which gettext speaks the clinic's language (not the patient's)."""
    return force_locale(current_app.config["CLINIC_LANGUAGE"])


def notify_clinic(subject: str, body: str) -> bool:
    """Send a short notice to the clinic; True when sent. Never raises: a failure is logged."""
    if not mail_configured():
        return False
    config = current_app.config
    message = EmailMessage()
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=urlsplit(str(config["BASE_URL"])).hostname or None)
    message["Subject"] = subject
    message["From"] = config["MAIL_FROM"] or config["CLINIC_EMAIL"]
    message["To"] = config["CLINIC_EMAIL"]
    message.set_content(body)
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=10) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        current_app.logger.warning("could not send the clinic's notice: %s", type(exc).__name__)
        return False
    return True
