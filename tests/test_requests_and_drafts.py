"""Consultation requests (with email to the clinic), save and resume, retention."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from checker.db import db, utcnow
from checker.engine import RuleSet
from checker.models import (
    AuditEvent,
    Case,
    CaseNote,
    ConsultationRequest,
    Draft,
    Invitation,
    SignInFailure,
    StaffSession,
    StaffUser,
    Submission,
    new_token,
    token_hash,
)
from checker.retention import purge

from .conftest import VIGNETTES, Inbox, csrf_token, deliver, make_staff, post_page, sign_in, walk

CASE = next(c for c in VIGNETTES if c["name"] == "nine-months-established")
GOOD = {
    "name": "Ada Example",
    "phone": "+1 555 010 9999",
    "email": "",
    "contact_time": "morning",
    "message": "Mornings are best.",
    "consent": "y",
}


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def send_request(client: FlaskClient, **changes: str) -> Any:
    page = client.get("/request-consultation")
    data = {**GOOD, **changes, "csrf_token": csrf_token(text_of(page))}
    return client.post("/request-consultation", data={k: v for k, v in data.items() if v is not None})


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_request_after_the_result_is_stored_with_the_self_check(
    db_app: Flask, db_client: FlaskClient, rules: RuleSet
) -> None:
    walk(db_client, rules, CASE["answers"])
    assert 'href="/request-consultation"' in text_of(db_client.get("/result"))
    response = send_request(db_client)
    assert response.headers["Location"] == "/request-consultation/sent"
    page = text_of(db_client.get("/request-consultation/sent"))
    reference = re.search(r'class="reference">([A-Z0-9]{4}-[A-Z0-9]{4})<', page)
    assert reference
    with db_app.app_context():
        stored = db.session.scalar(select(ConsultationRequest))
        assert stored is not None
        assert stored.reference == reference.group(1)
        assert stored.name == "Ada Example"
        assert stored.submission is not None
        assert stored.submission.outcome == "stage-3"
        assert stored.submission.invitation_id is None
    make_staff(db_app)
    staff = db_app.test_client()
    sign_in(staff)
    assert reference.group(1) in text_of(staff.get("/staff/"))
    detail = text_of(staff.get(f"/staff/requests/{stored.id}"))
    assert "Ada Example" in detail
    assert "Mornings are best." in detail
    handled = staff.post(f"/staff/requests/{stored.id}/handled", data={"csrf_token": csrf_token(detail)})
    assert "Handled by nurse@clinic.example" in text_of(staff.get(handled.headers["Location"]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "Enter your name"),
        ({"phone": "", "email": ""}, "Give a phone number or an email address"),
        ({"phone": "call me"}, "Enter a phone number"),
        ({"phone": "", "email": "ada@"}, "Enter an email address"),
        ({"consent": None}, "Check the box to agree"),
        ({"contact_time": None}, "Choose when it is best to contact you"),
        ({"message": "m" * 1001}, "Write 1000 characters or fewer"),
    ],
)
def test_request_errors_keep_what_was_typed(
    db_app: Flask, db_client: FlaskClient, changes: dict[str, Any], message: str
) -> None:
    response = send_request(db_client, **changes)
    assert response.status_code == 422
    html = text_of(response)
    assert message in html
    assert "There is a problem" in html
    if changes.get("name") != "":
        assert 'value="Ada Example"' in html
    assert count(db_app, ConsultationRequest) == 0


def test_tampered_contact_time_is_refused(db_app: Flask, db_client: FlaskClient) -> None:
    response = send_request(db_client, contact_time="midnight")
    assert response.status_code == 422
    assert count(db_app, ConsultationRequest) == 0


def test_clinic_is_emailed_without_personal_details(mailing: tuple[Flask, Inbox]) -> None:
    app, inbox = mailing
    client = app.test_client()
    # An attacker's Host (or X-Forwarded-Host) never decides the link staff are sent.
    client.environ_base.update(HTTP_HOST="evil.example", HTTP_X_FORWARDED_HOST="evil.example")
    assert send_request(client, email="ada@example.org").status_code == 302
    assert inbox.messages == []  # the request never waits for the mail server: the outbox sends
    assert deliver(app) == (1, 0)
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == "desk@clinic.example"
    body = mail.get_payload()
    assert mail["Date"]
    assert mail["Message-ID"].endswith("@selfcheck.clinic.example>")
    assert "evil.example" not in str(body)
    assert "https://selfcheck.clinic.example/staff/requests/" in str(body)
    with app.app_context():
        reference = db.session.scalar(select(ConsultationRequest.reference))
    assert reference is not None
    assert reference in mail["Subject"]
    for personal in ("Ada", "555", "ada@example.org", "Mornings"):
        assert personal not in str(body) + mail["Subject"]


def test_a_hanging_or_down_mail_server_delays_and_loses_nothing(database_url: str, smtp: tuple[Inbox, int]) -> None:
    """The request only writes the notice to the outbox; the outbox tries until the server is back."""
    import socket

    from flask_migrate import upgrade

    from checker import create_app
    from checker.db import utcnow
    from checker.mail import send_due
    from checker.models import OutboxMessage

    from .conftest import TEST_CONFIG

    hanging = socket.socket()  # accepts connections and never says a word
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)
    settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": hanging.getsockname()[1], "CLINIC_EMAIL": "desk@x.example"}
    app = create_app({**TEST_CONFIG, **settings, "DATABASE_URL": database_url, "BASE_URL": "https://x.example"})
    with app.app_context():
        upgrade()
    client = app.test_client()
    try:
        assert send_request(client).status_code == 302  # answered without ever connecting to the mail server
        assert count(app, ConsultationRequest) == 1
        assert count(app, OutboxMessage) == 1
        app.config["MAIL_PORT"] = 9  # now refusing connections
        with app.app_context():
            assert send_due() == (0, 1)
            message = db.session.scalar(select(OutboxMessage))
            assert message is not None
            assert (message.attempts, message.last_error, message.sent_at) == (1, "ConnectionRefusedError", None)
            assert message.next_attempt_at > utcnow()  # waits before the next try
        make_staff(app)
        staff = app.test_client()
        sign_in(staff)
        inbox_page = text_of(staff.get("/staff/"))
        assert "1 email could not be sent yet (last problem: ConnectionRefusedError). It is tried again" in inbox_page
        assert "Safety worklist: 1 item to acknowledge" in inbox_page  # the failed email
        inbox, port = smtp
        app.config["MAIL_PORT"] = port  # the server is back
        with app.app_context():
            assert send_due() == (0, 0)  # not due yet
            assert send_due(now=utcnow() + timedelta(hours=2)) == (1, 0)
            assert send_due(now=utcnow() + timedelta(hours=4)) == (0, 0)  # sent once
        assert [m["Subject"].split()[0] for m in inbox.messages] == ["New"]
        assert "could not be sent" not in text_of(staff.get("/staff/"))
    finally:
        hanging.close()
        with app.app_context():
            db.engine.dispose()


def test_a_notice_sent_twice_is_one_message(mailing: tuple[Flask, Inbox]) -> None:
    """A worker stopped between the server's "accepted" and the row's "sent" sends the notice again:
    the copy has the same Message-ID and Date, made when the notice was queued."""
    from checker.mail import SENDING_LEASE, send_due
    from checker.models import OutboxMessage

    app, inbox = mailing
    assert send_request(app.test_client()).status_code == 302
    with app.app_context():
        queued = db.session.scalar(select(OutboxMessage))
        assert queued is not None
        message_id = queued.message_id
        assert message_id.endswith("@selfcheck.clinic.example>")
    assert deliver(app) == (1, 0)
    with app.app_context():  # as if the worker died before it could record the send
        db.session.execute(update(OutboxMessage).values(sent_at=None))
        db.session.commit()
        assert send_due() == (0, 0)  # its claim holds for a while: not sent again at once
        assert send_due(utcnow() + SENDING_LEASE + timedelta(seconds=1)) == (1, 0)  # then another worker sends it
    assert len(inbox.messages) == 2
    assert [m["Message-ID"] for m in inbox.messages] == [message_id, message_id]
    assert inbox.messages[0]["Date"] == inbox.messages[1]["Date"]


def test_save_and_resume_on_the_exact_page(db_app: Flask, db_client: FlaskClient, rules: RuleSet) -> None:
    answers = CASE["answers"]
    post_page(db_client, "safety", answers)
    post_page(db_client, "cause", answers)
    page = db_client.get("/questions/weakness")
    saved = db_client.post(
        "/questions/weakness",
        data={"csrf_token": csrf_token(text_of(page)), "time_since_onset": "6m_12m", "action": "save"},
    )
    assert saved.headers["Location"] == "/saved"
    html = text_of(db_client.get("/saved"))
    link = re.search(r'id="resume-link" type="text" value="https?://[^/"]+(/resume/[^"]+)"', html)
    assert link
    assert count(db_app, Draft) == 1
    # Another browser, another day: the link asks first, then brings back the answers and the page.
    other = db_app.test_client()
    confirm = other.get(link.group(1))
    assert confirm.status_code == 200
    assert "Continue with the saved answers" in text_of(confirm)
    assert other.get("/questions/weakness").headers["Location"] == "/questions/safety"  # nothing taken up yet
    resumed = other.post(link.group(1), data={"csrf_token": csrf_token(text_of(confirm))})
    assert resumed.headers["Location"] == "/questions/weakness"
    assert db_app.test_client().get(link.group(1)).status_code == 410  # used once: the link has stopped working
    weakness = text_of(other.get("/questions/weakness"))
    assert re.search(r'value="6m_12m"\s+checked', weakness)
    # Answers go on being saved on the server, page by page.
    post_page(other, "weakness", answers)
    with db_app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft is not None
        assert draft.answers["recovery"] == "mostly"
        assert draft.page == "linked"
    walk(other, rules, answers)
    assert "Established synkinesis" in text_of(other.get("/result"))


def test_anonymous_check_is_not_kept(db_app: Flask, db_client: FlaskClient, rules: RuleSet) -> None:
    walk(db_client, rules, CASE["answers"])
    db_client.get("/result")
    assert count(db_app, Draft) == 0
    assert count(db_app, Submission) == 0


def _saved_draft(client: FlaskClient) -> str:
    """Answer the safety page, save on the next: the resume link's token."""
    post_page(client, "safety", CASE["answers"])
    page = client.get("/questions/cause")
    client.post("/questions/cause", data={"csrf_token": csrf_token(text_of(page)), "cause": "injury", "action": "save"})
    link = re.search(r'id="resume-link" type="text" value="[^"]*/resume/([^"]+)"', text_of(client.get("/saved")))
    assert link
    return link.group(1)


