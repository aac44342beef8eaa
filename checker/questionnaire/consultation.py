"""Request a consultation from the result page: stored for the clinic with a reference."""

from __future__ import annotations

import re
import secrets

from flask import current_app, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..cases import new_case, refresh
from ..db import db, utcnow
from ..engine import AnswerErrors, assess
from ..mail import clinic_language, normal_address, queue_notice
from ..models import Case, ConsultationRequest, Submission
from ..rules import current_rules
from ..stored import new_submission
from ..urls import external_url
from ..web.limits import count_now
from ..web.security import Form
from .journey import CASE_KEY, SENT_KEY, saved_answers, saved_measure
from .views import bp

REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U
REFERENCE_KEY = "request_reference"
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{7,25}$")


def new_reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def _phone(form: FlaskForm, field: StringField) -> None:
    if field.data and (not _PHONE.match(field.data) or sum(c.isdigit() for c in field.data) < 7):
        raise ValidationError(_l("Enter a phone number, like 555 123 4567 or +1 555 123 4567"))


def email_address(form: FlaskForm, field: StringField) -> None:
    """An email address, normalised (email-validator); empty is left to the other validators."""
    if field.data:
        found = normal_address(field.data)
        if found is None:
            raise ValidationError(_l("Enter an email address, like name@example.com"))
        field.data = found


class ConsultationForm(Form):
    name = StringField(_l("Your name"), validators=[InputRequired(_l("Enter your name")), Length(max=120)])
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=40), _phone])
    email = StringField(_l("Email address"), validators=[Optional(), Length(max=254), email_address])
    contact_time = RadioField(
        _l("When is it best to contact you?"),
        choices=[
            SelectChoice("morning", _l("Morning")),
            SelectChoice("afternoon", _l("Afternoon")),
            SelectChoice("evening", _l("Evening")),
            SelectChoice("any", _l("Any time")),
        ],
        validators=[InputRequired(_l("Choose when it is best to contact you"))],
    )
    message = TextAreaField(
        _l("Anything you would like to tell us (optional)"),
        validators=[Optional(), Length(max=1000, message=_l("Write 1000 characters or fewer"))],
    )
    consent = BooleanField(validators=[InputRequired(_l("Check the box to agree, so the clinic can contact you"))])

    def validate(self, extra_validators: object = None) -> bool:
        valid: bool = super().validate(extra_validators)
        if not (self.phone.data or self.email.data) and not (self.phone.errors or self.email.errors):
            self.phone.errors = [_("Give a phone number or an email address, so the clinic can reach you")]
            valid = False
        return valid


def _case_and_check() -> tuple[Case, Submission | None]:
    """The case a request joins, and the self-check to attach to it.

    A check sent through a clinic's link brings its case. Otherwise the person's complete
    answers are stored with the request; a second request from the same browser joins the
    first one's case (and its check, when the answers are the same), so one person is one case.
    """
    sent = session.get(SENT_KEY)
    check = db.session.get(Submission, sent) if isinstance(sent, int) else None
    if check is not None and check.case is not None:
        return check.case, check
    earlier = session.get(CASE_KEY)
    case = (db.session.get(Case, earlier) if isinstance(earlier, int) else None) or new_case()
    if check is not None:
        check.case = case
        return case, check
    answers = saved_answers()
    try:
        result = assess(current_rules(), answers)
    except AnswerErrors:
        return case, None
    same = next((s for s in reversed(case.submissions) if s.answers == answers and s.invitation_id is None), None)
    if same is not None:
        return case, same
    measure = saved_measure()
    check = new_submission(answers, result, camera=measure.to_json() if measure else None)
    check.case = case
    return case, check


def _queue_notice(request_record: ConsultationRequest) -> None:
    db.session.flush()  # its id, for the link
    with clinic_language():
        subject = _("New consultation request %(reference)s", reference=request_record.reference)
        body = _(
            "A new consultation request is waiting in the staff inbox:\n%(url)s\n\n"
            "Sign in to see it. This email holds no personal details on purpose.",
            url=external_url("clinic.consultation_request", request_id=request_record.id),
        )
    queue_notice(subject, body)


@bp.route("/request-consultation", methods=["GET", "POST"])
def request_consultation() -> Response | tuple[str, int] | str:
    form = ConsultationForm()
    if form.validate_on_submit():
        # Only requests about to be stored count (correcting mistakes in the form never locks a
        # person out), and they count before they are stored.
        count_now("RATE_LIMIT_REQUESTS", "consultation requests")
        for _attempt in range(5):  # a clash of random references is rare; try another
            case, check = _case_and_check()
            request_record = ConsultationRequest(
                reference=new_reference(),
                name=form.name.data.strip(),
                phone=(form.phone.data or "").strip(),
                email=form.email.data or "",
                contact_time=form.contact_time.data,
                message=(form.message.data or "").strip(),
                consent_at=utcnow(),
            )
            request_record.submission = check
            request_record.case = case
            db.session.add(request_record)
            try:
                refresh(case, current_rules())
                _queue_notice(request_record)  # in the same transaction: stored and announced, or neither
                db.session.commit()
                break
            except IntegrityError:
                db.session.rollback()
        else:
            raise RuntimeError("could not find a free reference")
        current_app.logger.info("consultation request stored: %s", request_record.reference)
        session[REFERENCE_KEY] = request_record.reference
        session[CASE_KEY] = request_record.case_id
        return redirect(url_for("questionnaire.request_sent"))
    errors = [(field, field.errors[0]) for field in form if field.errors and field.name != "csrf_token"]
    status = 422 if errors else 200
    return render_template("questionnaire/consultation.html", form=form, errors=errors), status


@bp.get("/request-consultation/sent")
def request_sent() -> Response | str:
    reference = session.get(REFERENCE_KEY)
    if not reference:
        return redirect(url_for("questionnaire.request_consultation"))
    return render_template("questionnaire/consultation_sent.html", reference=reference)
