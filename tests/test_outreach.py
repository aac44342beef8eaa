"""The app reaching patients: links it emails (through a real SMTP server), reminders that stop
once the patient sends, follow-up schedules run with a frozen clock, and two schedulers at once
(SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from email.message import Message
from functools import partial
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from checker.cases import clinic_zone
from checker.db import db, utcnow
from checker.engine import RuleSet
from checker.models import AuditEvent, Case, FollowUpSchedule, Invitation, LinkEmail, OutboxMessage
from checker.outreach import run_due

from .conftest import BASE_URL_OF_MAILING, Inbox, at_once, csrf_token, deliver, make_staff, sign_in, walk
from .test_clinic import text_of
from .test_reports_and_fhir import NINE_MONTHS

HEALTH_WORDS = re.compile(
    r"synkines|sincines|palsy|parálisis|paralysis|weak|debilidad|stroke|derrame|toxin|botul|eye|ojo|SAQ|MRN",
    re.IGNORECASE,
)


def staff_client(app: Flask) -> FlaskClient:
    make_staff(app)
    client = app.test_client()
    sign_in(client)
    return client


def invite_by_email(staff: FlaskClient, email: str = "ana@example.org", language: str = "es", **extra: str) -> int:
    page = text_of(staff.get("/staff/invitations"))
    made = staff.post(
        "/staff/invitations",
        data={"csrf_token": csrf_token(page), "reference": "MRN-55", "email": email, "language": language,
              "days": "30", **extra},
    )  # fmt: skip
    assert made.status_code == 302, text_of(made)[:2000]
    return int(made.headers["Location"].rsplit("/", 1)[1])


def link_in(message: Message) -> str:
    body = message.get_payload(decode=True).decode()
    found = re.search(re.escape(BASE_URL_OF_MAILING) + r"(/i/[A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


def body_of(message: Message) -> str:
    return str(message.get_payload(decode=True).decode())


def test_an_emailed_link_arrives_once_in_the_patients_language_with_no_health_content(
    mailing: tuple[Flask, Inbox], rules: RuleSet
) -> None:
    app, inbox = mailing
    staff = staff_client(app)
    invitation_id = invite_by_email(staff)
    page = text_of(staff.get(f"/staff/invitations/{invitation_id}"))
    assert "The app emails this link to the patient" in page
    assert 'id="invitation-link"' not in page  # staff never see an emailed link
    with app.app_context():
        queued = db.session.scalars(select(OutboxMessage)).all()
        assert len(queued) == 1
        assert queued[0].body == ""  # the outbox never holds the link, nor the address
    assert deliver(app) == (1, 0)
    assert deliver(app) == (0, 0)  # once
    (message,) = inbox.messages
    assert message["To"] == "ana@example.org"
    assert message["Subject"] == "Facial Nerve Clinic: un cuestionario breve antes de su consulta"
    body = body_of(message)
    assert "Hola" in body
    assert "555 0100" in body
    assert not HEALTH_WORDS.search(body.replace("Facial Nerve Clinic", "")), body
    # The link works: the patient lands on the clinic's welcome page and can answer.
    patient = app.test_client()
    assert patient.get(link_in(message)).status_code == 200
    page = text_of(staff.get(f"/staff/invitations/{invitation_id}?lang=en"))
    assert re.search(r"Invitation:\s*sent \d+ \w+ \d{4}", page)
    # The address is never written to the audit log.
    with app.app_context():
        assert not any("ana@example.org" in e.target for e in db.session.scalars(select(AuditEvent)))


def test_reminders_go_at_the_set_days_and_stop_once_the_patient_sends(
    mailing: tuple[Flask, Inbox], rules: RuleSet
) -> None:
    app, inbox = mailing
    staff = staff_client(app)
    invitation_id = invite_by_email(staff, language="en")
    assert deliver(app) == (1, 0)
    start = utcnow()
    with app.app_context():
        assert run_due(start + timedelta(days=2)) == (0, 0)  # not yet
        assert run_due(start + timedelta(days=3, minutes=1)) == (0, 1)  # the first reminder
        assert run_due(start + timedelta(days=3, minutes=2)) == (0, 0)  # once
    assert deliver(app) == (1, 0)
    reminder = inbox.messages[-1]
    assert reminder["Subject"] == "Reminder from Facial Nerve Clinic: your questionnaire"
    assert "not finished yet" in body_of(reminder)
    # The patient answers from the reminder's link and sends.
    patient = app.test_client()
    link = link_in(reminder)
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    walk(patient, rules, NINE_MONTHS["answers"])
    assert patient.post("/send", data={"csrf_token": csrf_token(text_of(patient.get("/check-answers")))}).status_code
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).used_at is not None  # type: ignore[union-attr]
        assert run_due(start + timedelta(days=8)) == (0, 0)  # no second reminder
    sent_before = len(inbox.messages)
    deliver(app)
    assert [m for m in inbox.messages[sent_before:] if m["To"] == "ana@example.org"] == []
    page = text_of(staff.get(f"/staff/invitations/{invitation_id}"))
    assert re.search(r"Reminder 1:\s*sent", page)
    assert "Reminder 2" not in page


def test_a_reminder_queued_before_the_patient_sends_is_not_sent(mailing: tuple[Flask, Inbox], rules: RuleSet) -> None:
    app, inbox = mailing
    staff = staff_client(app)
    invitation_id = invite_by_email(staff, language="en")
    assert deliver(app) == (1, 0)
    link = link_in(inbox.messages[-1])
    with app.app_context():
        assert run_due(utcnow() + timedelta(days=4)) == (0, 1)
    patient = app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    walk(patient, rules, NINE_MONTHS["answers"])
    patient.post("/send", data={"csrf_token": csrf_token(text_of(patient.get("/check-answers")))})
    count = len(inbox.messages)
    deliver(app)
    assert [m for m in inbox.messages[count:] if m["To"] == "ana@example.org"] == []
    with app.app_context():
        reminder = db.session.scalar(select(LinkEmail).where(LinkEmail.number == 1))
        assert reminder is not None
        assert (reminder.sent_at, reminder.dropped) == (None, "no longer needed")
        waiting = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        assert db.session.scalar(waiting) == 0
    assert "not sent: the link was answered" in text_of(staff.get(f"/staff/invitations/{invitation_id}"))


def _schedule_after_toxin(app: Flask, staff: FlaskClient, toxin_on: date, email: str = "") -> int:
    page = text_of(staff.get("/staff/invitations"))
    staff.post("/staff/invitations", data={"csrf_token": csrf_token(page), "reference": "MRN-SCHED", "days": "30"})
    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.reference == "MRN-SCHED"))
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    token = csrf_token(page)
    event = {"csrf_token": token, "kind": "toxin", "on": toxin_on.isoformat()}
    staff.post(f"/staff/cases/{case_id}/events", data=event)
    if email:
        staff.post(f"/staff/cases/{case_id}/contact", data={"contact-csrf_token": _prefixed(page, "contact"),
                   "contact-email": email, "contact-language": "en"})  # fmt: skip
    made = staff.post(
        f"/staff/cases/{case_id}/schedules",
        data={"schedule-csrf_token": _prefixed(page, "schedule"), "schedule-kind": "after",
              "schedule-after_event": "toxin", "schedule-offsets": "10, 2", "schedule-days": "21"},
    )  # fmt: skip
    assert "Schedule saved." in text_of(staff.get(made.headers["Location"]))
    return int(case_id)


def _prefixed(page: str, prefix: str) -> str:
    found = re.search(rf'name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, prefix
    return found.group(1)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), clinic_zone()).astimezone(UTC)


def test_a_schedule_two_and_ten_weeks_after_a_toxin_session_makes_links_due_on_those_dates(
    db_app: Flask, rules: RuleSet
) -> None:
    staff = staff_client(db_app)
    session = date.today() + timedelta(days=3)  # a planned session
    case_id = _schedule_after_toxin(db_app, staff, session)
    two, ten = session + timedelta(weeks=2), session + timedelta(weeks=10)
    with db_app.app_context():
        assert run_due(_noon(two - timedelta(days=1))) == (0, 0)
        assert run_due(_noon(two)) == (1, 0)
        assert run_due(_noon(two + timedelta(days=1))) == (0, 0)
        assert run_due(_noon(ten - timedelta(days=1))) == (0, 0)
        assert run_due(_noon(ten)) == (1, 0)
        assert run_due(_noon(ten + timedelta(days=30))) == (0, 0)
        links = db.session.scalars(
            select(Invitation).where(Invitation.case_id == case_id, Invitation.schedule_id.is_not(None))
        ).all()
        assert [link.due_key for link in links] == [two.isoformat(), ten.isoformat()]
        assert all(link.follow_up and not link.by_email and link.link_seed for link in links)
        assert [link.expires_at.astimezone(clinic_zone()).date() for link in links] == [
            two + timedelta(days=21),
            ten + timedelta(days=21),
        ]
    # Staff see the scheduled links on the case and, with no email address to send them to, on
    # the worklist until someone opens the link's page, where the link is shown once.
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert page.count("Scheduled follow-up, due") == 2
    assert text_of(staff.get("/staff/worklist")).count("worklist__item--to_send") == 2
    first = text_of(staff.get(f"/staff/invitations/{links[0].id}"))
    assert 'id="invitation-link"' in first
    assert 'id="invitation-link"' not in text_of(staff.get(f"/staff/invitations/{links[0].id}"))
    assert text_of(staff.get("/staff/worklist")).count("worklist__item--to_send") == 1
    with db_app.app_context():
        schedule_id = db.session.scalar(select(FollowUpSchedule.id))
    staff.post(f"/staff/schedules/{schedule_id}/stop", data={"csrf_token": csrf_token(page)})
    later = session + timedelta(weeks=20)
    staff.post(f"/staff/cases/{case_id}/events", data={"csrf_token": csrf_token(page), "kind": "toxin",
               "on": later.isoformat()})  # fmt: skip
    with db_app.app_context():
        assert run_due(_noon(later + timedelta(weeks=2))) == (0, 0)


def test_every_few_weeks_makes_one_link_for_the_latest_due_date(db_app: Flask) -> None:
    staff = staff_client(db_app)
    page = text_of(staff.get("/staff/invitations"))
    staff.post("/staff/invitations", data={"csrf_token": csrf_token(page), "reference": "MRN-EVERY", "days": "30"})
    with db_app.app_context():
        case_id = db.session.scalar(select(Case.id))
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    for bad, error in [
        ({"schedule-kind": "every", "schedule-every_weeks": ""}, "Enter every how many weeks"),
        ({"schedule-kind": "every", "schedule-every_weeks": "0"}, "Enter a number of weeks from 1 to 104"),
        ({"schedule-kind": "after", "schedule-offsets": "two"}, "Enter up to 6 numbers of weeks"),
        ({"schedule-kind": "after", "schedule-offsets": "1,2,3,4,5,6,7"}, "Enter up to 6 numbers of weeks"),
        ({"schedule-kind": "weekly"}, "Not a valid choice"),
    ]:
        refused = staff.post(
            f"/staff/cases/{case_id}/schedules",
            data={"schedule-csrf_token": _prefixed(page, "schedule"), "schedule-days": "30", **bad},
        )
        assert error in text_of(staff.get(refused.headers["Location"])), bad
    staff.post(
        f"/staff/cases/{case_id}/schedules",
        data={"schedule-csrf_token": _prefixed(page, "schedule"), "schedule-kind": "every",
              "schedule-every_weeks": "4", "schedule-days": "14"},
    )  # fmt: skip
    with db_app.app_context():
        today = datetime.now(clinic_zone()).date()
        assert db.session.scalar(select(func.count()).select_from(FollowUpSchedule)) == 1
        assert run_due(_noon(today + timedelta(weeks=4))) == (1, 0)
        assert run_due(_noon(today + timedelta(weeks=5))) == (0, 0)
        assert run_due(_noon(today + timedelta(weeks=21))) == (1, 0)  # weeks 8 to 20 were missed: one link, not four
        keys = db.session.scalars(select(Invitation.due_key).where(Invitation.due_key.is_not(None))).all()
        assert sorted(keys) == [(today + timedelta(weeks=4)).isoformat(), (today + timedelta(weeks=20)).isoformat()]


def test_two_schedulers_at_once_make_each_link_and_email_once(mailing: tuple[Flask, Inbox]) -> None:
    app, inbox = mailing
    staff = staff_client(app)
    session = date.today() + timedelta(days=1)
    _schedule_after_toxin(app, staff, session, email="bo@example.org")
    with app.app_context():
        due = _noon(session + timedelta(weeks=2))

    def scheduler(_: Any = None) -> tuple[int, int]:
        with app.app_context():
            return run_due(due)

    results = at_once([partial(scheduler) for _ in range(2)])
    assert sorted(made for made, _ in results) == [0, 1]
    with app.app_context():
        scheduled = select(func.count()).select_from(Invitation).where(Invitation.schedule_id.is_not(None))
        assert db.session.scalar(scheduled) == 1
        assert db.session.scalar(select(func.count()).select_from(LinkEmail)) == 1
    assert sum(queued for _, queued in results) == 1
    assert deliver(app) == (1, 0)
    assert [m["To"] for m in inbox.messages] == ["bo@example.org"]
    assert "a short questionnaire" in body_of(inbox.messages[0])


def test_contact_details_are_checked_and_the_address_is_never_audited(db_app: Flask) -> None:
    staff = staff_client(db_app)
    page = text_of(staff.get("/staff/invitations"))
    staff.post("/staff/invitations", data={"csrf_token": csrf_token(page), "reference": "MRN-C", "days": "30"})
    with db_app.app_context():
        case_id = db.session.scalar(select(Case.id))
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    token = _prefixed(page, "contact")
    for bad, error in [
        ({"contact-email": "not an address", "contact-language": "en"}, "Enter an email address"),
        ({"contact-email": "a@b.example", "contact-language": "fr"}, "Not a valid choice"),
    ]:
        refused = staff.post(f"/staff/cases/{case_id}/contact", data={"contact-csrf_token": token, **bad})
        assert error in text_of(staff.get(refused.headers["Location"]))
    staff.post(f"/staff/cases/{case_id}/contact", data={"contact-csrf_token": token,
               "contact-email": "Ana@Example.ORG", "contact-language": "es"})  # fmt: skip
    with db_app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        assert (case.email, case.language) == ("Ana@example.org", "es")
        changes = select(AuditEvent.target).where(AuditEvent.action == "changed contact")
        targets = list(db.session.scalars(changes))
        assert targets == [f"case {case_id} (email set)"]
    # Without a mail server, a link cannot be emailed: said plainly, nothing made.
    page = text_of(staff.get("/staff/invitations"))
    refused = staff.post("/staff/invitations", data={"csrf_token": csrf_token(page), "email": "x@example.org",
                         "language": "en", "days": "30"})  # fmt: skip
    assert refused.status_code == 422
    assert "no mail server set up" in text_of(refused)
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


def test_the_address_is_kept_only_while_a_link_or_schedule_needs_it(
    mailing: tuple[Flask, Inbox], rules: RuleSet
) -> None:
    from checker.retention import purge

    app, inbox = mailing
    staff = staff_client(app)
    invitation_id = invite_by_email(staff, language="en")
    deliver(app)
    with app.app_context():
        purge(utcnow())
        case = db.session.scalar(select(Case))
        assert case is not None
        assert case.email == "ana@example.org"  # the link is open: reminders may still go
    patient = app.test_client()
    link = link_in(inbox.messages[-1])
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    walk(patient, rules, NINE_MONTHS["answers"])
    patient.post("/send", data={"csrf_token": csrf_token(text_of(patient.get("/check-answers")))})
    with app.app_context():
        counts = purge(utcnow())
        assert counts["emailed links' seeds"] == 1
        assert counts["patient email addresses"] == 1
        case = db.session.scalar(select(Case))
        invitation = db.session.get(Invitation, invitation_id)
        assert case is not None
        assert invitation is not None
        assert (case.email, invitation.mail_seed) == (None, None)


def upload(staff: FlaskClient, content: bytes, days_before: str = "7") -> Any:
    from io import BytesIO

    page = text_of(staff.get("/staff/invitations/import"))
    return staff.post(
        "/staff/invitations/import",
        data={"csrf_token": csrf_token(page), "days_before": days_before, "file": (BytesIO(content), "list.csv")},
        content_type="multipart/form-data",
    )


def _when(app: Flask, days: int, hour: int = 9) -> str:
    with app.app_context():
        return (datetime.now(clinic_zone()) + timedelta(days=days)).strftime(f"%Y-%m-%d {hour:02d}:30")


def test_a_clinic_list_imports_every_line_and_emails_each_in_time(mailing: tuple[Flask, Inbox]) -> None:
    app, inbox = mailing
    staff = staff_client(app)
    page = text_of(staff.get("/staff/invitations"))
    staff.post("/staff/invitations", data={"csrf_token": csrf_token(page), "reference": "MRN-1", "days": "30"})
    soon, later = _when(app, 3), _when(app, 20, 14)
    content = (
        "\ufeffreference,email,language,appointment\r\n"  # a spreadsheet's UTF-8 with its BOM
        f"mrn-1,ana@example.org,es,{soon}\r\n"
        f"MRN-2,Bo@Example.org,,{later}\r\n"
    ).encode()
    done = upload(staff, content)
    assert done.status_code == 302
    told = text_of(staff.get(done.headers["Location"]))
    assert "2 invitations made: 1 emailed now, 1 due before their appointments." in told
    with app.app_context():
        cases = {c.reference: c for c in db.session.scalars(select(Case))}
        assert sorted(cases) == ["MRN-1", "MRN-2"]  # mrn-1 joined the case already there
        assert (cases["MRN-1"].email, cases["MRN-1"].language) == ("ana@example.org", "es")
        emailed = db.session.scalars(select(Invitation).where(Invitation.by_email.is_(True))).all()
        assert len(emailed) == 2
        late = next(i for i in emailed if i.case_id == cases["MRN-2"].id)
        assert late.appointment_at is not None
        assert late.send_at is not None
        assert late.send_at.astimezone(clinic_zone()).strftime("%Y-%m-%d %H:%M") == _when(app, 13, 14)
        assert late.expires_at >= late.appointment_at  # the link works until the visit
    assert deliver(app) == (1, 0)
    assert [m["To"] for m in inbox.messages] == ["ana@example.org"]
    assert "Su cita:" in body_of(inbox.messages[0])
    with app.app_context():
        assert run_due(utcnow() + timedelta(days=14))[1] == 1
    deliver(app)
    assert "Bo@example.org" in [m["To"] for m in inbox.messages]  # the domain in lower case, as email-validator has it


def test_a_clinic_list_with_a_bad_line_imports_nothing_and_names_the_line(mailing: tuple[Flask, Inbox]) -> None:
    app, _inbox = mailing
    staff = staff_client(app)
    good = _when(app, 10)
    content = (
        "reference,email,language,appointment\n"
        f"MRN-1,ana@example.org,es,{good}\n"
        f"MRN-2,not-an-address,en,{good}\n"
        "MRN-3,cy@example.org,fr,15/12/2026\n"
        f"mrn-1,dee@example.org,en,{good}\n"
        f"MRN-5,eve@example.org,en\n"
    ).encode()
    refused = upload(staff, content)
    assert refused.status_code == 422
    page = text_of(refused)
    assert "Nothing was imported" in page
    assert "Line 3: the email address is not valid." in page
    assert "Line 4: the language must be one of: en, es; the appointment must be a date and time like" in page
    assert "Line 5: the same patient reference is on an earlier line." in page
    assert "Line 6: has 3 values, not 4." in page
    assert "Line 2:" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
    header = b"reference,email,language,appointment\n"
    for content, error in [
        (b"", "The file is empty."),
        (b"name,mail\nx,y\n", "Line 1 must name the columns: reference,email,language,appointment."),
        ("reference,email,language,appointment\nMRN-1,a@b.example,en,2026-12-15 09:30\n".encode("utf-16"), "not UTF-8"),
        (header + b"MRN-1,a@b.example,en,2020-01-01 09:30\n", "within the next year"),
        (header + b"x,a@b.example,en,2030-01-01 09:30\n" * 501, "more than 500"),
    ]:
        refused = upload(staff, content)
        assert refused.status_code in (413, 422), error
        if refused.status_code == 422:
            assert error in text_of(refused), error
    page = text_of(staff.get("/staff/invitations/import"))
    no_file = staff.post("/staff/invitations/import", data={"csrf_token": csrf_token(page), "days_before": "7"})
    assert no_file.status_code == 422
    assert "Choose a CSV file" in text_of(no_file)
    assert "Enter a whole number" in text_of(upload(staff, b"x", days_before="lots"))


def test_a_new_link_in_place_of_an_emailed_one_is_emailed_too(mailing: tuple[Flask, Inbox]) -> None:
    app, inbox = mailing
    staff = staff_client(app)
    old = invite_by_email(staff, language="en")
    page = text_of(staff.get(f"/staff/invitations/{old}"))
    replaced = staff.post(f"/staff/invitations/{old}/resend", data={"csrf_token": csrf_token(page)})
    new = int(replaced.headers["Location"].rsplit("/", 1)[1])
    assert new != old
    assert "The app emails this link to the patient" in text_of(staff.get(replaced.headers["Location"]))
    assert deliver(app) == (1, 0)  # the new link's email; the old one's was dropped: it is revoked
    with app.app_context():
        first = db.session.scalar(select(LinkEmail).where(LinkEmail.invitation_id == old))
        assert first is not None
        assert first.dropped == "no longer needed"
    assert [m["To"] for m in inbox.messages] == ["ana@example.org"]
    assert link_in(inbox.messages[0]) != ""


def test_two_outbox_worker_processes_make_a_due_link_and_send_its_email_once(
    mailing: tuple[Flask, Inbox], database_url: str
) -> None:
    """Two real 'flask outbox run --once' processes at the same moment, as two deployed workers."""
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    app, inbox = mailing
    staff = staff_client(app)
    with app.app_context():
        today = datetime.now(clinic_zone()).date()
    _schedule_after_toxin(app, staff, today - timedelta(weeks=2), email="cy@example.org")  # due today
    config = app.config
    env = {
        **os.environ,
        "CHECKER_DATABASE_URL": database_url,
        "CHECKER_SECRET_KEY": config["SECRET_KEY"],
        "CHECKER_MAIL_SERVER": "127.0.0.1",
        "CHECKER_MAIL_PORT": str(config["MAIL_PORT"]),
        "CHECKER_BASE_URL": config["BASE_URL"],
        "CHECKER_CLINIC_EMAIL": config["CLINIC_EMAIL"],
    }
    command = [sys.executable, "-m", "flask", "--app", "checker", "outbox", "run", "--once"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]  # fmt: skip
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    with app.app_context():
        scheduled = select(func.count()).select_from(Invitation).where(Invitation.schedule_id.is_not(None))
        assert db.session.scalar(scheduled) == 1
        assert db.session.scalar(select(func.count()).select_from(LinkEmail)) == 1
    assert [m["To"] for m in inbox.messages] == ["cy@example.org"]