def test_lapsed_session_keeps_posted_answers_and_the_draft(db_app: Flask, rules: RuleSet) -> None:
    client = db_app.test_client()
    token = _saved_draft(client)
    form = text_of(client.get("/questions/cause"))
    assert "draft_token" not in form  # no page carries the draft's token: only the session does
    client.delete_cookie("session")  # the session cookie is gone (closed browser, timeout)
    lapsed = client.post("/questions/cause", data={"csrf_token": csrf_token(form), "cause": "ramsay_hunt"})
    assert lapsed.status_code == 200
    assert "Your session timed out" in text_of(lapsed)
    assert "open that link again to get your earlier answers back" in text_of(lapsed)
    assert re.search(r'value="ramsay_hunt"\s+checked', text_of(lapsed))  # what was posted is still there
    with db_app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft is not None
        assert draft.answers["rf_eye"] == "no"  # earlier pages were not lost: they wait on the server
    # The resume link brings them back in the new session.
    confirm = client.get(f"/resume/{token}")
    client.post(f"/resume/{token}", data={"csrf_token": csrf_token(text_of(confirm))})
    assert re.search(r'value="injury"\s+checked', text_of(client.get("/questions/cause")))


def test_answers_posted_after_a_lapse_wait_while_the_earlier_page_is_asked(app: Flask, rules: RuleSet) -> None:
    client = app.test_client()
    post_page(client, "safety", CASE["answers"])
    form = text_of(client.get("/questions/cause"))
    client.delete_cookie("session")  # the earlier answers went with the cookie
    lapsed = client.post("/questions/cause", data={"csrf_token": csrf_token(form), "cause": "ramsay_hunt"})
    again = client.post("/questions/cause", data={"csrf_token": csrf_token(text_of(lapsed)), "cause": "ramsay_hunt"})
    assert again.headers["Location"] == "/questions/safety"  # asked first...
    assert post_page(client, "safety", CASE["answers"]).headers["Location"] == "/questions/cause"
    assert re.search(r'value="ramsay_hunt"\s+checked', text_of(client.get("/questions/cause")))  # ...and kept


