"""One person, one record: a clinic reference names one open case; references corrected; two
cases merged with every check and link kept (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import date
from functools import partial

from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from checker import create_app
from checker.db import db
from checker.engine import RuleSet
from checker.models import Case, CaseNote, FollowUpSchedule, Invitation, Submission

from .conftest import TEST_CONFIG, at_once, csrf_token, make_staff, sign_in
from .test_cases import BASE, audit_actions, make_case
from .test_clinic import answer_link, make_follow_up, text_of


def open_cases(app: Flask) -> list[tuple[int, str, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(Case.id, Case.reference, Case.checks).where(Case.merged_into_id.is_(None)).order_by(Case.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_second_link_for_a_known_reference_joins_its_case(db_app: Flask, staff: FlaskClient, rules: RuleSet) -> None:
    first = make_case(staff, reference="MRN-100231")
    assert answer_link(db_app.test_client(), first, rules, BASE).status_code == 302
    # The same reference, typed differently: the same person.
    page = staff.get("/staff/invitations")
    made = staff.post(
        "/staff/invitations",
        data={"csrf_token": csrf_token(text_of(page)), "reference": " mrn-100231 ", "label": "", "days": "30"},
    )
    told = text_of(staff.get(made.headers["Location"]))
    assert "mrn-100231 already has a case: this follow-up link was added to it." in told
    (case_id, reference, checks), *others = open_cases(db_app)
    assert others == []
    assert (reference, checks) == ("MRN-100231", 1)
    with db_app.app_context():
        links = db.session.scalars(select(Invitation).where(Invitation.case_id == case_id).order_by(Invitation.id))
        assert [link.follow_up for link in links] == [False, True]  # the second asks to answer again
    # A new reference still makes a new case.
    make_case(staff, reference="MRN-100232")
    assert [row[1] for row in open_cases(db_app)] == ["MRN-100231", "MRN-100232"]


def test_two_staff_making_a_link_for_one_new_reference_at_once_make_one_case(db_app: Flask, staff: FlaskClient) -> None:
    other = db_app.test_client()
    make_staff(db_app, "second@clinic.example")
    sign_in(other, "second@clinic.example")
    forms = [
        (client, {"csrf_token": csrf_token(text_of(client.get("/staff/invitations"))), "reference": "MRN-777"})
        for client in (staff, other)
    ]
    answers = at_once(
        [partial(client.post, "/staff/invitations", data={**form, "days": "30"}) for client, form in forms]
    )
    assert [answer.status_code for answer in answers] == [302, 302]
    assert [row[1] for row in open_cases(db_app)] == ["MRN-777"]
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 2


def test_staff_add_and_correct_a_reference_but_never_take_another_cases(db_app: Flask, staff: FlaskClient) -> None:
    make_case(staff, reference="")
    make_case(staff, reference="MRN-2")
    (unnamed, _, _), (named, _, _) = open_cases(db_app)
    token = csrf_token(text_of(staff.get(f"/staff/cases/{unnamed}")))
    saved = staff.post(f"/staff/cases/{unnamed}/reference", data={"csrf_token": token, "reference": "MRN-1"})
    assert "Patient reference saved." in text_of(staff.get(saved.headers["Location"]))
    refused = staff.post(f"/staff/cases/{unnamed}/reference", data={"csrf_token": token, "reference": "mrn-2"})
    assert refused.headers["Location"].endswith(f"/staff/cases/{unnamed}?other={named}#merge")
    page = text_of(staff.get(refused.headers["Location"]))
    assert f"mrn-2 is already the reference of case {named}." in page
    assert re.search(rf'name="other" type="text"\s+value="{named}"', page)  # the merge form, filled in
    too_long = staff.post(f"/staff/cases/{unnamed}/reference", data={"csrf_token": token, "reference": "x" * 41})
    assert "Write 40 characters or fewer" in text_of(staff.get(too_long.headers["Location"]))
    assert [row[1] for row in open_cases(db_app)] == ["MRN-1", "MRN-2"]
    assert ("changed reference", f"case {unnamed} (- to MRN-1)") in audit_actions(db_app)
    # Cleared, the reference is free for another case.
    staff.post(f"/staff/cases/{named}/reference", data={"csrf_token": token, "reference": ""})
    staff.post(f"/staff/cases/{unnamed}/reference", data={"csrf_token": token, "reference": "MRN-2"})
    assert [row[1] for row in open_cases(db_app)] == ["MRN-2", ""]


def test_a_merge_keeps_every_check_and_link_and_the_old_links_still_work(
    db_app: Flask, staff: FlaskClient, rules: RuleSet
) -> None:
    first_link = make_case(staff, reference="MRN-A")
    assert answer_link(db_app.test_client(), first_link, rules, BASE).status_code == 302
    second_link = make_case(staff, reference="MRN-B")
    assert answer_link(db_app.test_client(), second_link, rules, BASE).status_code == 302
    (target, _, _), (source, _, _) = open_cases(db_app)
    unused = make_follow_up(staff, source)  # made before the merge, used after it
    with db_app.app_context():
        moved = db.session.get(Case, source)
        assert moved is not None
        moved.email, moved.language = "bo@example.org", "es"
        db.session.add(FollowUpSchedule(case_id=source, starts_on=date.today(), every_weeks=12))
        db.session.commit()
    token = csrf_token(text_of(staff.get(f"/staff/cases/{source}")))
    staff.post(f"/staff/cases/{source}/notes", data={"csrf_token": token, "text": "Called, left a message."})
    # Asked by reference, shown side by side, then merged.
    asked = staff.post(f"/staff/cases/{target}/merge", data={"csrf_token": token, "other": "mrn-b"})
    assert asked.status_code == 200
    assert "Merge MRN-B into MRN-A?" in text_of(asked)
    merged = staff.post(f"/staff/cases/{target}/merge/{source}", data={"csrf_token": csrf_token(text_of(asked))})
    assert f"Case {source} was merged into this case." in text_of(staff.get(merged.headers["Location"]))
    assert open_cases(db_app) == [(target, "MRN-A", 2)]
    with db_app.app_context():
        for part in (Invitation, Submission, CaseNote):
            assert db.session.scalar(select(func.count()).where(part.case_id == source)) == 0
        assert db.session.scalar(select(func.count()).where(Invitation.case_id == target)) == 3
        assert db.session.scalar(select(func.count()).where(Submission.case_id == target)) == 2
        gone = db.session.get(Case, source)
        assert gone is not None
        assert (gone.merged_into_id, gone.state, gone.reference_key) == (target, "merged", None)
        assert gone.reference == "MRN-B"  # kept on the merged record, for the audit trail
        kept = db.session.get(Case, target)
        assert kept is not None
        assert (kept.email, kept.language, gone.email) == ("bo@example.org", "es", None)
        assert db.session.scalar(select(FollowUpSchedule.case_id)) == target
    # The merged case's address leads to the case it joined; the inbox lists one case.
    moved = staff.get(f"/staff/cases/{source}")
    assert moved.headers["Location"] == f"/staff/cases/{target}"
    inbox = text_of(staff.get("/staff/?show=all&q=mrn"))
    assert re.findall(r"MRN-[AB]", inbox).count("MRN-B") == 0
    # The link made before the merge still works, and its check joins the merged case.
    assert answer_link(db_app.test_client(), unused, rules, BASE).status_code == 302
    assert open_cases(db_app) == [(target, "MRN-A", 3)]
    # The reference the merged case had is free again; merging twice, or into itself, is refused.
    again = staff.post(f"/staff/cases/{target}/merge/{source}", data={"csrf_token": token})
    assert "That case was already merged." in text_of(staff.get(again.headers["Location"]))
    for other in (str(target), "MRN-B", "no such case", "99999999999999999999"):
        refused = staff.post(f"/staff/cases/{target}/merge", data={"csrf_token": token, "other": other})
        assert refused.status_code == 302
        assert "No other open case has that number" in text_of(staff.get(refused.headers["Location"]))
    assert (
        "merged case",
        f"case {source} (MRN-B) into case {target} (MRN-A)",
    ) in audit_actions(db_app)
    assert staff.post(f"/staff/cases/{target}/merge/999999", data={"csrf_token": token}).status_code == 404


def test_cases_that_shared_a_reference_before_the_upgrade_are_offered_a_merge(database_url: str) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade(revision="0006")
        db.session.execute(
            text(
                "INSERT INTO clinic_case (id, reference, created_at, state, priority, since, has_request, requester,"
                " label, checks, search_text) VALUES (1, 'MRN-9', :t, 'open', 99, :t, false, '', '', 0, 'mrn-9'),"
                " (2, 'mrn-9 ', :t, 'open', 99, :t, false, '', '', 0, 'mrn-9'),"
                " (3, '', :t, 'open', 99, :t, false, '', '', 0, '')"
            ),
            {"t": "2026-01-01 00:00:00+00:00"},
        )
        db.session.commit()
        upgrade()
        keys = db.session.execute(select(Case.id, Case.reference_key).order_by(Case.id)).all()
        assert [tuple(k) for k in keys] == [(1, "mrn-9"), (2, None), (3, None)]
    make_staff(app)
    client = app.test_client()
    sign_in(client)
    page = text_of(client.get("/staff/cases/1"))
    assert "Case 2</a> has the same patient reference." in page
    assert "Merge case 2 into this one" in page
    assert "same patient reference" not in text_of(client.get("/staff/cases/3"))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
