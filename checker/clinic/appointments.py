"""Invitations for a clinic list: a CSV of appointments, each line a patient the app emails a
link to a set number of days before their visit. Every line is checked first; one bad line
imports nothing and is named, with what is wrong."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms.validators import InputRequired, NumberRange

from ..cases import clinic_zone, reference_key
from ..db import db, utcnow
from ..mail import normal_address, patient_mail_configured
from ..web.security import Form
from .blueprint import bp
from .forms import WholeNumberField
from .records import audit, invite

COLUMNS = ("reference", "email", "language", "appointment")
MOST_LINES = 500
APPOINTMENT_FORMAT = "%Y-%m-%d %H:%M"  # in the clinic's time zone


class ImportForm(Form):
    file = FileField(_l("CSV file of appointments"), validators=[FileRequired(_l("Choose a CSV file"))])
    days_before = WholeNumberField(
        _l("Send each invitation this many days before the appointment"),
        validators=[
            InputRequired(_l("Enter a number of days")),
            NumberRange(min=0, max=90, message=_l("Enter a number of days from 0 to 90")),
        ],
    )


@dataclass(frozen=True)
class Appointment:
    line: int
    reference: str
    email: str
    language: str
    at: datetime


def read_appointments(data: bytes, now: datetime) -> tuple[list[Appointment], list[str]]:
    """The file's appointments, or what is wrong with it, line by line (nothing is half-read)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [_("The file is not UTF-8 text. Save it from your spreadsheet as CSV UTF-8.")]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return [], [_("The file is empty.")]
    header = [cell.strip().lower() for cell in rows[0]]
    if header != list(COLUMNS):
        return [], [_("Line 1 must name the columns: %(columns)s.", columns=",".join(COLUMNS))]
    if len(rows) - 1 > MOST_LINES:
        return [], [_("The file has more than %(most)s appointments. Split it into smaller files.", most=MOST_LINES)]
    found, problems, seen = [], [], set()
    zone, languages = clinic_zone(), current_app.config["LANGUAGES"]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS):
            problems.append(_("Line %(line)s: has %(count)s values, not 4.", line=line, count=len(row)))
            continue
        reference, email, language, when = (cell.strip() for cell in row)
        language = language.lower() or "en"
        wrong = []
        if not reference or len(reference) > 40:
            wrong.append(_("a patient reference of 1 to 40 characters is needed"))
        elif reference_key(reference) in seen:
            wrong.append(_("the same patient reference is on an earlier line"))
        email = normal_address(email) or ""
        if not email:
            wrong.append(_("the email address is not valid"))
        if language not in languages:
            wrong.append(_("the language must be one of: %(languages)s", languages=", ".join(languages)))
        try:
            at = datetime.strptime(when, APPOINTMENT_FORMAT).replace(tzinfo=zone)
        except ValueError:
            wrong.append(_("the appointment must be a date and time like 2026-12-15 09:30"))
        else:
            if not now < at <= now + timedelta(days=366):
                wrong.append(_("the appointment must be within the next year"))
        if wrong:
            problems.append(_("Line %(line)s: %(problems)s.", line=line, problems="; ".join(wrong)))
        else:
            seen.add(reference_key(reference))
            found.append(Appointment(line, reference, email, language, at))
    return found, problems


@bp.route("/invitations/import", methods=["GET", "POST"])
def import_appointments() -> Response | tuple[str, int]:
    """Upload a clinic list; every line checked, then all imported in one transaction, or none."""
    form = ImportForm()
    problems: list[str] = []
    if not form.is_submitted():
        form.days_before.data = current_app.config["INVITE_DAYS_BEFORE"]
    elif not patient_mail_configured():
        problems = [_("This clinic has no mail server set up, so the app cannot send email.")]
    elif form.validate():
        now = utcnow()
        appointments, problems = read_appointments(form.file.data.read(MOST_LINES * 1000 + 1), now)
        if not problems:
            due_later = 0
            for item in appointments:
                send_at = max(now, item.at - timedelta(days=form.days_before.data))
                due_later += send_at > now
                days = max(1, (item.at - now).days + 1)  # the link works until the appointment
                label = _("Appointment %(when)s", when=item.at.strftime(APPOINTMENT_FORMAT))[:80]
                invite(label, days, current_user.id, item.reference, item.email, item.language, item.at, send_at, False)
            audit("imported appointments", f"{len(appointments)} invitations")
            db.session.commit()
            flash(
                _(
                    "%(count)s invitations made: %(now)s emailed now, %(later)s due before their appointments.",
                    count=len(appointments),
                    now=len(appointments) - due_later,
                    later=due_later,
                )
            )
            return redirect(url_for("clinic.invitations"))
        db.session.rollback()
    status = 422 if problems or form.errors else 200
    return render_template("clinic/import.html", form=form, problems=problems, columns=COLUMNS), status