def test_a_resume_link_after_the_stroke_stop_opens_the_emergency_page(db_app: Flask) -> None:
    client = db_app.test_client()
    token = _saved_draft(client)
    page = text_of(client.get("/questions/safety"))
    client.post("/questions/safety", data={"csrf_token": csrf_token(page), "rf_stroke_signs": "yes"})
    other = db_app.test_client()
    resumed = other.post(f"/resume/{token}", data={"csrf_token": csrf_token(text_of(other.get(f"/resume/{token}")))})
    assert resumed.headers["Location"] == "/emergency"
    assert "I chose that answer by mistake" in text_of(other.get("/emergency"))


@pytest.mark.parametrize("target", ["/send", "/questions/safety", "/questions/cause", "/start-again"])
def test_a_posted_draft_token_never_chooses_the_draft(db_app: Flask, rules: RuleSet, target: str) -> None:
    """A cross-site form (no cookie: SameSite=Lax) posting an attacker's own draft token must not
    make the victim's browser answer into that draft."""
    attacker = db_app.test_client()
    token = _saved_draft(attacker)
    victim = db_app.test_client()
    planted = victim.post(target, data={"draft_token": token, "rf_stroke_signs": "no"})
    assert planted.status_code in (302, 303, 400, 200)
    walk(victim, rules, {**CASE["answers"], "notes": "My own private note."})
    with db_app.app_context():
        draft = db.session.scalar(select(Draft).where(Draft.token_hash == token_hash(token)))
        assert draft is not None
        assert draft.answers.get("cause") == "injury"  # the attacker's draft holds only the attacker's answers
        assert "notes" not in draft.answers
        drafts = db.session.scalar(select(func.count()).select_from(Draft))
        assert drafts == 1  # the victim's answers stay in the victim's cookie


