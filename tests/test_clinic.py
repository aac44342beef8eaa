"""Staff accounts, invitations, the inbox and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from checker.db import db, utcnow
from checker.engine import RuleSet
from checker.models import AuditEvent, ConsultationRequest, Draft, Invitation, Submission

from .conftest import VIGNETTES, at_once, csrf_token, make_staff, post_page, session_text, sign_in, walk

CASE = next(c for c in VIGNETTES if c["name"] == "ramsay-hunt-eye-and-ear")


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def make_invitation(client: FlaskClient, label: str = "Tue 3 Dec, 10:30", days: str = "30") -> str:
    page = client.get("/staff/invitations")
    made = client.post(
        "/staff/invitations", data={"csrf_token": csrf_token(text_of(page)), "label": label, "days": days}
    )
    assert made.status_code == 302
    return shown_link(client, made.headers["Location"])


def shown_link(client: FlaskClient, location: str) -> str:
    """The path of the link shown (once) on a new link's page."""
    html = text_of(client.get(location))
    match = re.search(r'id="invitation-link" type="text" value="https?://[^/"]+(/i/[^"]+)"', html)
    assert match, html
    return match.group(1)


def make_follow_up(client: FlaskClient, case_id: int, days: str = "30") -> str:
    page = client.get(f"/staff/cases/{case_id}")
    data = {"csrf_token": csrf_token(text_of(page)), "days": days}
    made = client.post(f"/staff/cases/{case_id}/follow-up", data=data)
    assert made.status_code == 302, text_of(made)
    return shown_link(client, made.headers["Location"])


def answer_link(client: FlaskClient, link: str, rules: RuleSet, answers: dict[str, Any]) -> Any:
    """Open a clinic's link, answer every page and send; the response to "Send"."""
    client.post(link, data={"csrf_token": csrf_token(text_of(client.get(link)))})
    walk(client, rules, answers)
    return client.post("/send", data={"csrf_token": csrf_token(text_of(client.get("/check-answers")))})


