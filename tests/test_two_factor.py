"""Two-step sign-in: enrolment, codes that work once, recovery codes, and no way around it."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from functools import partial
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from checker import create_app
from checker.db import db, utcnow
from checker.models import AuditEvent, PendingSignIn, SignInFailure, StaffSession, StaffUser

from .conftest import TEST_CONFIG, at_once, csrf_token, make_staff, session_text, sign_in


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def required(db_app: Flask) -> Flask:
    db_app.config["TWO_FACTOR"] = "required"
    make_staff(db_app)
    return db_app


def enter(client: FlaskClient, code: str) -> Any:
    page = client.get("/staff/sign-in/code")
    return client.post("/staff/sign-in/code", data={"csrf_token": csrf_token(text_of(page)), "code": code})


def enrol(client: FlaskClient) -> tuple[str, list[str]]:
    """Sign in for the first time; the secret from the page, and the recovery codes shown."""
    assert sign_in(client).headers["Location"] == "/staff/sign-in/code"
    page = text_of(client.get("/staff/sign-in/code"))
    assert "Set up two-step sign-in" in page
    assert "<svg" in page  # the QR code, inline
    found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)
    assert found
    secret = found.group(1).replace(" ", "")  # shown in groups of four, for typing
    done = enter(client, pyotp.TOTP(secret).now())
    assert done.headers["Location"] == "/staff/recovery-codes"
    codes = re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", text_of(client.get("/staff/recovery-codes")))
    assert len(codes) == 10
    assert client.get("/staff/recovery-codes").headers["Location"] == "/staff/"  # shown once
    return secret, codes


def test_enrolment_on_first_sign_in_then_a_code_each_time(required: Flask) -> None:
    first = required.test_client()
    secret, _ = enrol(first)
    assert first.get("/staff/").status_code == 200
    with required.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user is not None
        assert user.totp_secret == secret
        assert all(len(h) == 64 for h in user.recovery_codes)  # only hashes are kept
    later = required.test_client()
    assert sign_in(later).headers["Location"] == "/staff/sign-in/code"
    assert "Enter your sign-in code" in text_of(later.get("/staff/sign-in/code"))
    assert later.get("/staff/").headers["Location"].startswith("/staff/sign-in")  # the password alone opens nothing
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next code: the one used at enrolment cannot come back
    assert enter(later, code).headers["Location"] == "/staff/"
    replay = required.test_client()
    sign_in(replay)
    refused = enter(replay, code)  # the same code again, within its 30 seconds
    assert refused.status_code == 422
    assert "not right, or it was used already" in text_of(refused)


def test_wrong_codes_are_throttled_like_passwords(required: Flask) -> None:
    client = required.test_client()
    secret, _ = enrol(client)
    other = required.test_client()
    sign_in(other)
    for _ in range(5):
        assert enter(other, "000000").status_code == 422
    assert enter(other, pyotp.TOTP(secret).at(time.time() + 30)).status_code == 422  # waits, even for the right code
    with required.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("two-factor code refused") == 6


def test_a_recovery_code_works_once(required: Flask) -> None:
    client = required.test_client()
    _, codes = enrol(client)
    lost_phone = required.test_client()
    sign_in(lost_phone)
    assert enter(lost_phone, codes[3].lower()).headers["Location"] == "/staff/"
    again = required.test_client()
    sign_in(again)
    assert enter(again, codes[3]).status_code == 422
    with required.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user is not None
        assert len(user.recovery_codes) == 9


def test_the_code_step_expires_and_needs_a_password_first(required: Flask) -> None:
    stranger = required.test_client()
    assert stranger.get("/staff/sign-in/code").headers["Location"] == "/staff/sign-in"
    client = required.test_client()
    sign_in(client)
    with required.app_context():
        db.session.execute(update(PendingSignIn).values(created_at=utcnow() - timedelta(seconds=301)))
        db.session.commit()
    assert client.get("/staff/sign-in/code").headers["Location"] == "/staff/sign-in"


def test_a_cookie_signed_with_the_key_cannot_say_the_password_was_right(required: Flask) -> None:
    """Whoever knows the secret key can write any session cookie: still no way past the password."""
    with required.app_context():
        user_id = db.session.scalar(select(StaffUser.id))
    forger = required.test_client()
    with forger.session_transaction() as session:
        session["pending_sign_in"] = "a-token-of-the-forger's-own-making-1234"
        session["pending_staff"] = {"id": user_id, "at": time.time(), "next": None}  # the old way of saying it
    assert forger.get("/staff/sign-in/code").headers["Location"] == "/staff/sign-in"


def test_no_secret_is_ever_in_the_session_cookie(required: Flask) -> None:
    client = required.test_client()
    sign_in(client)
    page = text_of(client.get("/staff/sign-in/code"))
    found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)
    assert found
    secret = found.group(1).replace(" ", "")
    assert secret not in session_text(required, client)  # the secret being enrolled stays on the server
    assert enter(client, pyotp.TOTP(secret).now()).headers["Location"] == "/staff/recovery-codes"
    cookie = session_text(required, client)  # signed in, recovery codes not yet shown
    codes = re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", text_of(client.get("/staff/recovery-codes")))
    assert len(codes) == 10
    for code in codes:
        assert code not in cookie
        assert code.replace("-", "") not in cookie


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "１２３４５６", "12345\u0663"])
def test_digits_of_other_scripts_are_a_wrong_code_and_counted(required: Flask, code: str) -> None:
    enrol(required.test_client())
    client = required.test_client()
    sign_in(client)
    refused = enter(client, code)
    assert refused.status_code == 422
    assert "not right, or it was used already" in text_of(refused)
    with required.app_context():
        assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 1


def _past_the_password(app: Flask, count: int) -> list[FlaskClient]:
    clients = [app.test_client() for _ in range(count)]
    for client in clients:
        assert sign_in(client).headers["Location"] == "/staff/sign-in/code"
    return clients


def _all_at_once(clients: list[FlaskClient], code: str) -> list[int]:
    """Each client sends ``code`` at the same moment; the statuses."""
    forms = [csrf_token(text_of(c.get("/staff/sign-in/code"))) for c in clients]
    sends = [
        partial(c.post, "/staff/sign-in/code", data={"csrf_token": f, "code": code})
        for c, f in zip(clients, forms, strict=True)
    ]
    return [response.status_code for response in at_once(sends)]


def test_one_code_sent_by_eight_browsers_at_once_opens_one_session(required: Flask) -> None:
    secret, _ = enrol(required.test_client())
    clients = _past_the_password(required, 8)
    statuses = _all_at_once(clients, pyotp.TOTP(secret).at(time.time() + 30))
    assert sorted(statuses) == [302] + [422] * 7
    with required.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 2  # enrolment's and one


def test_one_recovery_code_sent_by_six_browsers_at_once_opens_one_session(required: Flask) -> None:
    _, codes = enrol(required.test_client())
    clients = _past_the_password(required, 6)
    statuses = _all_at_once(clients, codes[0])
    assert sorted(statuses) == [302] + [422] * 5
    with required.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 2


def test_a_lost_phone_is_reset_from_the_command_line(required: Flask) -> None:
    client = required.test_client()
    enrol(client)
    done = required.test_cli_runner().invoke(args=["staff", "reset-two-factor", "nurse@clinic.example"])
    assert "Two-step sign-in reset for nurse@clinic.example" in done.output
    assert client.get("/staff/").status_code == 302  # its sessions ended
    enrol(required.test_client())  # and it enrols again


def test_production_requires_two_factor_by_default() -> None:
    key = "5f1c0e9a7b3d28c64e0f9a1b7c3d5e2f8a6b4c0d9e1f3a5b7c9d0e2f4a6b8c1d"
    production = {"ENV": "production", "SECRET_KEY": key, "BASE_URL": "https://selfcheck.clinic.example"}
    assert create_app(production).config["TWO_FACTOR"] == "required"
    assert create_app({**TEST_CONFIG})
    assert create_app({**TEST_CONFIG}).config["TWO_FACTOR"] == "optional"


def test_optional_two_factor_still_asks_an_enrolled_account(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    with db_app.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user is not None
        user.totp_secret = pyotp.random_base32()
        db.session.commit()
    assert sign_in(db_client).headers["Location"] == "/staff/sign-in/code"
