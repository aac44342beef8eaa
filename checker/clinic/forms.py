"""Staff forms."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..cases import clinic_zone
from ..db import utcnow
from ..questionnaire.consultation import email_address
from ..web.security import Form
from .accounts.staff import MAX_PASSWORD_LENGTH


class SignInForm(Form):
    email = EmailField(_l("Email address"), validators=[InputRequired(_l("Enter your email address")), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[InputRequired(_l("Enter your password")), Length(max=MAX_PASSWORD_LENGTH)]
    )


class CodeForm(Form):
    code = StringField(
        _l("Code"),
        description=_l("The 6-digit code your authenticator app shows now, or one of your recovery codes."),
        validators=[InputRequired(_l("Enter the code from your app")), Length(max=20)],
    )


class WholeNumberField(IntegerField):  # type: ignore[misc]
    """An integer field whose error for text that is not a number is in plain words."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("Enter a whole number, like 30")) from None


def _link_days() -> WholeNumberField:
    return WholeNumberField(
        _l("Days the link stays valid"),
        default=30,
        validators=[
            InputRequired(_l("Enter how many days the link stays valid")),
            NumberRange(min=1, max=365, message=_l("Enter a number of days from 1 to 365")),
        ],
    )


def _reference(label: str | LazyString) -> StringField:
    return StringField(
        label,
        description=_l(
            "Your clinic's own reference for this patient, such as a record number. Not a name. "
            "One reference is one patient: a link for a reference already in use joins that case."
        ),
        validators=[Optional(), Length(max=40, message=_l("Write 40 characters or fewer"))],
    )


class ReferenceForm(Form):
    reference = _reference(_l("Patient reference"))


class MergeForm(Form):
    other = StringField(
        _l("The other case's number or patient reference"),
        description=_l(
            "Its links, self-checks, requests, notes, events and gradings move to this case. Its links keep working."
        ),
        validators=[
            InputRequired(_l("Enter the other case's number or patient reference")),
            Length(max=40, message=_l("Write 40 characters or fewer")),
        ],
    )


def _patient_email() -> StringField:
    return StringField(
        _l("Patient's email address (optional)"),
        description=_l(
            "The app sends the link to this address, with reminders if it is not answered. "
            "The email names the clinic and nothing about the patient's health."
        ),
        validators=[Optional(), Length(max=254, message=_l("Write 254 characters or fewer")), email_address],
    )


def _language() -> SelectField:
    return SelectField(
        _l("Language of the emails"),
        choices=[SelectChoice("en", "English"), SelectChoice("es", "Español")],
        default="en",
    )


class ContactForm(Form):
    email = _patient_email()
    language = _language()


class InvitationForm(Form):
    reference = _reference(_l("Patient reference (optional)"))
    email = _patient_email()
    language = _language()
    label = StringField(
        _l("Label (optional)"),
        description=_l('Something to recognise it by, such as the appointment: "Tue 3 Dec, 10:30". Avoid names.'),
        validators=[Optional(), Length(max=80, message=_l("Write 80 characters or fewer"))],
    )
    days = _link_days()


class ActionForm(Form):
    """A button that changes something: only its CSRF token."""


class FollowUpForm(Form):
    days = _link_days()
    by_email = BooleanField(_l("Send it by email to the address on this case"))


class ScheduleForm(Form):
    kind = RadioField(
        _l("When"),
        choices=[
            SelectChoice("every", _l("Every few weeks")),
            SelectChoice("after", _l("At set weeks after each recorded event")),
        ],
        default="every",
        validators=[InputRequired(_l("Choose when"))],
    )
    every_weeks = StringField(_l("Every how many weeks"), default="12")
    after_event = SelectField(
        _l("After each"),
        choices=[
            SelectChoice("toxin", _l("Botulinum toxin session")),
            SelectChoice("operation", _l("Operation")),
            SelectChoice("other", _l("Other event")),
        ],
        default="toxin",
    )
    offsets = StringField(
        _l("Weeks after the event"),
        description=_l('For example "2, 10": a link 2 weeks and 10 weeks after each session.'),
        default="2, 10",
        validators=[Optional(), Length(max=40, message=_l("Write 40 characters or fewer"))],
    )
    days = _link_days()

    def validate_every_weeks(self, field: StringField) -> None:
        text = (field.data or "").strip()
        if self.kind.data != "every":
            return
        if not text:
            raise ValidationError(_l("Enter every how many weeks, like 12"))
        if not (text.isdigit() and len(text) < 4 and 1 <= int(text) <= 104):
            raise ValidationError(_l("Enter a number of weeks from 1 to 104"))

    def weeks_apart(self) -> int:
        return int((self.every_weeks.data or "").strip())

    def validate_offsets(self, field: StringField) -> None:
        if self.kind.data != "after":
            return
        parts = [part.strip() for part in (field.data or "").replace(";", ",").split(",") if part.strip()]
        if not parts or not all(part.isdigit() and 1 <= int(part) <= 104 for part in parts) or len(parts) > 6:
            raise ValidationError(_l("Enter up to 6 numbers of weeks from 1 to 104, like 2, 10"))
        field.data = ", ".join(str(n) for n in sorted({int(part) for part in parts}))

    def weeks_after(self) -> list[int]:
        return [int(part) for part in (self.offsets.data or "").split(",") if part.strip()]


