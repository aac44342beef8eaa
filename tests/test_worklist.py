"""The safety worklist: stops, advice for today never followed by the answers, links not opened
before an appointment, emails that failed; each gone once a named staff member acknowledges it."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from checker.db import db, utcnow
from checker.models import AuditEvent, Invitation, OutboxMessage

from .conftest import csrf_token, post_page
from .test_cases import make_case
from .test_clinic import text_of

SAFETY = {"rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no", "rf_progressive": "no"}


def worklist_count(staff: FlaskClient) -> int:
    found = re.search(r"Safety worklist <span class=\"count\">\((\d+)\)", text_of(staff.get("/staff/worklist")))
    assert found
    return int(found.group(1))


def acknowledge_all(staff: FlaskClient, kind: str) -> None:
    page = text_of(staff.get("/staff/worklist"))
    for target in re.findall(rf'action="/staff/worklist/{kind}/(\d+)"', page):
        assert staff.post(f"/staff/worklist/{kind}/{target}", data={"csrf_token": csrf_token(page)}).status_code == 302


def test_advice_for_today_never_sent_is_on_the_worklist_until_acknowledged(db_app: Flask, staff: FlaskClient) -> None:
    link = make_case(staff, reference="E-12")
    patient = db_app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    assert post_page(patient, "safety", {**SAFETY, "rf_eye": "yes"}).headers["Location"].startswith("/urgent")
    assert worklist_count(staff) == 1
    page = text_of(staff.get("/staff/worklist"))
    assert "Told to get care today, answers not sent" in page
    assert "E-12" in page
    assert "Safety worklist: 1 item to acknowledge" in text_of(staff.get("/staff/"))
    # A stop on another link joins it, most urgent first.
    stopped = make_case(staff, reference="S-1")
    other = db_app.test_client()
    other.post(stopped, data={"csrf_token": csrf_token(text_of(other.get(stopped)))})
    assert post_page(other, "safety", {"rf_stroke_signs": "yes"}).headers["Location"] == "/emergency"
    page = text_of(staff.get("/staff/worklist"))
    assert worklist_count(staff) == 2
    assert page.index("S-1") < page.index("E-12")
    acknowledge_all(staff, "flags")
    assert worklist_count(staff) == 1
    assert "E-12" not in text_of(staff.get("/staff/worklist"))
    with db_app.app_context():
        invitation = db.session.scalar(select(Invitation).where(Invitation.flagged_at.is_not(None)))
        assert invitation is not None
        assert invitation.flags_reviewed_at is not None  # the case no longer waits under Urgent for it
        acks = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "acknowledged")).all()
        assert [(a.target, a.staff_id is not None) for a in acks] == [(f"worklist flags {invitation.id}", True)]
    acknowledge_all(staff, "stop")
    assert worklist_count(staff) == 0
    assert "Safety worklist:" not in text_of(staff.get("/staff/"))


def test_a_link_not_opened_as_the_appointment_nears_and_a_failed_email(db_app: Flask, staff: FlaskClient) -> None:
    make_case(staff, reference="A-1")
    with db_app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert invitation is not None
        invitation.appointment_at = utcnow() + timedelta(days=5)
        db.session.add(OutboxMessage(subject="s", body="b", message_id="<m@x>", attempts=2, last_error="SMTPDataError"))
        db.session.commit()
        invitation_id = invitation.id
    page = text_of(staff.get("/staff/worklist"))
    assert "Link not opened, appointment soon" not in page  # 5 days ahead: not yet
    assert "Tried 2 times, last problem: SMTPDataError." in page
    with db_app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation is not None
        invitation.appointment_at = utcnow() + timedelta(days=1)
        db.session.commit()
    page = text_of(staff.get("/staff/worklist"))
    assert "Link not opened, appointment soon: <a" in page
    assert worklist_count(staff) == 2
    acknowledge_all(staff, "unopened")
    acknowledge_all(staff, "failed_send")
    assert worklist_count(staff) == 0
    token = csrf_token(text_of(staff.get("/staff/worklist")))
    twice = staff.post(f"/staff/worklist/unopened/{invitation_id}", data={"csrf_token": token})
    assert twice.status_code == 302
    assert staff.post("/staff/worklist/nonsense/1", data={"csrf_token": token}).status_code == 404
    assert staff.post("/staff/worklist/unopened/999999", data={"csrf_token": token}).status_code == 404
