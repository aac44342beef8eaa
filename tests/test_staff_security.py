"""The staff side against an attacker: sessions that end, sign-in that neither races nor leaks."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from checker.db import db, utcnow
from checker.models import AuditEvent, SignInFailure, StaffSession

from .conftest import at_once, csrf_token, make_staff, sign_in


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def without_token(html: str) -> str:
    """The page less what differs by design: the form token and the email typed, echoed back."""
    html = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", html)
    return html.replace("nobody@clinic.example", "EMAIL").replace("nurse@clinic.example", "EMAIL")


def failures(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(SignInFailure)) or 0)


def age_failures(app: Flask, by: timedelta) -> None:
    with app.app_context():
        for failure in db.session.scalars(select(SignInFailure)):
            failure.at -= by
        db.session.commit()


def test_a_copied_cookie_stops_working_at_sign_out(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    assert sign_in(db_client).status_code == 302
    stolen = db_client.get_cookie("session")
    assert stolen is not None
    inbox = text_of(db_client.get("/staff/"))
    db_client.post("/staff/sign-out", data={"csrf_token": csrf_token(inbox)})
    thief = db_app.test_client()
    thief.set_cookie("session", stolen.value)
    for url in ("/staff/", "/staff/audit", "/staff/invitations"):
        assert thief.get(url).headers["Location"].startswith("/staff/sign-in"), url
    with db_app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("viewed") == 0  # nothing recorded "after" the sign-out


def test_idle_and_absolute_limits_end_a_session(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    assert db_client.get("/staff/").status_code == 200
    with db_app.app_context():
        db.session.execute(update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        db.session.commit()
    assert db_client.get("/staff/").status_code == 302  # idle for over 30 minutes
    sign_in(db_client)
    with db_app.app_context():
        db.session.execute(update(StaffSession).values(created_at=utcnow() - timedelta(hours=12, minutes=1)))
        db.session.commit()
    assert db_client.get("/staff/").status_code == 302  # busy, but signed in over 12 hours ago
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 0  # ended sessions are gone


def test_a_session_is_bound_to_the_client_address_not_to_a_header(db_app: Flask) -> None:
    make_staff(db_app)
    victim = db_app.test_client()
    victim.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    sign_in(victim)
    stolen = victim.get_cookie("session")
    assert stolen is not None
    thief = db_app.test_client()
    thief.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    thief.set_cookie("session", stolen.value)
    # Claiming the victim's address in a header does not help: no proxy is configured to say so.
    response = thief.get("/staff/", headers={"X-Forwarded-For": "192.0.2.10", "User-Agent": "victim's browser"})
    assert response.headers["Location"].startswith("/staff/sign-in")


def test_the_same_answer_for_every_email_and_every_reason(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    wrong = sign_in(db_client, password="not the password")
    unknown = sign_in(db_client, email="nobody@clinic.example", password="not the password")
    assert wrong.status_code == unknown.status_code == 422
    assert without_token(text_of(wrong)) == without_token(text_of(unknown))
    for _ in range(4):
        sign_in(db_client, password="not the password")
        sign_in(db_client, email="nobody@clinic.example", password="not the password")
    throttled = sign_in(db_client)  # the right password, while sign-in waits
    unknown_throttled = sign_in(db_client, email="nobody@clinic.example")
    assert throttled.status_code == unknown_throttled.status_code == 422
    assert without_token(text_of(throttled)) == without_token(text_of(wrong))
    assert without_token(text_of(unknown_throttled)) == without_token(text_of(wrong))
    with db_app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("sign-in failed") == 10
    assert actions.count("sign-in throttled") == 2


def test_sign_in_backs_off_and_then_lets_the_right_password_in(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    for _ in range(5):
        sign_in(db_client, password="not the password")
    assert sign_in(db_client).status_code == 422  # waits a minute after the fifth
    age_failures(db_app, timedelta(minutes=1))
    assert sign_in(db_client, password="still not it").status_code == 422
    assert sign_in(db_client).status_code == 422  # each failure while waiting makes the wait longer
    age_failures(db_app, timedelta(minutes=1, seconds=1))
    assert sign_in(db_client).status_code == 422
    age_failures(db_app, timedelta(minutes=15))
    assert sign_in(db_client).status_code == 302
    assert failures(db_app) == 0  # a good sign-in clears its own address's failures


def test_an_attacker_cannot_keep_the_owner_out(db_app: Flask) -> None:
    make_staff(db_app)
    attacker = db_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for _ in range(60):  # far beyond the limit, from one address
        sign_in(attacker, password="guess guess guess")
    owner = db_app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert sign_in(owner).status_code == 302


def test_parallel_wrong_passwords_are_all_counted(db_app: Flask) -> None:
    make_staff(db_app)
    statuses: list[int] = []

    def attempt() -> None:
        statuses.append(sign_in(db_app.test_client(), password="wrong password here").status_code)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [422] * 20
    assert failures(db_app) == 20
    assert sign_in(db_app.test_client()).status_code == 422  # the right password waits


def test_a_cookie_forged_with_the_key_opens_nothing(db_app: Flask) -> None:
    """Even someone holding the secret key cannot sign a way in: a session must exist on the server."""
    make_staff(db_app)
    forger = db_app.test_client()
    with forger.session_transaction() as session:
        session["_user_id"] = "1"
        session["_fresh"] = True
        session["staff_session"] = "a-made-up-token-of-the-right-length-000"
    for url in ("/staff/", "/staff/audit", "/staff/accounts"):
        assert forger.get(url).headers["Location"].startswith("/staff/sign-in"), url


def test_no_remember_me_cookie_is_set_and_one_opens_nothing(db_app: Flask, db_client: FlaskClient) -> None:
    """The app never sets Flask-Login's remember-me cookie (its hook stays, as the library has it:
    taking it off saved under 5%), and such a cookie, even signed with the key, opens nothing."""
    from flask_login.utils import encode_cookie

    make_staff(db_app)
    with db_app.test_request_context():
        db_client.set_cookie("remember_token", encode_cookie("1"))  # the staff member's id
    assert db_client.get("/staff/").headers["Location"].startswith("/staff/sign-in")
    signed_in = sign_in(db_client)
    assert not [c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]


def _at_once(count: int, send: Callable[[int], int]) -> list[int]:
    """``send(n)`` from ``count`` threads released together; the status each ``n`` got."""
    return at_once([partial(send, n) for n in range(count)])


def _judged(app: Flask, action: str) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


def test_ten_wrong_passwords_at_once_are_judged_five_at_most(db_app: Flask) -> None:
    """Each try is counted before it is judged: of ten at once from one address, the limit's five
    are judged and the rest wait, as if they had come one after another."""
    make_staff(db_app)
    clients = [db_app.test_client() for _ in range(10)]
    pages = [csrf_token(text_of(c.get("/staff/sign-in"))) for c in clients]

    def send(number: int) -> int:
        data = {"csrf_token": pages[number], "email": "nurse@clinic.example", "password": "wrong password here"}
        return int(clients[number].post("/staff/sign-in", data=data).status_code)

    assert _at_once(10, send) == [422] * 10
    assert _judged(db_app, "sign-in failed") == 5
    assert _judged(db_app, "sign-in throttled") == 5


def test_wrong_codes_from_many_addresses_at_once_are_judged_five_each_at_most(db_app: Flask) -> None:
    db_app.config["TWO_FACTOR"] = "required"
    make_staff(db_app)
    addresses = [f"192.0.2.{n}" for n in range(1, 5)]
    clients = []
    for address in addresses:
        for _ in range(8):
            client = db_app.test_client()
            client.environ_base["REMOTE_ADDR"] = address
            assert sign_in(client).headers["Location"] == "/staff/sign-in/code"
            clients.append(client)
    with db_app.app_context():  # the passwords were right: nothing counts against the code step yet
        db.session.execute(update(SignInFailure).values(at=utcnow()))
        assert failures(db_app) == 0
    pages = [csrf_token(text_of(c.get("/staff/sign-in/code"))) for c in clients]

    def send(number: int) -> int:
        data = {"csrf_token": pages[number], "code": "000000"}
        return int(clients[number].post("/staff/sign-in/code", data=data).status_code)

    assert _at_once(len(clients), send) == [422] * len(clients)
    with db_app.app_context():
        judged = db.session.execute(
            select(SignInFailure.address, func.count())
            .where(SignInFailure.while_throttled.is_(False))
            .group_by(SignInFailure.address)
        ).all()
    assert dict(judged) == dict.fromkeys(addresses, 5)


def test_a_sign_out_with_a_stale_form_token_still_signs_out(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    sign_in(db_client)
    signed_out = db_client.post("/staff/sign-out", data={"csrf_token": "a page left open since yesterday"})
    assert signed_out.headers["Location"] == "/staff/sign-in"
    assert db_client.get("/staff/").headers["Location"].startswith("/staff/sign-in")
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_a_password_link_used_by_four_browsers_at_once_sets_one_password(db_app: Flask) -> None:
    from checker.clinic.accounts.staff import create_staff, password_link
    from checker.shown_once import take_token

    with db_app.app_context():
        user = create_staff("new@clinic.example", "quiet lantern meadow fox", "staff")
        token = take_token(password_link(user, None))
    link = f"/staff/set-password/{token}"
    clients = [db_app.test_client() for _ in range(4)]
    pages = [csrf_token(text_of(c.get(link))) for c in clients]
    passwords = [f"tidal {n} harbour lantern meadow" for n in range(4)]

    def send(number: int) -> int:
        data = {"csrf_token": pages[number], "password": passwords[number], "again": passwords[number]}
        return int(clients[number].post(link, data=data).status_code)

    statuses = _at_once(4, send)
    assert sorted(statuses) == [302, 410, 410, 410]
    told = [text_of(c.get("/staff/sign-in")).count("Your password is set") for c in clients]
    assert told == [1 if status == 302 else 0 for status in statuses]
    signed_in = [
        sign_in(db_app.test_client(), "new@clinic.example", password).status_code == 302 for password in passwords
    ]
    assert signed_in.count(True) == 1
    assert signed_in.index(True) == statuses.index(302)  # the password the page said was set is the one that works


def test_an_invited_admin_who_never_set_a_password_is_not_another_admin(db_app: Flask) -> None:
    from checker.clinic.accounts.staff import UNUSABLE, create_staff, set_role

    with db_app.app_context():
        only = create_staff("only@clinic.example", "quiet lantern meadow fox", "admin")
        invited = create_staff("invited@clinic.example", "tidal harbour lantern meadow", "admin")
        invited.password_hash = UNUSABLE  # invited, link never used
        db.session.commit()
        with pytest.raises(ValueError, match="only admin"):
            set_role(only, "staff")
        assert only.role == "admin"