class EventForm(Form):
    kind = SelectField(
        _l("What happened"),
        choices=[
            SelectChoice("toxin", _l("Botulinum toxin session")),
            SelectChoice("operation", _l("Operation")),
            SelectChoice("other", _l("Other event")),
        ],
        validators=[InputRequired(_l("Choose what happened"))],
    )
    on = DateField(
        _l("Date"),
        description=_l("A planned session can be recorded ahead of time."),
        validators=[InputRequired(_l("Enter the date, like 2026-03-14"))],
        invalid_value_message=_l("Enter the date as year-month-day, like 2026-03-14"),
    )
    note = StringField(
        _l("Note (optional)"),
        description=_l('For example "left side, 30 units". Avoid names.'),
        validators=[Optional(), Length(max=80, message=_l("Write 80 characters or fewer"))],
    )

    def validate_on(self, field: DateField) -> None:
        today = date.today()
        earliest, latest = today - timedelta(days=30 * 365), today + timedelta(days=2 * 366)
        if field.data is not None and not earliest <= field.data <= latest:
            raise ValidationError(_l("Enter a date within the last 30 years or the next 2 years"))


class GradingForm(Form):
    """What every grading records beside its items (checker.grading checks those)."""

    side = RadioField(
        _l("Affected side"),
        choices=[SelectChoice("left", _l("Left")), SelectChoice("right", _l("Right"))],
        validators=[InputRequired(_l("Choose the affected side"))],
    )
    visit_on = DateField(
        _l("Date of the visit"),
        description=_l("The day the face was graded: today, or an earlier visit."),
        validators=[InputRequired(_l("Enter the date, like 2026-03-14"))],
        invalid_value_message=_l("Enter the date as year-month-day, like 2026-03-14"),
    )
    notes = TextAreaField(
        _l("Notes (optional)"),
        validators=[Optional(), Length(max=2000, message=_l("Write 2000 characters or fewer"))],
    )

    def validate_visit_on(self, field: DateField) -> None:
        today = utcnow().astimezone(clinic_zone()).date()
        if field.data is not None and not today - timedelta(days=30 * 365) <= field.data <= today:
            raise ValidationError(_l("Enter a date within the last 30 years, and not after today"))


class AmendGradingForm(GradingForm):
    reason = TextAreaField(
        _l("Why it is amended"),
        description=_l("For example: the synkinesis of the smile was graded on the wrong side."),
        validators=[
            InputRequired(_l("Say why the grading is amended")),
            Length(max=500, message=_l("Write 500 characters or fewer")),
        ],
    )
    based_on = HiddenField()  # the version the form was opened on: another amendment since is refused


class NoteForm(Form):
    text = TextAreaField(
        _l("Add a note"),
        description=_l("Only staff see notes. They are kept with the case."),
        validators=[
            InputRequired(_l("Write the note")),
            Length(max=2000, message=_l("Write 2000 characters or fewer")),
        ],
    )


class AssignForm(Form):
    staff = SelectField(_l("Assigned to"), coerce=int, validate_choice=True)


class NewAccountForm(Form):
    email = EmailField(_l("Email address"), validators=[InputRequired(_l("Enter an email address")), Length(max=254)])
    role = RadioField(
        _l("Role"),
        choices=[
            SelectChoice("staff", _l("Staff: invitations and the inbox")),
            SelectChoice("admin", _l("Admin: also staff accounts and the audit log")),
        ],
        default="staff",
        validators=[InputRequired(_l("Choose a role"))],
    )


class SetPasswordForm(Form):
    password = PasswordField(
        _l("New password"),
        description=_l("12 characters or more. A few unrelated words are easy to remember and hard to guess."),
        validators=[InputRequired(_l("Enter a password"))],
    )
    again = PasswordField(_l("The same password again"), validators=[InputRequired(_l("Enter the password again"))])
