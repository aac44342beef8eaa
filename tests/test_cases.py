"""Cases: one person, their links and checks; follow-up and the SAQ trend; what staff do with a case."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import func, select

from checker import create_app
from checker.db import db
from checker.engine import RulesError, RuleSet, assess, load_rules
from checker.models import AuditEvent, Case, CaseEvent, CaseNote, ConsultationRequest, Draft, Invitation, Submission

from .conftest import (
    RULES_PATH,
    TEST_CONFIG,
    VIGNETTES,
    Inbox,
    csrf_token,
    deliver,
    make_staff,
    post_page,
    sign_in,
    walk,
)
from .test_clinic import answer_link, make_follow_up, shown_link, text_of
from .test_requests_and_drafts import send_request

BASE = next(c for c in VIGNETTES if c["name"] == "nine-months-established")["answers"]
SAQ_ITEMS = [q for q in BASE if q.startswith("saq_")]


def with_saq(*scores: int) -> dict[str, Any]:
    """The same person's answers with these nine SAQ item scores."""
    return {**BASE, **dict(zip(SAQ_ITEMS, map(str, scores), strict=True))}


def saq_total(*scores: int) -> float:
    return round(sum(scores) / 45 * 100, 1)


def audit_actions(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(e.action, e.target) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def make_case(staff: FlaskClient, reference: str = "MRN-0042", label: str = "") -> str:
    page = staff.get("/staff/invitations")
    made = staff.post(
        "/staff/invitations",
        data={"csrf_token": csrf_token(text_of(page)), "reference": reference, "label": label, "days": "30"},
    )
    assert made.status_code == 302
    return shown_link(staff, made.headers["Location"])


def only_case(app: Flask) -> Case:
    with app.app_context():
        cases = list(db.session.scalars(select(Case)))
        assert len(cases) == 1
        db.session.expunge(cases[0])
        return cases[0]


def test_a_case_with_three_follow_ups_shows_the_trend(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    link = make_case(staff)
    scores = [(1, 1, 1, 1, 1, 1, 1, 1, 1), (2, 2, 1, 1, 1, 2, 1, 1, 1), (3, 3, 2, 2, 2, 3, 2, 2, 2)]
    scores.append((5, 5, 4, 4, 4, 5, 4, 4, 4))
    assert answer_link(db_app.test_client(), link, rules, with_saq(*scores[0])).status_code == 302
    case_id = only_case(db_app).id
    for items in scores[1:]:
        follow_up = make_follow_up(staff, case_id)
        patient = db_app.test_client()
        welcome = text_of(patient.get(follow_up))
        assert "asked you to answer the check again" in welcome
        assert answer_link(patient, follow_up, rules, with_saq(*items)).status_code == 302
        result = text_of(patient.get("/result"))
        assert "Your scores over time" in result  # the patient sees their earlier scores too
    totals = [saq_total(*items) for items in scores]
    assert totals == [20.0, 26.7, 46.7, 86.7]
    case = only_case(db_app)
    assert case.checks == 4
    assert case.reference == "MRN-0042"
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    # The chart: one point and one value label per check, joined by a line.
    chart = page[page.index('class="trend__chart"') : page.index("</svg>", page.index('class="trend__chart"'))]
    assert chart.count('class="trend__point"') == 4
    assert 'class="trend__line"' in chart
    for total in totals:
        assert f">{total:.1f}</text>" in chart
    # The table of the same numbers, each change read against the check before and the first.
    table = page[page.index("Score at each check") :]
    cells = r"\s*<td>([^<]*)</td>"
    rows = re.findall(r"<tr>\s*<td>[^<]+</td>" + cells * 3 + r"\s*<td>(.*?)</td>", table, re.S)
    assert [float(total) for total, *_ in rows] == totals
    assert [row[1:3] for row in rows] == [("—", "—"), ("+6.7", "+6.7"), ("+20.0", "+26.7"), ("+40.0", "+66.7")]
    assert "may be normal variation" in rows[1][3]
    assert "since the first check" not in rows[1][3]  # the first and the previous are the same check
    assert "possibly a real change" in rows[2][3]
    assert "Beyond measurement noise since the first check (over 13.1" in rows[2][3]
    assert "likely a real change" in rows[3][3]
    assert "Beyond measurement noise since the first check by both" in rows[3][3]
    assert "Latest check: +66.7 points since the first check" in page
    # Latest first in the inbox's summary: the newest check's score.
    inbox = text_of(staff.get("/staff/?show=all"))
    assert "MRN-0042" in inbox
    assert "SAQ 86.7" in inbox
    assert "4 checks" in inbox


def test_the_patient_sees_earlier_scores_only_through_a_follow_up(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    first = db_app.test_client()
    assert answer_link(first, make_case(staff), rules, with_saq(1, 1, 1, 1, 1, 1, 1, 1, 1)).status_code == 302
    assert "Your scores over time" not in text_of(first.get("/result"))
    # Someone on their own, not through a link, never sees anyone's history.
    alone = db_app.test_client()
    walk(alone, rules, with_saq(2, 2, 2, 2, 2, 2, 2, 2, 2))
    assert "Your scores over time" not in text_of(alone.get("/result"))
    again = db_app.test_client()
    follow_up = make_follow_up(staff, only_case(db_app).id)
    assert answer_link(again, follow_up, rules, with_saq(2, 2, 1, 1, 1, 1, 1, 1, 1)).status_code == 302
    result = text_of(again.get("/result"))
    assert "Your score went up by 4.4 points since last time" in result
    assert "A change this small may be normal variation." in result
    pdf = again.get("/result.pdf")
    assert pdf.status_code == 200
    from .test_every_page import pdf_text

    assert "Your scores over time" in pdf_text(pdf.data)


def test_link_states_revoke_and_resend(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    link = make_case(staff, reference="", label="Tue 3 Dec")
    with db_app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))

    def state() -> str:
        with db_app.app_context():
            found = db.session.get(Invitation, invitation_id)
            assert found is not None
            case = db.session.get(Case, found.case_id)
            assert case is not None
            assert case.link_state == found.status(found.created_at)  # the inbox's copy agrees
            return case.link_state

    assert state() == "not_opened"
    assert "Not opened" in text_of(staff.get("/staff/?show=not-opened"))
    patient = db_app.test_client()
    welcome = text_of(patient.get(link))
    assert state() == "opened"
    patient.post(link, data={"csrf_token": csrf_token(welcome)})
    assert state() == "started"
    post_page(patient, "safety", {**BASE})
    detail = text_of(staff.get(f"/staff/invitations/{invitation_id}"))
    assert "Started" in detail
    assert "now at “" in detail  # the page they are on
    assert "Tue 3 Dec" in text_of(staff.get("/staff/?show=started"))

    # A lost link: send a new one. The old one stops working and its answers are deleted.
    resent = staff.post(f"/staff/invitations/{invitation_id}/resend", data={"csrf_token": csrf_token(detail)})
    new_link = shown_link(staff, resent.headers["Location"])
    gone = patient.get(link)
    assert gone.status_code == 410
    assert "This link was withdrawn" in text_of(gone)
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
        links = list(db.session.scalars(select(Invitation).order_by(Invitation.id)))
        assert [x.status(x.created_at) for x in links] == ["revoked", "not_opened"]
        assert links[0].case_id == links[1].case_id  # the same case
    assert only_case(db_app).label == "Tue 3 Dec"

    # Revoke the new one too: it stops working, audited.
    new_id = int(resent.headers["Location"].rsplit("/", 1)[-1])
    page = text_of(staff.get(f"/staff/invitations/{new_id}"))
    staff.post(f"/staff/invitations/{new_id}/revoke", data={"csrf_token": csrf_token(page)})
    assert db_app.test_client().get(new_link).status_code == 410
    assert "Revoked" in text_of(staff.get(f"/staff/invitations/{new_id}"))
    actions = audit_actions(db_app)
    assert ("revoked link for a new one", f"invitation {invitation_id}") in actions
    assert ("revoked link", f"invitation {new_id}") in actions


def test_a_stop_on_a_link_reaches_the_clinic(mailing: tuple[Flask, Inbox], rules: RuleSet) -> None:
    app, inbox = mailing
    make_staff(app)
    staff = app.test_client()
    sign_in(staff)
    link = make_case(staff, reference="A-77")
    patient = app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    assert post_page(patient, "safety", {"rf_stroke_signs": "yes"}).headers["Location"] == "/emergency"
    patient.get("/emergency")
    patient.get("/emergency")  # told once
    assert deliver(app) == (1, 0)
    assert [m["Subject"] for m in inbox.messages] == ["A patient stopped at the emergency page"]
    body = str(inbox.messages[0].get_payload())
    assert "https://selfcheck.clinic.example/staff/cases/" in body
    assert "A-77" not in body  # no personal details, not even the clinic's reference
    case = only_case(app)
    assert (case.state, case.triage, case.link_state) == ("waiting", "emergency", "stopped")
    waiting = text_of(staff.get("/staff/"))
    assert "A-77" in waiting
    assert "Stopped at the emergency page" in waiting
    page = text_of(staff.get(f"/staff/cases/{case.id}"))
    assert "answered that they have signs of a possible stroke" in page
    invitation_id = re.search(r"/staff/invitations/(\d+)/seen", page)
    assert invitation_id
    assert urgent_count(staff) == 1
    staff.post(invitation_id.group(0), data={"csrf_token": csrf_token(page)})
    case = only_case(app)
    assert (case.state, case.triage) == ("reviewed", "emergency")  # seen, and still what the patient was told
    assert "A-77" not in text_of(staff.get("/staff/"))
    assert "A-77" in text_of(staff.get("/staff/?show=stopped"))
    assert urgent_count(staff) == 0  # seen: no longer counted as urgent
    row = text_of(staff.get("/staff/?show=all"))
    assert "Emergency" in row
    assert "No result yet" not in row


def urgent_count(staff: FlaskClient) -> int:
    found = re.search(r'show=urgent"[^>]*>[^<]*<span class="count">\((\d+)\)', text_of(staff.get("/staff/")))
    assert found
    return int(found.group(1))


def test_urgent_advice_on_a_link_reaches_the_clinic_unsent(mailing: tuple[Flask, Inbox], rules: RuleSet) -> None:
    """A painful eye on a clinic link: "Get medical care today", then the tab is closed."""
    app, inbox = mailing
    make_staff(app)
    staff = app.test_client()
    sign_in(staff)
    link = make_case(staff, reference="E-12")
    patient = app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    safety = {"rf_stroke_signs": "no", "rf_eye": "yes", "rf_ear_rash": "no", "rf_both_sides": "no"}
    safety["rf_progressive"] = "no"
    assert post_page(patient, "safety", safety).headers["Location"].startswith("/urgent")
    # The patient never loads the urgent page, never sends: the clinic knows already.
    case = only_case(app)
    assert (case.state, case.triage, case.link_state) == ("waiting", "urgent", "started")
    assert urgent_count(staff) == 1
    assert "E-12" in text_of(staff.get("/staff/?show=urgent"))
    assert deliver(app) == (1, 0)
    assert [m["Subject"] for m in inbox.messages] == ["A patient on a clinic link was told to get care today"]
    assert "E-12" not in str(inbox.messages[0].get_payload())
    page = text_of(staff.get(f"/staff/cases/{case.id}"))
    assert "Told to get care today, answers not sent" in page
    assert "Exposure keratopathy risk" in page  # the flag in clinical words
    # The same answer again tells nobody twice; seen, the case leaves Urgent and keeps its urgency.
    post_page(patient, "safety", safety)
    seen = re.search(r"/staff/invitations/(\d+)/seen", page)
    assert seen
    staff.post(seen.group(0), data={"csrf_token": csrf_token(page)})
    assert (only_case(app).state, only_case(app).triage) == ("reviewed", "urgent")
    assert urgent_count(staff) == 0
    # A new warning sign after staff saw the first makes the case wait, and tells the clinic, again.
    assert post_page(patient, "safety", {**safety, "rf_ear_rash": "yes"}).headers["Location"].startswith("/urgent")
    assert only_case(app).state == "waiting"
    assert deliver(app) == (1, 0)
    # Sent after all: the check waits for review; the clinic was told already, so no third email.
    walk(patient, rules, {**BASE, **safety, "rf_ear_rash": "yes"})
    patient.post("/send", data={"csrf_token": csrf_token(text_of(patient.get("/check-answers")))})
    assert deliver(app) == (0, 0)
    case = only_case(app)
    assert (case.state, case.triage, case.checks) == ("waiting", "urgent", 1)
    assert "Told to get care today, answers not sent" not in text_of(staff.get(f"/staff/cases/{case.id}"))


def test_a_reviewed_urgent_check_leaves_urgent(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    link = make_case(staff, reference="U-1")
    assert answer_link(db_app.test_client(), link, rules, {**BASE, "rf_both_sides": "yes"}).status_code == 302
    assert urgent_count(staff) == 1
    check = only_case(db_app).id
    with db_app.app_context():
        submission_id = db.session.scalar(select(Submission.id).where(Submission.case_id == check))
    page = text_of(staff.get(f"/staff/submissions/{submission_id}"))
    staff.post(f"/staff/submissions/{submission_id}/reviewed", data={"csrf_token": csrf_token(page)})
    assert urgent_count(staff) == 0
    assert "U-1" in text_of(staff.get("/staff/?show=reviewed"))


def test_an_urgent_result_through_a_link_emails_the_clinic(mailing: tuple[Flask, Inbox], rules: RuleSet) -> None:
    app, inbox = mailing
    make_staff(app)
    staff = app.test_client()
    sign_in(staff)
    calm = with_saq(1, 1, 1, 1, 1, 1, 1, 1, 1)
    assert answer_link(app.test_client(), make_case(staff, reference="calm"), rules, calm).status_code == 302
    assert deliver(app) == (0, 0)
    assert inbox.messages == []  # nothing urgent: no email
    urgent = {**calm, "rf_ear_rash": "yes"}
    assert answer_link(app.test_client(), make_case(staff, reference="P-9"), rules, urgent).status_code == 302
    assert deliver(app) == (1, 0)
    # Told when the ear-rash advice was shown, not again when the answers arrived.
    assert [m["Subject"] for m in inbox.messages] == ["A patient on a clinic link was told to get care today"]
    body = str(inbox.messages[0].get_payload())
    assert "/staff/cases/" in body
    assert "P-9" not in body
    # Urgent first in the queue, with its urgency on the row.
    rows = text_of(staff.get("/staff/"))
    assert rows.index("P-9") < rows.index("calm")
    assert "Same-day assessment" in rows  # in clinical words


def test_one_row_per_person_for_requests(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    # Someone on their own asks twice to be contacted: one case, one check.
    person = db_app.test_client()
    walk(person, rules, BASE)
    assert send_request(person).status_code == 302
    assert send_request(person, name="Ada Example").status_code == 302
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 1
        requests = list(db.session.scalars(select(ConsultationRequest)))
        assert len({r.case_id for r in requests}) == 1
    inbox = text_of(staff.get("/staff/"))
    assert inbox.count("Asked to be contacted") == 1
    assert re.search(r"Waiting <span class=\"count\">\(1\)", inbox)  # one person waiting

    # Someone invited by the clinic who sends, then asks: the request joins their case.
    invited = db_app.test_client()
    assert answer_link(invited, make_case(staff, reference="R-1"), rules, BASE).status_code == 302
    assert send_request(invited, name="Bo Example").status_code == 302
    with db_app.app_context():
        bo = db.session.scalar(select(ConsultationRequest).where(ConsultationRequest.name == "Bo Example"))
        assert bo is not None
        assert bo.case is not None
        assert bo.case.reference == "R-1"
        assert bo.submission is not None
        assert bo.submission.case_id == bo.case_id
    # Starting again in the same browser is a new person: a new case.
    person.post("/start-again", data={"csrf_token": csrf_token(text_of(person.get("/")))})
    walk(person, rules, BASE)
    assert send_request(person, name="Cy Example").status_code == 302
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 3
    found = text_of(staff.get("/staff/?show=all&q=bo+exa"))
    assert "R-1" in found
    assert "Cy Example" not in found


def test_undo_delete_notes_assign_and_csv_are_audited(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    answers = {**with_saq(2, 2, 2, 2, 2, 2, 2, 2, 2), "notes": '=HYPERLINK("http://evil.example")'}
    assert answer_link(db_app.test_client(), make_case(staff, reference="Z-1"), rules, answers).status_code == 302
    case = only_case(db_app)
    with db_app.app_context():
        check_id = db.session.scalar(select(Submission.id))
    page = text_of(staff.get(f"/staff/submissions/{check_id}"))
    token = csrf_token(page)
    staff.post(f"/staff/submissions/{check_id}/reviewed", data={"csrf_token": token})
    assert only_case(db_app).state == "reviewed"
    staff.post(f"/staff/submissions/{check_id}/not-reviewed", data={"csrf_token": token})
    assert only_case(db_app).state == "waiting"
    assert "Waiting for review" in text_of(staff.get(f"/staff/submissions/{check_id}"))

    staff.post(f"/staff/cases/{case.id}/notes", data={"csrf_token": token, "text": "Called, booked for Tuesday."})
    too_long = staff.post(f"/staff/cases/{case.id}/notes", data={"csrf_token": token, "text": "x" * 2001})
    assert too_long.status_code == 302
    with db_app.app_context():
        assert [n.text for n in db.session.scalars(select(CaseNote))] == ["Called, booked for Tuesday."]
        staff_id = db.session.scalar(select(AuditEvent.staff_id).where(AuditEvent.staff_id.is_not(None)))
    staff.post(f"/staff/cases/{case.id}/assign", data={"csrf_token": token, "staff": str(staff_id)})
    assert only_case(db_app).assigned_to_id == staff_id
    assert staff.post(f"/staff/cases/{case.id}/assign", data={"csrf_token": token, "staff": "999"}).status_code == 302
    assert only_case(db_app).assigned_to_id == staff_id  # not a staff member: refused
    page = text_of(staff.get(f"/staff/cases/{case.id}"))
    assert "Called, booked for Tuesday." in page
    assert "nurse@clinic.example" in page

    exported = staff.get("/staff/inbox.csv?show=all")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == 1
    assert rows[0]["reference"] == "Z-1"
    assert rows[0]["saq_total"] == str(saq_total(2, 2, 2, 2, 2, 2, 2, 2, 2))
    assert rows[0]["time_since_onset"] == BASE["time_since_onset"]
    assert rows[0]["notes"].startswith("'=")  # a spreadsheet does not run it

    delete_page = staff.get(f"/staff/submissions/{check_id}/delete")
    assert "cannot be undone" in text_of(delete_page)
    staff.post(f"/staff/submissions/{check_id}/delete", data={"csrf_token": csrf_token(text_of(delete_page))})
    with db_app.app_context():
        assert db.session.get(Submission, check_id) is None
    rows = list(csv.DictReader(io.StringIO(staff.get("/staff/inbox.csv?show=all").get_data(as_text=True))))
    assert rows == []
    assert only_case(db_app).checks == 0
    actions = audit_actions(db_app)
    for expected in [
        ("marked reviewed", f"submission {check_id}"),
        ("undid reviewed", f"submission {check_id}"),
        ("added note", f"case {case.id}"),
        ("assigned", f"case {case.id} to staff {staff_id}"),
        ("exported CSV", "inbox all"),
        ("deleted", f"submission {check_id}"),
    ]:
        assert expected in actions
    assert not any("HYPERLINK" in target or "Tuesday" in target for _, target in actions)  # no content


def test_delete_and_undo_a_request(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    person = db_app.test_client()
    walk(person, rules, BASE)
    send_request(person, name="Dee Example")
    with db_app.app_context():
        request_id = db.session.scalar(select(ConsultationRequest.id))
    page = text_of(staff.get(f"/staff/requests/{request_id}"))
    staff.post(f"/staff/requests/{request_id}/handled", data={"csrf_token": csrf_token(page)})
    staff.post(f"/staff/requests/{request_id}/not-handled", data={"csrf_token": csrf_token(page)})
    assert "Mark as handled" in text_of(staff.get(f"/staff/requests/{request_id}"))
    staff.post(f"/staff/requests/{request_id}/delete", data={"csrf_token": csrf_token(page)})
    with db_app.app_context():
        assert db.session.get(ConsultationRequest, request_id) is None
    assert "Dee Example" not in text_of(staff.get("/staff/?show=all&q=dee"))
    assert "Dee Example" not in text_of(staff.get("/staff/?show=all"))
    actions = audit_actions(db_app)
    assert ("undid handled", f"request {request_id}") in actions
    assert ("deleted", f"request {request_id}") in actions


def test_staff_forms_refuse_bad_input(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    make_case(staff, reference="Q")
    case = only_case(db_app)
    page = text_of(staff.get(f"/staff/cases/{case.id}"))
    token = csrf_token(page)
    for days in ("0", "x", "9999", ""):
        response = staff.post(f"/staff/cases/{case.id}/follow-up", data={"csrf_token": token, "days": days})
        assert response.headers["Location"].endswith(f"/staff/cases/{case.id}")
    assert staff.post(f"/staff/cases/{case.id}/follow-up", data={"days": "5"}).status_code == 302  # no token
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1
    assert staff.get("/staff/cases/999").status_code == 404
    assert staff.post("/staff/invitations/999/revoke", data={"csrf_token": token}).status_code == 404
    too_long = staff.post(
        "/staff/invitations", data={"csrf_token": token, "reference": "x" * 41, "label": "", "days": "30"}
    )
    assert too_long.status_code == 422
    assert "40 characters or fewer" in text_of(too_long)
    # Someone not signed in gets nothing.
    stranger = db_app.test_client()
    assert stranger.get(f"/staff/cases/{case.id}").status_code == 302
    assert stranger.get("/staff/inbox.csv").status_code == 302


@pytest.fixture
def many_cases(db_app: Flask) -> list[tuple[int, Any, int]]:
    """250 cases with mixed triage and waiting times, written directly."""
    from datetime import timedelta

    from checker.db import utcnow

    start = utcnow() - timedelta(days=30)
    with db_app.app_context():
        for n in range(250):
            db.session.add(
                Case(
                    reference=f"C{n:03d}",
                    state=("waiting", "reviewed", "open")[n % 3],
                    priority=(0, 1, 2, 3, 99)[n % 5],
                    triage=("emergency", "urgent", "prompt", "routine", None)[n % 5],
                    since=start + timedelta(minutes=(n * 37) % 500),  # ties and out-of-order times
                    has_request=n % 4 == 0,
                    link_state=("not_opened", "started", "stopped", "sent", None)[n % 5],
                    link_expires_at=start + timedelta(days=60),
                    search_text=f"c{n:03d}",
                )
            )
        db.session.commit()
        return [(c.priority, c.since, c.id) for c in db.session.scalars(select(Case))]


@pytest.mark.parametrize("show", ["waiting", "urgent", "requests", "not-opened", "started", "stopped", "reviewed"])
def test_every_filter_pages_through_every_case_once_in_order(
    db_app: Flask, staff: FlaskClient, many_cases: Any, show: str
) -> None:
    from checker.clinic.inbox.queue import FILTERS, counts, page_of
    from checker.db import utcnow

    with db_app.app_context():
        now = utcnow()
        expected = [c.id for c in db.session.scalars(select(Case).where(FILTERS[show].condition(now)))]
        seen: list[Case] = []
        cursor = None
        pages = 0
        while True:
            page = page_of(show, "", cursor, now, size=20)
            seen += page.cases
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(c.id for c in seen) == sorted(expected)
        assert len(seen) == len(set(c.id for c in seen))
        assert pages == -(-len(expected) // 20) or (pages == 1 and not expected)
        keys = [(c.since, c.id) if show == "reviewed" else (c.priority, c.since, c.id) for c in seen]
        assert keys == (sorted(keys, reverse=True) if show == "reviewed" else sorted(keys))
        assert counts("", now)[show] == len(expected)
    # Through the page itself: 50 rows, a next link, and the second page follows on.
    first = text_of(staff.get(f"/staff/?show={show}"))
    shown = re.findall(r">(C\d{3})</a>", first)
    assert len(shown) == min(50, len(expected))
    more = re.search(r'href="(/staff/\?[^"]*after=[^"]+)"', first)
    if len(expected) > 50:
        assert more
        second = re.findall(r">(C\d{3})</a>", text_of(staff.get(more.group(1).replace("&amp;", "&"))))
        assert second
        assert not set(second) & set(shown)


def test_a_tampered_cursor_or_filter_shows_the_first_page(staff: FlaskClient, many_cases: Any) -> None:
    first = text_of(staff.get("/staff/?show=all"))
    # Well-formed cursors with values no column holds: a 500 (SQLite) or a 503 (PostgreSQL) once.
    odd = [[10**23, "2026-01-01T00:00:00+00:00", 1], [1, "2026-01-01T00:00:00", 1], [1, "0001-01-01T00:00:00+23:59", 1]]
    forged = [base64.urlsafe_b64encode(json.dumps(values).encode()).decode() for values in odd]
    queries = ["after=garbage", "after=W10", "after=WyJ4IiwiMjAyNiIsMV0", "show=nope", "q=" + "%25_" * 80]
    for query in queries + [f"show=waiting&after={cursor}" for cursor in forged]:
        response = staff.get(f"/staff/?{query}")
        assert response.status_code == 200, query
    assert re.findall(r">(C\d{3})</a>", text_of(staff.get("/staff/?show=all&after=garbage"))) == re.findall(
        r">(C\d{3})</a>", first
    )
    # A search for % or _ matches those characters, not everything.
    assert "Nothing here" in text_of(staff.get("/staff/?show=all&q=%25")) or "No patient matches" in text_of(
        staff.get("/staff/?show=all&q=%25")
    )
    assert re.findall(r">(C\d{3})</a>", text_of(staff.get("/staff/?show=all&q=c007"))) == ["C007"]


def test_the_migration_groups_existing_records_into_cases(database_url: str) -> None:
    """A database from before cases: each link, its check and its requests become one case."""
    from datetime import timedelta

    from sqlalchemy import text

    from checker.db import utcnow

    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    now = utcnow()
    with app.app_context():
        upgrade(revision="0002")
        insert = [
            "INSERT INTO invitation (id, token_hash, label, created_at, expires_at, used_at)"
            " VALUES (1, 'a', 'Tue 3 Dec', :t0, :t9, :t1), (2, 'b', 'Fri 6 Dec', :t0, :t9, NULL)",
            "INSERT INTO submission (id, invitation_id, answers, result, outcome, triage, saq_total, rules_version,"
            " rules_sha256, started_at, submitted_at, status) VALUES"
            " (1, 1, '{}', '{}', 'stage-3', 'urgent', 44.4, '2026.1', 'x', :t0, :t1, 'new'),"
            " (2, NULL, '{}', '{}', 'stage-1', 'routine', NULL, '2026.1', 'x', :t0, :t2, 'reviewed')",
            "INSERT INTO consultation_request (id, reference, name, phone, email, contact_time, message, consent_at,"
            " submission_id, created_at, status) VALUES"
            " (1, 'AAAA-BBBB', 'Ada Example', '555 0100', '', 'any', '', :t1, 1, :t3, 'new'),"
            " (2, 'CCCC-DDDD', 'Bo Example', '555 0101', '', 'any', '', :t2, 2, :t2, 'handled'),"
            " (3, 'EEEE-FFFF', 'Cy Example', '555 0102', '', 'any', '', :t2, NULL, :t2, 'new')",
        ]
        times = {f"t{n}": now - timedelta(days=10 - n) for n in range(10)}
        times["t9"] = now + timedelta(days=20)
        for statement in insert:
            db.session.execute(text(statement), times)
        db.session.commit()
        upgrade()
        cases = {c.label or c.requester: c for c in db.session.scalars(select(Case))}
        assert len(cases) == 4  # link 1 with its check and request; link 2; check 2 with its request; request 3
        first = cases["Tue 3 Dec"]
        assert (first.state, first.triage, first.priority, first.checks, first.saq_total) == (
            "waiting",
            "urgent",
            1,
            1,
            44.4,
        )
        assert (first.link_state, first.has_request, first.requester) == ("sent", True, "Ada Example (AAAA-BBBB)")
        assert first.since == times["t1"]
        assert "ada example" in first.search_text
        assert cases["Fri 6 Dec"].state == "open"
        assert cases["Fri 6 Dec"].link_state == "not_opened"
        assert cases["Bo Example (CCCC-DDDD)"].state == "reviewed"
        assert cases["Cy Example (EEEE-FFFF)"].checks == 0
        assert cases["Cy Example (EEEE-FFFF)"].state == "waiting"
        assert db.session.scalar(select(func.count()).select_from(Submission).where(Submission.case_id.is_(None))) == 0
        db.session.remove()
        db.engine.dispose()


def tagged(data: bytes) -> list[str]:
    """What is missing for a tagged PDF/UA-1 document (empty when it is one)."""
    import pikepdf

    missing = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root
        if "/StructTreeRoot" not in root or len(root.StructTreeRoot.get("/K", [])) == 0:
            missing.append("a structure tree")
        if not ("/MarkInfo" in root and bool(root.MarkInfo.get("/Marked"))):
            missing.append("MarkInfo /Marked true")
        if not str(root.get("/Lang", "")):
            missing.append("a document language")
        with pdf.open_metadata() as meta:
            if meta.get("pdfuaid:part") != "1":
                missing.append("the PDF/UA-1 identifier")
            if not meta.get("dc:title"):
                missing.append("a title")
    return missing


def test_the_clinicians_pdf_is_one_tagged_page(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    import pikepdf

    from .test_reports_and_fhir import pdf_text

    first = {**with_saq(2, 2, 1, 1, 1, 2, 1, 1, 1), "rf_eye": "yes"}
    assert answer_link(db_app.test_client(), make_case(staff, reference="MRN-7"), rules, first).status_code == 302
    case_id = only_case(db_app).id
    notes = "The left eye waters at dinner and I feel tight in the mornings."
    later = {**with_saq(5, 5, 4, 4, 4, 5, 4, 4, 4), "rf_eye": "yes", "notes": notes}
    assert answer_link(db_app.test_client(), make_follow_up(staff, case_id), rules, later).status_code == 302
    with db_app.app_context():
        check_id = db.session.scalar(select(func.max(Submission.id)))
    page = text_of(staff.get(f"/staff/submissions/{check_id}"))
    staff.post(f"/staff/submissions/{check_id}/reviewed", data={"csrf_token": csrf_token(page)})
    response = staff.get(f"/staff/submissions/{check_id}.pdf")
    assert response.mimetype == "application/pdf"
    with pikepdf.open(io.BytesIO(response.data)) as pdf:
        assert len(pdf.pages) == 1
        width, height = (float(v) for v in pdf.pages[0].MediaBox[2:])
        assert (round(width), round(height)) == (612, 792)  # US Letter, the default
    assert tagged(response.data) == []
    text = " ".join(pdf_text(response.data).split())
    for expected in [
        "MRN-7",
        "Exposure keratopathy risk",  # the red flag in clinical words
        "Stage 3: established synkinesis",
        "Onset between 6 and 12 months ago: 6 months or more.",  # reasons in clinical words
        "Frequent synkinesis (most of the time or more): eye closure with smiling, eye closure with speaking,",
        "Eye closure with smiling 5",  # the SAQ item grid
        "Total (20 to 100) 86.7",
        "Time since onset 6 to 12 months ago",
        notes,
        "+60.0",  # the trend's change
        "Reviewed by nurse@clinic.example",
        "Exported by nurse@clinic.example",
    ]:
        assert expected in text, expected
    assert "Waiting for review" not in text
    assert "Mark as reviewed" not in text
    # The first check's chart copy stays as it was: no later check in its trend.
    earlier = " ".join(pdf_text(staff.get(f"/staff/submissions/{check_id - 1}.pdf").data).split())
    assert "Total (20 to 100) 26.7" in earlier
    assert "+60.0" not in earlier
    # The patient's PDF is tagged too.
    patient = db_app.test_client()
    walk(patient, rules, BASE)
    assert tagged(patient.get("/result.pdf").data) == []


def test_nul_characters_are_field_errors_not_a_failure(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    """PostgreSQL cannot store NUL in text: each form says so on the field, showing the text
    without it, and nothing is saved until it is sent again; an address with one is a 400."""
    page = text_of(staff.get("/staff/invitations"))
    refused = staff.post(
        "/staff/invitations", data={"csrf_token": csrf_token(page), "reference": "A\x00-1", "label": "", "days": "30"}
    )
    assert refused.status_code == 422
    shown = text_of(refused)
    assert "This had an invisible character that cannot be saved" in shown
    assert 'value="A-1"' in shown  # the text as it will be saved, to check
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
    make_case(staff, reference="A-1")
    case = only_case(db_app)
    token = csrf_token(text_of(staff.get(f"/staff/cases/{case.id}")))
    noted = staff.post(f"/staff/cases/{case.id}/notes", data={"csrf_token": token, "text": "Call\x00ed"})
    assert noted.status_code == 302
    assert "This had an invisible character" in text_of(staff.get(noted.headers["Location"]))
    assert staff.get("/staff/?show=all&q=A%00-1").status_code == 400
    person = db_app.test_client()
    walk(person, rules, BASE)
    asked = send_request(person, name="A\x00da Example")
    assert asked.status_code == 422
    assert 'value="Ada Example"' in text_of(asked)
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CaseNote)) == 0
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 0
    assert send_request(person, name="Ada Example").status_code == 302


def test_a_nul_in_a_patients_note_is_a_field_error_and_keeps_the_rest(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BASE)
    last = rules.pages[-1]
    note = next(q for q in last.questions if q.id == "notes")
    answers = {q.id: BASE[q.id] for q in last.questions if q.id in BASE}
    response = post_page(client, last.id, {**answers, note.id: "Tight\x00 in the mornings"})
    assert response.status_code == 200
    shown = text_of(response)
    assert "This had an invisible character that cannot be saved" in shown
    assert "Tight in the mornings" in shown


def test_two_checks_sent_at_once_both_count(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    """Two follow-ups of one case sent at the same moment: the case's summary counts both."""
    import threading

    assert answer_link(db_app.test_client(), make_case(staff), rules, BASE).status_code == 302
    case_id = only_case(db_app).id
    patients = []
    for _ in range(2):
        link = make_follow_up(staff, case_id)
        patient = db_app.test_client()
        patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
        walk(patient, rules, BASE)
        patients.append((patient, csrf_token(text_of(patient.get("/check-answers")))))
    start = threading.Barrier(2)
    codes: list[int] = []

    def send(patient: FlaskClient, token: str) -> None:
        start.wait()
        codes.append(patient.post("/send", data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [302, 302]
    case = only_case(db_app)
    assert case.checks == 3
    assert case.state == "waiting"


def test_every_shipped_reason_and_name_has_clinical_wording() -> None:
    """Every reason of the shipped rules and of each earlier file has its clinical wording (else the
    PDF falls back to the patient's): beside it in rules.yaml, or in rules_archive/clinician/."""
    from checker.exports.clinical import earlier_reasons
    from checker.stored import archived_rules

    today = load_rules(RULES_PATH)
    for rules in (today, *archived_rules().values()):
        templates = {" ".join(r.split()) for r in _reason_templates(rules)}
        known = set(today.clinician_reasons) | set(rules.clinician_reasons) | set(earlier_reasons())
        assert sorted(templates - known) == [], f"{rules.path}: reasons without clinical wording"
    missing = [f.id for f in today.red_flags if not f.clinician] + [
        o for o, v in today.outcomes.items() if not v.clinician
    ]
    missing += [level.id for level in today.triage_levels if not level.clinician]
    missing += [
        q.id for q in today.questions.values() if q.kind.value != "text" and q.page != "safety" and not q.clinician
    ]
    assert missing == []


def _reason_templates(rules: RuleSet) -> Iterator[str]:
    def walk(condition: Any) -> Iterator[str]:
        if condition is None:
            return
        if condition.reason:
            yield condition.reason
        for part in getattr(condition, "parts", ()) or ((condition.part,) if hasattr(condition, "part") else ()):
            yield from walk(part)

    for rule in rules.outcome_rules:
        yield rule.reason
        yield from walk(rule.when)
    for derived in rules.derived:
        yield from walk(derived.when)


def _rules_with(folder: Path, shipped: str, edited: str) -> Path:
    """A copy of rules.yaml with one line changed."""
    text = RULES_PATH.read_text(encoding="utf-8")
    assert shipped in text
    path = folder / "rules.yaml"
    path.write_text(text.replace(shipped, edited), encoding="utf-8")
    return path


def test_an_edited_reason_keeps_its_clinical_wording_beside_it(tmp_path: Path) -> None:
    """Clinical wording lives beside the reason: rewording the patient's sentence cannot lose it."""
    from checker.exports.clinical import reason_text

    edited = _rules_with(
        tmp_path,
        'reason: "The unwanted movements happen every time you make a certain movement."',
        'reason: "The same unwanted movement comes with a certain movement, every time."',
    )
    rules = load_rules(edited)
    app = create_app({**TEST_CONFIG, "RULES_PATH": str(edited)})
    answers = {**BASE, "pattern": "consistent"}
    result = assess(rules, answers)
    with app.test_request_context():
        worded = [reason_text(rules, reason) for reason in result.reasons]
    assert "Consistent pattern: triggered by every attempt at the movement." in worded


def test_clinical_wording_may_quote_only_its_reason_s_placeholders(tmp_path: Path) -> None:
    edited = _rules_with(
        tmp_path,
        'clinician: "Consistent pattern: triggered by every attempt at the movement."',
        'clinician: "Consistent pattern ({daily_impact})."',
    )
    with pytest.raises(RulesError, match=r"'\{daily_impact\}' is not in the reason beside it"):
        load_rules(edited)


def test_staff_record_dated_events_that_the_trend_marks(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    from .conftest import seed_case_over_months

    case_id = seed_case_over_months(db_app, rules)
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert page.count('class="trend__event-mark"') == 2
    token = csrf_token(page)
    for bad, error in [
        ({"kind": "toxin", "on": "14/03/2026"}, "Enter the date as year-month-day"),
        ({"kind": "toxin", "on": ""}, "Enter the date, like 2026-03-14"),
        ({"kind": "toxin", "on": "1901-01-01"}, "Enter a date within the last 30 years"),
        ({"kind": "séance", "on": "2026-01-01"}, "Not a valid choice"),
        ({"kind": "other", "on": "2026-01-01", "note": "x" * 81}, "Write 80 characters or fewer"),
    ]:
        refused = staff.post(f"/staff/cases/{case_id}/events", data={"csrf_token": token, **bad})
        assert refused.status_code == 302
        assert error in text_of(staff.get(refused.headers["Location"])), bad
    made = staff.post(
        f"/staff/cases/{case_id}/events",
        data={"csrf_token": token, "kind": "operation", "on": "2026-08-20", "note": "cross-face graft"},
    )
    assert "Event recorded." in text_of(staff.get(made.headers["Location"]))
    with db_app.app_context():
        events = list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.on)))
        latest = events[-1]
        assert (latest.kind, latest.on.isoformat(), latest.note) == ("operation", "2026-08-20", "cross-face graft")
        operation_id = events[-1].id
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert page.count('class="trend__event-mark"') == 3
    assert "cross-face graft" in page
    assert staff.post(f"/staff/events/{operation_id}/delete", data={"csrf_token": "forged"}).status_code in (302, 400)
    with db_app.app_context():
        assert db.session.get(CaseEvent, operation_id) is not None
    staff.post(f"/staff/events/{operation_id}/delete", data={"csrf_token": token})
    with db_app.app_context():
        assert db.session.get(CaseEvent, operation_id) is None
    actions = [a for a in audit_actions(db_app) if "event" in a[0]]
    assert actions == [
        ("recorded event", f"case {case_id} event {operation_id} (operation 2026-08-20)"),
        ("deleted event", f"case {case_id} event {operation_id}"),
    ]
    assert staff.post("/staff/events/999999/delete", data={"csrf_token": token}).status_code == 404


def test_staff_pages_name_urgency_in_clinical_words(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    """The inbox, the case and its table speak to staff: "No red flags", not the patient's sentence."""
    assert answer_link(db_app.test_client(), make_case(staff), rules, BASE).status_code == 302
    case_id = only_case(db_app).id
    for address in ("/staff/?show=all", f"/staff/cases/{case_id}"):
        joiner = "&" if "?" in address else "?"
        page = text_of(staff.get(address + joiner + "lang=en"))
        assert "No red flags" in page
        assert "No warning signs in your answers" not in page
        spanish = text_of(staff.get(address + joiner + "lang=es"))
        assert "Sin señales de alarma" in spanish
        assert "Sus respuestas no muestran" not in spanish


def test_the_clinicians_pdf_of_a_case_followed_for_eighteen_months(db_app: Flask, rules: RuleSet) -> None:
    """12 checks and two toxin sessions: one tagged Letter page, the chart with its alternative
    text, history in clinical words; on A4 when the clinic prints on A4."""
    import pikepdf

    from .conftest import seed_case_over_months
    from .test_reports_and_fhir import pdf_text

    case_id = seed_case_over_months(db_app, rules)
    make_staff(db_app)
    client = db_app.test_client()
    sign_in(client)
    with db_app.app_context():
        latest = db.session.scalar(select(func.max(Submission.id)).where(Submission.case_id == case_id))
    for language, paper, size in [("en", "letter", (612, 792)), ("es", "a4", (595, 842))]:
        db_app.config["PAPER_SIZE"] = paper
        response = client.get(f"/staff/submissions/{latest}.pdf?lang={language}")
        with pikepdf.open(io.BytesIO(response.data)) as pdf:
            assert len(pdf.pages) == 1, (language, paper)
            assert tuple(round(float(v)) for v in pdf.pages[0].MediaBox[2:]) == size
            nodes = _struct_nodes(pdf.Root.StructTreeRoot)
            figures = [str(node.get("/Alt", "")) for node in nodes if node.get("/S") == "/Figure"]
        assert len(figures) == 1
        assert "57.8" in figures[0]
        assert "35.6" in figures[0]
        assert tagged(response.data) == []
        text = " ".join(pdf_text(response.data).split())
        if language == "en":
            assert "Initial severity Complete paralysis" in text  # not the patient's "Not at all"
            assert "Recovery Mostly recovered" in text
            assert "Beyond measurement noise since the first check" in text
            assert "Botulinum toxin session" in text
        else:
            assert "Gravedad inicial Parálisis completa" in text
            assert "Sesión de toxina botulínica" in text


def _struct_nodes(node: Any) -> Iterator[Any]:
    import pikepdf

    if isinstance(node, pikepdf.Dictionary):
        yield node
        kids = node.get("/K")
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
            yield from _struct_nodes(kid)


def test_every_waiting_check_of_a_case_is_marked_reviewed_at_once(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    from .conftest import seed_case_over_months

    case_id = seed_case_over_months(db_app, rules)
    page = text_of(staff.get(f"/staff/cases/{case_id}"))
    assert "Mark the 12 waiting checks as reviewed" in page
    done = staff.post(f"/staff/cases/{case_id}/reviewed", data={"csrf_token": csrf_token(page)})
    assert "12 checks marked as reviewed." in text_of(staff.get(done.headers["Location"]))
    with db_app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        assert case.state == "reviewed"
        assert {s.status for s in case.submissions} == {"reviewed"}
    assert sum(1 for action, _ in audit_actions(db_app) if action == "marked reviewed") == 12
    again = staff.post(f"/staff/cases/{case_id}/reviewed", data={"csrf_token": csrf_token(page)})
    assert "marked as reviewed" not in text_of(staff.get(again.headers["Location"]))


def test_the_csv_is_for_people(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    """Times in the clinic's zone, words beside codes, assignee, state, label, check number, stops
    and unused links as rows, and a byte-order mark so a spreadsheet reads the accents."""
    from .conftest import seed_case_over_months

    db_app.config["TIMEZONE"] = "America/Chicago"
    case_id = seed_case_over_months(db_app, rules, reference="MRN-CSV")
    make_case(staff, reference="MRN-UNUSED", label="Lunes 9 de diciembre")
    stopped = make_case(staff, reference="MRN-STOP")
    patient = db_app.test_client()
    patient.post(stopped, data={"csrf_token": csrf_token(text_of(patient.get(stopped)))})
    assert post_page(patient, "safety", {"rf_stroke_signs": "yes"}).headers["Location"] == "/emergency"
    exported = staff.get("/staff/inbox.csv?show=all&lang=es")
    data = exported.get_data()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    checks = [r for r in rows if r["reference"] == "MRN-CSV"]
    assert [r["check_number"] for r in checks] == [str(n) for n in range(1, 13)]
    first = checks[0]
    assert first["case"] == str(case_id)
    assert first["row"] == "check"
    assert first["submitted_at (America/Chicago)"] == "2025-05-12 10:30"  # 15:30 UTC, in the clinic's zone
    assert (first["triage"], first["triage_words"]) == ("routine", "Sin señales de alarma")
    assert (first["outcome"], first["outcome_words"]) == ("stage-3", "Etapa 3: sincinesia establecida")
    assert (first["initial_severity"], first["initial_severity_words"]) == ("complete", "Parálisis completa")
    assert first["case_state"] == "waiting"
    assert first["assigned_to"] == ""
    stop = next(r for r in rows if r["reference"] == "MRN-STOP")
    assert (stop["row"], stop["link_state"], stop["triage"]) == ("emergency stop", "stopped", "emergency")
    assert stop["red_flags"] == ""
    unused = next(r for r in rows if r["reference"] == "MRN-UNUSED")
    assert (unused["row"], unused["link_state"], unused["link_label"]) == (
        "link not used",
        "not_opened",
        "Lunes 9 de diciembre",
    )