def test_expired_resume_link(db_app: Flask, db_client: FlaskClient) -> None:
    token = new_token()
    with db_app.app_context():
        db.session.add(Draft(token_hash=token_hash(token), answers={}, expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    response = db_client.get(f"/resume/{token}")
    assert response.status_code == 410
    assert "no longer available" in text_of(response)


def test_purge_removes_only_what_is_past_its_time(db_app: Flask) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    with db_app.app_context():
        gone, kept = Case(reference="gone", created_at=old), Case(reference="kept", created_at=old)
        db.session.add_all([gone, kept, CaseNote(case=gone, text="Called.")])
        db.session.flush()
        db.session.add_all(
            [
                Draft(token_hash="a" * 64, answers={}, expires_at=now - timedelta(minutes=1)),
                Draft(token_hash="b" * 64, answers={}, expires_at=now + timedelta(days=1)),
                Invitation(token_hash="c" * 64, expires_at=now - timedelta(days=1), case_id=kept.id),
                Invitation(token_hash="d" * 64, expires_at=now + timedelta(days=5)),
                Submission(
                    answers={},
                    result={},
                    triage="urgent",
                    rules_version="x",
                    rules_sha256="y",
                    submitted_at=old,
                    case_id=gone.id,
                ),
                Submission(
                    answers={},
                    result={},
                    triage="routine",
                    rules_version="x",
                    rules_sha256="y",
                    submitted_at=recent,
                    case_id=kept.id,
                ),
                ConsultationRequest(
                    reference="AAAA-AAAA", name="n", contact_time="any", consent_at=old, created_at=old, case_id=gone.id
                ),
                ConsultationRequest(
                    reference="BBBB-BBBB", name="n", contact_time="any", consent_at=recent, created_at=recent
                ),
                SignInFailure(account="e" * 64, address="x", at=now - timedelta(days=2)),
                SignInFailure(account="e" * 64, address="x", at=now - timedelta(minutes=5)),
            ]
        )
        staff = StaffUser(email="s@clinic.example", password_hash="x")
        db.session.add(staff)
        db.session.flush()
        db.session.add_all(
            [
                StaffSession(
                    token_hash="f" * 64, staff_id=staff.id, address="x", last_seen_at=now - timedelta(hours=1)
                ),
                StaffSession(token_hash="g" * 64, staff_id=staff.id, address="x", last_seen_at=now),
            ]
        )
        db.session.commit()
    result = db_app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0
    assert result.output.strip() == (
        "Deleted 1 ended staff sessions, 1 refused sign-ins over a day old, 0 sign-ins left at the code, "
        "0 spent two-factor codes over a day old, 1 drafts, 0 EHR launches never authorized, "
        "0 sent email notices over a week old, 1 consultation requests, 1 submissions, 0 gradings, 1 invitations, "
        "1 cases left empty; cleared 0 emailed links' seeds, 0 patient email addresses, 0 EHR tokens."
    )
    for model in (Draft, Invitation, Submission, ConsultationRequest, SignInFailure, StaffSession, Case):
        assert count(db_app, model) == 1
    assert count(db_app, CaseNote) == 0  # the notes went with their case
    with db_app.app_context():
        left = db.session.scalar(select(Case))
        assert left is not None
        assert (left.reference, left.checks, left.link_state, left.state) == ("kept", 1, None, "waiting")
    with db_app.app_context():
        assert set(purge(utcnow()).values()) == {0}
        purges = db.session.scalars(select(AuditEvent.target).where(AuditEvent.action == "purged")).all()
    assert purges == [
        "1 ended staff sessions, 1 refused sign-ins over a day old, 1 drafts, 1 consultation requests, "
        "1 submissions, 1 invitations, 1 cases left empty",
        "nothing",
    ]


def test_saving_with_an_urgent_answer_shows_the_advice_with_the_link(db_client: FlaskClient) -> None:
    safe = {
        "rf_stroke_signs": "no",
        "rf_eye": "no",
        "rf_ear_rash": "yes",
        "rf_both_sides": "no",
        "rf_progressive": "no",
    }
    saved = post_page(db_client, "safety", {**safe, "action": "save"})
    assert saved.headers["Location"] == "/saved"
    html = text_of(db_client.get("/saved"))
    assert html.index("Get medical care today") < html.index("/resume/")
    assert "Possible Ramsay Hunt syndrome" in html


def test_a_resume_link_never_silently_replaces_answers_in_progress(db_app: Flask, db_client: FlaskClient) -> None:
    sender = db_app.test_client()
    post_page(sender, "safety", {**CASE["answers"], "action": "save"})
    link = re.search(r"/resume/[A-Za-z0-9_-]+", text_of(sender.get("/saved")))
    assert link
    post_page(db_client, "safety", CASE["answers"])  # this person's own answers, in progress
    post_page(db_client, "cause", {"cause": "injury"})
    page = db_client.get(link.group(0))
    assert "already has other answers in progress" in text_of(page)
    assert db_client.post(link.group(0), data={}).status_code == 200  # no form token: nothing happens
    assert re.search(r'value="injury"\s+checked', text_of(db_client.get("/questions/cause")))  # still theirs
    # Once confirmed, the link the sender kept no longer opens what is typed from now on.
    db_client.post(link.group(0), data={"csrf_token": csrf_token(text_of(page))})
    assert sender.get(link.group(0)).status_code == 410


def test_the_clinic_s_email_is_in_the_clinic_s_language(mailing: tuple[Flask, Inbox]) -> None:
    app, inbox = mailing
    patient = app.test_client()
    patient.get("/?lang=es")  # a Spanish-speaking patient
    assert send_request(patient).status_code == 302
    deliver(app)
    assert inbox.messages[0]["Subject"].startswith("New consultation request")
    app.config["CLINIC_LANGUAGE"] = "es"
    assert send_request(patient).status_code == 302
    deliver(app)
    assert inbox.messages[1]["Subject"].startswith("Nueva solicitud de consulta")