def test_sign_in_and_out(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    assert sign_in(db_client).headers["Location"] == "/staff/"
    assert "Inbox" in text_of(db_client.get("/staff/"))
    token = csrf_token(text_of(db_client.get("/staff/")))
    assert db_client.post("/staff/sign-out", data={"csrf_token": token}).headers["Location"] == "/staff/sign-in"
    assert db_client.get("/staff/").status_code == 302


def test_every_staff_page_needs_sign_in(db_app: Flask, db_client: FlaskClient) -> None:
    # Open by design: signing in, its code step, and setting a password (the link's token is the key).
    open_pages = {"clinic.sign_in", "clinic.set_password"}
    rules = [r for r in db_app.url_map.iter_rules() if r.rule.startswith("/staff") and r.endpoint not in open_pages]
    assert len(rules) >= 12
    for rule in rules:
        url = re.sub(r"<int:\w+>", "1", rule.rule).replace("<action>", "disable")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = db_client.open(url, method=method)
            assert response.status_code == 302, (method, url)
            assert response.headers["Location"].startswith("/staff/sign-in"), (method, url)


@pytest.mark.parametrize(
    ("wanted", "location"),
    [("//evil.example/", "/staff/"), ("/staff/%0d%0aSet-Cookie:%20x=1", "/staff/"), ("/staffing", "/staff/"),
     ("/staff/audit", "/staff/audit")],
)  # fmt: skip
def test_sign_in_goes_on_only_to_staff_pages(db_app: Flask, db_client: FlaskClient, wanted: str, location: str) -> None:
    """Never off the site, and never to an address that cannot be a header (a 500 once)."""
    make_staff(db_app)
    page = db_client.get(f"/staff/sign-in?next={wanted}")
    response = db_client.post(
        f"/staff/sign-in?next={wanted}",
        data={
            "csrf_token": csrf_token(text_of(page)),
            "email": "nurse@clinic.example",
            "password": "correct horse battery",
        },
    )
    assert response.headers["Location"] == location


def test_an_id_no_row_can_have_is_a_404_not_a_database_error(db_app: Flask, db_client: FlaskClient) -> None:
    """Every route with a row id, for numbers past what a database integer holds (SQLite could
    not bind one: a 500; PostgreSQL refused it: a 503 saying the database was down)."""
    make_staff(db_app)
    sign_in(db_client)
    token = csrf_token(text_of(db_client.get("/staff/")))
    routes = [r for r in db_app.url_map.iter_rules() if any(a.endswith("_id") for a in r.arguments)]
    assert len(routes) > 15
    for number in (0, 2**31, 10**23):
        for rule in routes:
            values = {name: number if name.endswith("_id") else "disable" for name in rule.arguments}
            path = rule.rule
            for name, value in values.items():
                path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = db_client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
                assert response.status_code == 404, (method, path)


def test_invitation_journey_into_the_inbox(db_app: Flask, db_client: FlaskClient, rules: RuleSet) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client)
    assert len(link.split("/")[-1]) >= 22  # at least 128 bits in URL-safe base64
    # The link is shown once and never stored.
    with db_app.app_context():
        stored = db.session.scalar(select(Invitation.token_hash))
    assert stored is not None
    assert link.split("/")[-1] not in stored

    patient = db_app.test_client()
    welcome = text_of(patient.get(link))
    assert "Facial Nerve Clinic asked you to complete this check before your visit" in welcome
    started = patient.post(link, data={"csrf_token": csrf_token(welcome)})
    assert started.headers["Location"] == "/questions/safety"
    answers = dict(CASE["answers"], notes="The left eye waters at dinner.")
    walk(patient, rules, answers)
    check = text_of(patient.get("/check-answers"))
    assert "Send my answers and see my result" in check
    sent = patient.post("/send", data={"csrf_token": csrf_token(check)})
    assert sent.headers["Location"] == "/result"
    result = text_of(patient.get("/result"))
    assert "Your answers were sent to Facial Nerve Clinic" in result

    # The link now says plainly that it was used.
    used = patient.get(link)
    assert used.status_code == 410
    assert "already been used" in text_of(used)

    inbox = text_of(db_client.get("/staff/"))
    assert "Tue 3 Dec, 10:30" in inbox
    with db_app.app_context():
        record = db.session.scalar(select(Submission))
        assert record is not None
        assert record.invitation is not None
        assert record.invitation.used_at is not None
        assert record.result["red_flags"] == ["eye_exposure", "ear_rash"]
        assert record.rules_sha256 == rules.sha256
        submission_id = record.id
    detail = text_of(db_client.get(f"/staff/submissions/{submission_id}"))
    assert detail.index("Red flags") < detail.index("Answers")  # red flags at the top
    assert "Your eye may be at risk" in detail
    assert "Nerve injury and recovery" in detail
    assert re.search(r"SAQ total</dt><dd>Not asked", detail)  # under 3 weeks: no linked-movement questions
    assert "The left eye waters at dinner." in detail
    assert "Is the eye on the weak side unable to close all the way" in detail  # the questionnaire's wording
    reviewed = db_client.post(f"/staff/submissions/{submission_id}/reviewed", data={"csrf_token": csrf_token(detail)})
    assert reviewed.status_code == 302
    assert "Reviewed by nurse@clinic.example" in text_of(db_client.get(reviewed.headers["Location"]))
    assert "Tue 3 Dec" not in text_of(db_client.get("/staff/?show=waiting"))
    assert "Tue 3 Dec" in text_of(db_client.get("/staff/?show=reviewed"))
    with db_app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[:4] == ["created admin account", "signed in", "viewed invitations", "created invitation"]
    assert "viewed" in actions
    assert "viewed inbox" in actions
    assert "marked reviewed" in actions
    assert "marked reviewed" in text_of(db_client.get("/staff/audit"))


def _posted_link(client: FlaskClient, label: str) -> str:
    """Make a link without following the redirect: its page's address."""
    page = client.get("/staff/invitations")
    made = client.post(
        "/staff/invitations", data={"csrf_token": csrf_token(text_of(page)), "label": label, "days": "30"}
    )
    assert made.status_code == 302
    return str(made.headers["Location"])


