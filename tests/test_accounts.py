"""Staff accounts: NIST passwords and checked emails, roles, and the staff commands."""

from __future__ import annotations

import re
import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from checker.db import db
from checker.models import AuditEvent, SignInFailure, StaffSession, StaffUser

from .conftest import csrf_token, make_staff, session_text, sign_in

GOOD = "tumble violet harbor ninety"


def run(app: Flask, *args: str, password: str | None = None) -> tuple[int, str]:
    entered = f"{password}\n{password}\n" if password is not None else None
    done = app.test_cli_runner().invoke(args=["staff", *args], input=entered)
    return done.exit_code, done.output


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (" " * 12, "too easy to guess"),
        ("a" * 12, "too easy to guess"),
        ("Password1234", "too easy to guess"),
        ("nurseclinic2026", "too easy to guess"),  # built from the email
        ("short", "at least 12 characters"),
        ("x7#" * 86, "at most 256 characters"),
    ],
)
def test_weak_passwords_are_refused_everywhere(db_app: Flask, password: str, message: str) -> None:
    code, output = run(db_app, "create", "nurse@clinic.example", password=password)
    assert code == 1
    assert message in output
    assert "Traceback" not in output


@pytest.mark.parametrize("email", ["@", "x@", "nurse", "nurse@clinic", "a b@clinic.example"])
def test_staff_emails_are_checked(db_app: Flask, email: str) -> None:
    code, output = run(db_app, "create", email, password=GOOD)
    assert code == 1
    assert "is not an email address" in output


def test_a_long_password_can_be_made_and_used(db_app: Flask, db_client: FlaskClient) -> None:
    long = ("harbor violet tumble " * 13)[:256]
    assert run(db_app, "create", "nurse@clinic.example", password=long)[0] == 0
    assert sign_in(db_client, password=long).status_code == 302  # the form takes all 256 characters


def test_passwords_are_never_an_argument(db_app: Flask) -> None:
    code, output = run(db_app, "create", "nurse@clinic.example", "--password", GOOD)
    assert code == 2
    assert "No such option '--password'" in output


def test_the_staff_commands(db_app: Flask) -> None:
    assert run(db_app, "create", "Lead@Clinic.Example", password=GOOD) == (
        0,
        _prompted("Created admin account lead@clinic.example."),
    )
    assert run(db_app, "create", "nurse@clinic.example", password=GOOD)[1].endswith(
        "Created staff account nurse@clinic.example.\n"
    )
    assert "already a staff account" in run(db_app, "create", "nurse@clinic.example", password=GOOD)[1]
    listing = run(db_app, "list")[1]
    assert "lead@clinic.example\tadmin\tactive\tlast sign-in never\t0 session(s)" in listing
    assert "nurse@clinic.example\tstaff\tactive" in listing
    assert run(db_app, "set-role", "nurse@clinic.example", "admin")[1] == "nurse@clinic.example is now admin.\n"
    assert run(db_app, "disable", "nurse@clinic.example")[0] == 0
    assert "nurse@clinic.example\tadmin\tdisabled" in run(db_app, "list")[1]
    assert "only admin account" in run(db_app, "disable", "lead@clinic.example")[1]  # someone must manage the rest
    assert run(db_app, "enable", "nurse@clinic.example")[0] == 0
    assert run(db_app, "reset-password", "nurse@clinic.example", password="quiet lantern meadow fox")[0] == 0
    assert "there is no staff account for ghost@clinic.example" in run(db_app, "disable", "ghost@clinic.example")[1]
    with db_app.app_context():
        db.session.add(SignInFailure(account="x", address="y"))
        db.session.commit()
    assert audit_actions(db_app) == [
        "created admin account", "created staff account", "set role admin", "disabled account",
        "enabled account", "changed password",
    ]  # fmt: skip


def _prompted(message: str) -> str:
    hidden = "Password (12 to 256 characters): \nRepeat for confirmation: \n"
    return hidden + message + "\n"