def test_a_new_link_is_shown_only_on_its_own_page_once(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    page_a = _posted_link(db_client, "RACE-A")
    page_b = _posted_link(db_client, "RACE-B")  # made before A's page was opened (a second tab)
    assert "/i/" not in session_text(db_app, db_client)  # no link in the (signed, readable) cookie
    link_a = shown_link(db_client, page_a)
    link_b = shown_link(db_client, page_b)
    assert link_a != link_b
    assert 'id="invitation-link"' not in text_of(db_client.get(page_a))  # once
    db_app.test_client().get(link_a)
    with db_app.app_context():
        opened = {i.label: i.opened_at is not None for i in db.session.scalars(select(Invitation))}
    assert opened == {"RACE-A": True, "RACE-B": False}  # A's page showed A's link


def test_a_new_link_is_shown_to_whoever_made_it(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    make_staff(db_app, "doctor@clinic.example")
    sign_in(db_client)
    page = _posted_link(db_client, "Wed 4 Dec")
    colleague = db_app.test_client()
    sign_in(colleague, "doctor@clinic.example")
    assert 'id="invitation-link"' not in text_of(colleague.get(page))  # neither shown to them nor used up
    assert shown_link(db_client, page).startswith("/i/")


def test_a_link_seed_is_taken_once(db_app: Flask, db_client: FlaskClient) -> None:
    from checker.shown_once import take_token

    make_staff(db_app)
    sign_in(db_client)
    page = _posted_link(db_client, "Thu 5 Dec")
    with db_app.app_context():
        record = db.session.scalars(select(Invitation)).one()
        assert record.link_seed is not None
        # Another request takes the seed after this one read the row: this one's UPDATE finds nothing.
        db.session.execute(update(Invitation).values(link_seed=None).execution_options(synchronize_session=False))
        assert record.link_seed is not None  # still the stale copy
        assert take_token(record) is None
    assert 'id="invitation-link"' not in text_of(db_client.get(page))


def test_a_link_made_under_an_old_secret_key_is_not_shown_wrong(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    page = _posted_link(db_client, "Fri 6 Dec")
    db_app.secret_key = db_app.config["SECRET_KEY"] = "another-secret"  # the key changed before the page opened
    db_app.config["SECRET_KEY_FALLBACKS"] = ["test-secret"]  # the cookie still reads
    html = text_of(db_client.get(page))
    assert 'id="invitation-link"' not in html  # never a link that would not open
    assert "If it was lost, send a new one" in html


def test_expired_and_unknown_links_say_so(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client, days="1")
    with db_app.app_context():
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    expired = db_app.test_client().get(link)
    assert expired.status_code == 410
    assert "This link has expired" in text_of(expired)
    unknown = db_app.test_client().get("/i/" + "x" * 32)
    assert unknown.status_code == 404
    assert "This link does not work" in text_of(unknown)


@pytest.mark.parametrize(
    ("label", "days", "message"),
    [("x" * 81, "30", "80 characters"), ("", "0", "from 1 to 365"), ("", "soon", "Enter a whole number, like 30")],
)
def test_invitation_form_errors(db_app: Flask, db_client: FlaskClient, label: str, days: str, message: str) -> None:
    make_staff(db_app)
    sign_in(db_client)
    page = db_client.get("/staff/invitations")
    response = db_client.post(
        "/staff/invitations", data={"csrf_token": csrf_token(text_of(page)), "label": label, "days": days}
    )
    assert response.status_code == 422
    assert message in text_of(response)
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Invitation.id))) == 0


def test_a_link_gives_one_submission_only(db_app: Flask, db_client: FlaskClient, rules: RuleSet) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client)
    first, second = db_app.test_client(), db_app.test_client()
    first.post(link, data={"csrf_token": csrf_token(text_of(first.get(link)))})
    walk(first, rules, CASE["answers"])
    stale_form = text_of(first.get("/check-answers"))
    second.post(link, data={"csrf_token": csrf_token(text_of(second.get(link)))})  # takes the answers over
    second.post("/send", data={"csrf_token": csrf_token(text_of(second.get("/check-answers")))})
    late = first.post("/send", data={"csrf_token": csrf_token(stale_form)})
    assert late.status_code == 302
    assert second.get(link).status_code == 410
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 1


def test_the_invitation_link_brings_answers_back_in_another_browser(
    db_app: Flask, db_client: FlaskClient, rules: RuleSet
) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client)
    phone = db_app.test_client()
    phone.post(link, data={"csrf_token": csrf_token(text_of(phone.get(link)))})
    post_page(phone, "safety", CASE["answers"])
    post_page(phone, "cause", CASE["answers"])
    laptop = db_app.test_client()
    resumed = laptop.post(link, data={"csrf_token": csrf_token(text_of(laptop.get(link)))})
    assert resumed.headers["Location"] == "/questions/weakness"
    assert re.search(r'value="ramsay_hunt"\s+checked', text_of(laptop.get("/questions/cause")))


@pytest.mark.parametrize("action", ["continue", "save"])
def test_emergency_stop_through_a_clinic_link(db_app: Flask, db_client: FlaskClient, action: str) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client)
    patient = db_app.test_client()
    welcome = text_of(patient.get(link))
    patient.post(link, data={"csrf_token": csrf_token(welcome)})
    page = text_of(patient.get("/questions/safety"))
    data = {"csrf_token": csrf_token(page), "rf_stroke_signs": "yes", "action": action}
    assert patient.post("/questions/safety", data=data).headers["Location"] == "/emergency"
    assert "Call 911 now" in text_of(patient.get("/emergency"))
    for url in ("/questions/cause", "/check-answers", "/result"):
        assert patient.get(url).headers["Location"] == "/emergency"
    # The link opened again, here or in another browser, goes straight back to the emergency page.
    assert patient.get(link).headers["Location"] == "/emergency"
    other = db_app.test_client()
    reopened = other.post(link, data={"csrf_token": csrf_token(text_of(other.get(link)))})
    assert reopened.headers["Location"] == "/emergency"
    emergency = text_of(other.get("/emergency"))
    assert "Call 911 now" in emergency
    assert "I chose that answer by mistake" in emergency  # with the way back to the safety answers


def _invited_patient(db_app: Flask, db_client: FlaskClient, days: str = "30") -> tuple[FlaskClient, str]:
    """A patient who opened a clinic link and answered everything, up to the Send button."""
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client, days=days)
    patient = db_app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    walk(patient, db_app.extensions["checker.rules"], VIGNETTES[4]["answers"])
    return patient, link


def count_submissions(db_app: Flask) -> int:
    with db_app.app_context():
        return len(db.session.scalars(select(Submission)).all())


@pytest.mark.parametrize("staff_action", ["revoke", "resend"])
def test_revoking_while_the_patient_sends_ends_one_way(
    db_app: Flask, db_client: FlaskClient, staff_action: str
) -> None:
    """Staff revoke (or replace) the link at the moment the patient presses "Send my answers":
    never a server error, and either the answers are kept and the link is sent, or the link is
    revoked and nothing was kept; each side is told which."""
    make_staff(db_app)
    sign_in(db_client)
    outcomes = set()
    for round_number in range(6):
        link = make_invitation(db_client, label=f"race {round_number}")
        patient = db_app.test_client()
        patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
        walk(patient, db_app.extensions["checker.rules"], VIGNETTES[4]["answers"])
        with db_app.app_context():
            invitation_id = db.session.scalar(select(Invitation.id).where(Invitation.label == f"race {round_number}"))
        send_form = {"csrf_token": csrf_token(text_of(patient.get("/check-answers")))}
        staff_form = {"csrf_token": csrf_token(text_of(db_client.get(f"/staff/invitations/{invitation_id}")))}
        withdraw = f"/staff/invitations/{invitation_id}/{staff_action}"
        answered, staff_answered = at_once(
            [partial(patient.post, "/send", data=send_form), partial(db_client.post, withdraw, data=staff_form)]
        )
        answers = {"patient": answered, "staff": staff_answered}
        assert answers["patient"].status_code in (302, 410), text_of(answers["patient"])[:500]
        assert answers["staff"].status_code == 302
        with db_app.app_context():
            invitation = db.session.get(Invitation, invitation_id)
            assert invitation is not None
            kept = db.session.scalar(select(func.count()).where(Submission.invitation_id == invitation_id))
            sent, revoked = invitation.used_at is not None, invitation.revoked_at is not None
        assert sent != revoked  # one outcome, never both
        assert kept == (1 if sent else 0)
        told = text_of(db_client.get(f"/staff/invitations/{invitation_id}"))
        if sent:
            assert answers["patient"].headers["Location"] == "/result"
            assert "Any answers started with it were deleted" not in told
        else:
            assert answers["patient"].status_code == 410
            assert "This link was withdrawn" in text_of(answers["patient"])
        outcomes.add("sent" if sent else "revoked")
    assert outcomes  # (which one wins each round is up to the race)


@pytest.mark.parametrize("staff_action", ["revoke", "resend"])
def test_send_after_the_link_was_withdrawn_says_so(db_app: Flask, db_client: FlaskClient, staff_action: str) -> None:
    """The withdrawal lands just before the patient's Send (it deletes the answers started with
    the link): the patient is told the link was withdrawn, not sent back to an empty check."""
    patient, _link = _invited_patient(db_app, db_client)
    send_form = {"csrf_token": csrf_token(text_of(patient.get("/check-answers")))}
    with db_app.app_context():
        invitation_id = db.session.scalars(select(Invitation.id)).one()
    staff_form = {"csrf_token": csrf_token(text_of(db_client.get(f"/staff/invitations/{invitation_id}")))}
    assert db_client.post(f"/staff/invitations/{invitation_id}/{staff_action}", data=staff_form).status_code == 302
    answered = patient.post("/send", data=send_form)
    assert answered.status_code == 410
    assert "This link was withdrawn" in text_of(answered)
    assert count_submissions(db_app) == 0