def test_disabling_or_a_new_password_ends_every_session(db_app: Flask) -> None:
    make_staff(db_app)
    browser = db_app.test_client()
    sign_in(browser)
    assert browser.get("/staff/").status_code == 200
    run(db_app, "create", "lead@clinic.example", "--role", "admin", password=GOOD)
    run(db_app, "reset-password", "nurse@clinic.example", password="quiet lantern meadow fox")
    assert browser.get("/staff/").status_code == 302
    assert sign_in(browser, password="quiet lantern meadow fox").status_code == 302
    run(db_app, "disable", "nurse@clinic.example")
    assert browser.get("/staff/").status_code == 302
    assert sign_in(browser, password="quiet lantern meadow fox").status_code == 422  # refused like a wrong password
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_unlock_lets_a_waiting_account_try_again(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)
    for _ in range(5):
        sign_in(db_client, password="not the password")
    assert sign_in(db_client).status_code == 422
    assert (
        "Unlocked nurse@clinic.example (6 refused sign-in(s) forgotten)."
        in run(db_app, "unlock", "nurse@clinic.example")[1]
    )
    assert sign_in(db_client).status_code == 302


def test_only_admins_open_the_audit_log(db_app: Flask, db_client: FlaskClient) -> None:
    make_staff(db_app)  # the first account: admin
    with db_app.app_context():
        from checker.clinic.accounts.staff import create_staff

        create_staff("helper@clinic.example", GOOD, "staff")
    sign_in(db_client, email="helper@clinic.example", password=GOOD)
    inbox = db_client.get("/staff/").get_data(as_text=True)
    assert "Audit log" not in inbox
    refused = db_client.get("/staff/audit")
    assert refused.status_code == 403
    assert "This page is for the clinic" in refused.get_data(as_text=True)
    admin = db_app.test_client()
    sign_in(admin)
    assert admin.get("/staff/audit").status_code == 200
    assert csrf_token(inbox)


def test_accounts_made_before_roles_become_admins(database_url: str, tmp_path: object) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from checker import create_app

    from .conftest import TEST_CONFIG

    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade(revision="0001")
        db.session.execute(
            text(
                "INSERT INTO staff_user (email, password_hash, created_at, failed_sign_ins) "
                "VALUES ('old@clinic.example', 'x', CURRENT_TIMESTAMP, 3)"
            )
        )
        db.session.commit()
        upgrade()
        user = db.session.scalar(select(StaffUser))
        assert user is not None
        assert (user.email, user.role, user.active) == ("old@clinic.example", "admin", True)
        db.session.remove()
        db.engine.dispose()


def _admin_client(app: Flask) -> FlaskClient:
    make_staff(app)  # the first account: admin
    client = app.test_client()
    sign_in(client)
    return client


def test_an_admin_adds_an_account_whose_owner_sets_the_password(db_app: Flask) -> None:
    admin = _admin_client(db_app)
    page = admin.get("/staff/accounts").get_data(as_text=True)
    made = admin.post(
        "/staff/accounts", data={"csrf_token": csrf_token(page), "email": "New@Clinic.Example", "role": "staff"}
    )
    assert made.status_code == 302
    assert "set-password" not in session_text(db_app, admin)  # never in the (signed, readable) cookie
    shown = admin.get(made.headers["Location"]).get_data(as_text=True)
    link = re.search(r'id="password-link" type="text" value="https?://[^/"]+(/staff/set-password/[^"]+)"', shown)
    assert link
    assert 'id="password-link"' not in admin.get(made.headers["Location"]).get_data(as_text=True)  # shown once
    owner = db_app.test_client()
    form = owner.get(link.group(1)).get_data(as_text=True)
    assert "For the staff account new@clinic.example." in form
    mismatch = owner.post(link.group(1), data={"csrf_token": csrf_token(form), "password": GOOD, "again": GOOD + "x"})
    assert "The two passwords are not the same" in mismatch.get_data(as_text=True)
    weak = owner.post(link.group(1), data={"csrf_token": csrf_token(form), "password": "a" * 12, "again": "a" * 12})
    assert "too easy to guess" in weak.get_data(as_text=True)
    done = owner.post(link.group(1), data={"csrf_token": csrf_token(form), "password": GOOD, "again": GOOD})
    assert done.headers["Location"] == "/staff/sign-in"
    assert sign_in(owner, email="new@clinic.example", password=GOOD).status_code == 302
    assert db_app.test_client().get(link.group(1)).status_code == 410  # used once
    assert "made a password link" in audit_actions(db_app)


def test_admin_actions_on_an_account(db_app: Flask) -> None:
    admin = _admin_client(db_app)
    with db_app.app_context():
        from checker.clinic.accounts.staff import create_staff

        helper = create_staff("helper@clinic.example", GOOD, "staff").id
    other = db_app.test_client()
    sign_in(other, email="helper@clinic.example", password=GOOD)
    assert other.get("/staff/accounts").status_code == 403  # staff do not manage accounts
    page = admin.get(f"/staff/accounts/{helper}").get_data(as_text=True)
    admin.post(f"/staff/accounts/{helper}/disable", data={"csrf_token": csrf_token(page)})
    assert other.get("/staff/").status_code == 302  # signed out at once
    assert "Disabled" in admin.get(f"/staff/accounts/{helper}").get_data(as_text=True)
    with db_app.app_context():
        me = db.session.scalar(select(StaffUser.id).where(StaffUser.email == "nurse@clinic.example"))
    demote = admin.post(f"/staff/accounts/{me}/make-staff", data={"csrf_token": csrf_token(page)})
    assert "without an admin" in admin.get(demote.headers["Location"]).get_data(as_text=True)
    assert admin.post(f"/staff/accounts/{helper}/explode", data={"csrf_token": csrf_token(page)}).status_code == 404
    assert admin.post(f"/staff/accounts/{helper}/enable", data={}).status_code == 302  # no token: nothing done
    assert "Disabled" in admin.get(f"/staff/accounts/{helper}").get_data(as_text=True)


@pytest.mark.parametrize("change", ["make-staff", "disable"])
def test_two_admins_taking_each_others_rights_at_once_leave_one_admin(
    db_app: Flask, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Two admins, each demoting (or disabling) the other at the same moment: one change must
    be refused, or the clinic is left with no admin. The first change is held open, uncommitted,
    while the second runs in another connection, as two requests in two workers would."""
    from checker.clinic.accounts import staff as accounts

    make_staff(db_app, "first@clinic.example", GOOD)  # the first account: admin
    make_staff(db_app, "second@clinic.example", GOOD)
    with db_app.app_context():
        accounts.set_role(accounts.find_staff("second@clinic.example"), "admin")

    def take(email: str) -> None:
        user = accounts.find_staff(email)
        if change == "disable":
            accounts.set_active(user, False)
        else:
            accounts.set_role(user, "staff")

    changed, release = threading.Event(), threading.Event()
    audited = accounts.record

    def held_open(action: str, user: StaffUser, by: StaffUser | None) -> None:
        audited(action, user, by)
        if threading.current_thread() is first:  # changed, not yet committed
            changed.set()
            release.wait(5)

    monkeypatch.setattr(accounts, "record", held_open)
    outcomes: dict[str, str] = {}

    def attempt(email: str) -> None:
        with db_app.app_context():
            try:
                take(email)
                outcomes[email] = "done"
            except ValueError as exc:
                outcomes[email] = str(exc)
            finally:
                db.session.remove()

    first = threading.Thread(target=attempt, args=("second@clinic.example",))
    second = threading.Thread(target=attempt, args=("first@clinic.example",))
    first.start()
    assert changed.wait(5)
    second.start()
    second.join(0.5)  # it waits for the first change to commit (or, unfixed, runs past it)
    release.set()
    first.join(10)
    second.join(10)
    assert outcomes["second@clinic.example"] == "done"
    assert "only admin" in outcomes["first@clinic.example"]
    with db_app.app_context():
        admins = db.session.scalars(select(StaffUser.email).where(StaffUser.role == "admin", StaffUser.active))
        assert list(admins) == ["first@clinic.example"]


def test_creating_an_account_that_exists_says_so_before_asking_for_a_password(db_app: Flask) -> None:
    run(db_app, "create", "lead@clinic.example", password=GOOD)
    code, output = run(db_app, "create", "Lead@Clinic.example")  # nothing typed: no prompt may come
    assert code == 1
    assert "Password" not in output
    assert "there is already a staff account for lead@clinic.example" in output
    code, output = run(db_app, "create", "not an email")
    assert (code, "Password" in output) == (1, False)
    assert "is not an email address" in output


def test_an_account_added_twice_at_the_same_moment_is_refused_not_a_server_error(
    db_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins adding the same email at once both find it free; the database's unique email
    refuses the second, which must read as "already", like the check before it."""
    from checker.clinic.accounts import staff as accounts

    admin = _admin_client(db_app)
    with db_app.app_context():
        accounts.create_staff("helper@clinic.example", GOOD)
    monkeypatch.setattr(accounts, "available_email", accounts.checked_email)  # the check raced past
    page = admin.get("/staff/accounts").get_data(as_text=True)
    again = admin.post(
        "/staff/accounts",
        data={"csrf_token": csrf_token(page), "email": "helper@clinic.example", "role": "staff"},
    )
    assert again.status_code == 422
    assert "There is already an account for this email address" in again.get_data(as_text=True)
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 2