def test_send_twice_shows_what_was_sent(db_app: Flask, db_client: FlaskClient) -> None:
    patient, _ = _invited_patient(db_app, db_client)
    check = text_of(patient.get("/check-answers"))
    cookie = patient.get_cookie("session")
    assert cookie is not None
    first = patient.post("/send", data={"csrf_token": csrf_token(check)})
    assert first.headers["Location"] == "/result"
    patient.set_cookie("session", cookie.value)  # the second click left before the first's answer came back
    second = patient.post("/send", data={"csrf_token": csrf_token(check)})
    assert second.headers["Location"] == "/result"
    assert "Your answers were sent to Facial Nerve Clinic" in text_of(patient.get("/result"))
    assert count_submissions(db_app) == 1
    with db_app.app_context():
        assert [d.answers for d in db.session.scalars(select(Draft))] == [{}]  # no second copy of the answers


def test_send_at_the_same_moment_twice_is_no_error(db_app: Flask, db_client: FlaskClient) -> None:
    import threading

    patient, _ = _invited_patient(db_app, db_client)
    check = text_of(patient.get("/check-answers"))
    cookie = patient.get_cookie("session")
    assert cookie is not None
    statuses: list[str] = []

    def click() -> None:
        browser = db_app.test_client()
        browser.set_cookie("session", cookie.value)
        response = browser.post("/send", data={"csrf_token": csrf_token(check)})
        statuses.append(response.headers.get("Location", str(response.status_code)))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert statuses == ["/result", "/result"]
    assert count_submissions(db_app) == 1


def test_a_started_check_can_be_sent_after_the_link_expires(db_app: Flask, db_client: FlaskClient) -> None:
    patient, link = _invited_patient(db_app, db_client, days="1")
    with db_app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert invitation is not None
        invitation.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    assert db_app.test_client().get(link).status_code == 200  # the link still brings back the started answers
    check = text_of(patient.get("/check-answers"))
    assert patient.post("/send", data={"csrf_token": csrf_token(check)}).headers["Location"] == "/result"
    assert count_submissions(db_app) == 1
    assert db_app.test_client().get(link).status_code == 410  # and once sent, it is used


def test_an_expired_link_never_started_says_so(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client, days="1")
    with db_app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert invitation is not None
        invitation.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    expired = db_app.test_client().get(link)
    assert expired.status_code == 410
    assert "This link has expired" in text_of(expired)


def test_saving_a_clinic_check_says_when_the_link_was_for(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client, days="2")
    patient = db_app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(text_of(patient.get(link)))})
    post_page(patient, "safety", {**VIGNETTES[4]["answers"], "action": "save"})
    assert "link was made to be used by" in text_of(patient.get("/saved"))


def test_typed_names_and_labels_cannot_reorder_the_staff_pages(db_app: Flask, db_client: FlaskClient) -> None:
    """A direction control character (or right-to-left text) in a name or label stays inside it."""
    from .test_requests_and_drafts import send_request

    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client, label="Mon\u202e 9 Dec")
    invitations = text_of(db_client.get("/staff/invitations"))
    assert "<bdi>Mon\u202e 9 Dec</bdi>" in invitations
    case_page = re.search(r'href="(/staff/cases/\d+)"', invitations)
    assert case_page
    case_html = text_of(db_client.get(case_page.group(1)))
    title = re.search(r"<title>(.*?)</title>", case_html, re.S)
    assert title
    assert "Mon\u202e 9 Dec" in title.group(1)
    assert "bdi" not in title.group(1)  # a title holds no tags
    patient = db_app.test_client()
    assert patient.get(link).status_code == 200
    assert send_request(patient, name="Ana\u202etlaeh").status_code == 302
    inbox = text_of(db_client.get("/staff/?show=all"))
    assert "Asked to be contacted: \u2068Ana\u202etlaeh\u2069 (" in inbox  # the reference stays outside
    with db_app.app_context():
        asked = db.session.scalars(select(ConsultationRequest)).one()
        request_id, case_id = asked.id, asked.case_id
    assert "<bdi>Ana\u202etlaeh</bdi>" in text_of(db_client.get(f"/staff/requests/{request_id}"))
    assert ": <bdi>Ana\u202etlaeh</bdi></a>" in text_of(db_client.get(f"/staff/cases/{case_id}"))
