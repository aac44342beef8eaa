"""Lists that scale: the audit log (keyset pages, filters, reference search, CSV) and the
invitations page (pages, search); what staff view and search is audited with the case."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from checker.db import db, utcnow
from checker.models import AuditEvent, Case, StaffUser

from .conftest import csrf_token, make_staff, sign_in
from .test_cases import make_case
from .test_clinic import text_of


def events_on(page: str) -> list[str]:
    return re.findall(r"<td data-label=\"What\">([^<]*)</td>", page)


def test_the_audit_log_pages_back_without_gaps_and_filters(db_app: Flask, staff: FlaskClient) -> None:
    make_case(staff, reference="MRN-AUD")
    with db_app.app_context():
        case_id = db.session.scalar(select(Case.id))
        nurse = db.session.scalar(select(StaffUser.id))
        start = utcnow() - timedelta(days=30)
        rows = [
            {"at": start + timedelta(hours=n), "staff_id": nurse, "action": "viewed", "target": f"event {n:03d}",
             "case_id": case_id if n % 2 else None, "reference": "MRN-AUD" if n % 2 else ""}
            for n in range(250)
        ]  # fmt: skip
        rows += [{"at": start + timedelta(hours=5), "staff_id": nurse, "action": "viewed", "target": f"tie {n}",
                  "case_id": None, "reference": ""} for n in range(3)]  # fmt: skip
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()
        total = db.session.query(AuditEvent).count()
    seen: list[str] = []
    address = "/staff/audit"
    while address:
        page = text_of(staff.get(address))
        found = events_on(page)
        assert len(found) <= 100
        seen += found
        next_link = re.search(r'class="pager__next" href="([^"]+)"', page)
        address = next_link.group(1).replace("&amp;", "&") if next_link else ""
    assert len(seen) == total  # every event once: no gap, no repeat, ties on the same second kept apart
    assert len(set(seen)) == total
    # Filters: the reference finds the case's events (and only those); a person; dates; a kind.
    page = text_of(staff.get("/staff/audit?q=mrn-a"))
    found = events_on(page)
    assert len(found) == 100  # 125 of the case's events, newest first
    assert all(e.startswith("viewed event") or "invitation" in e for e in found)
    assert "event 002" not in page
    day = (start + timedelta(hours=30)).date().isoformat()
    dated = events_on(text_of(staff.get(f"/staff/audit?from={day}&to={day}&action=viewed")))
    assert 0 < len(dated) <= 24
    assert events_on(text_of(staff.get(f"/staff/audit?staff={nurse + 1000}"))) == []
    # Tampered or strange parameters: the first page, never an error.
    for query in ("after=bm9wZQ", "after=%ff", "case=-1", "case=99999999999999", "from=2026-13-45", "staff=x", "q=%25"):
        assert staff.get(f"/staff/audit?{query}").status_code == 200, query
    # The CSV has the same filters, a byte-order mark, and is itself audited.
    exported = staff.get("/staff/audit.csv?q=MRN-AUD")
    assert exported.data.startswith("\ufeff".encode())
    lines = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert {line["reference"] for line in lines} == {"MRN-AUD"}
    assert len(lines) >= 125
    with db_app.app_context():
        last = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
        assert last is not None
        assert last.action == "exported audit log"
        assert '"q": "MRN-AUD"' in last.target


def test_only_admins_see_the_audit_log(db_app: Flask, staff: FlaskClient) -> None:
    make_staff(db_app, "second@clinic.example")  # the second account is staff, not admin
    other = db_app.test_client()
    sign_in(other, "second@clinic.example")
    assert other.get("/staff/audit").status_code == 403
    assert other.get("/staff/audit.csv").status_code == 403


def test_viewing_links_and_searching_are_audited_with_the_case(db_app: Flask, staff: FlaskClient) -> None:
    made = staff.post(
        "/staff/invitations",
        data={"csrf_token": csrf_token(text_of(staff.get("/staff/invitations"))), "reference": "MRN-V", "days": "30"},
    )
    staff.get(made.headers["Location"])
    staff.get("/staff/?show=all&q=mrn-v")
    staff.get("/staff/invitations?q=mrn")
    with db_app.app_context():
        events = [(e.action, e.target, e.reference) for e in db.session.scalars(select(AuditEvent))]
    invitation_id = made.headers["Location"].rsplit("/", 1)[1]
    assert ("viewed", f"invitation {invitation_id}", "MRN-V") in events
    assert ("created invitation", f"invitation {invitation_id}", "MRN-V") in events
    assert ("viewed inbox", "all search 'mrn-v'", "") in events
    assert ("viewed invitations", "search 'mrn'", "") in events
    page = text_of(staff.get("/staff/audit?q=MRN-V"))
    assert 'href="/staff/cases/' in page


def test_the_invitations_page_pages_and_searches(db_app: Flask, staff: FlaskClient) -> None:
    for n in range(55):
        make_case(staff, reference=f"MRN-{n:03d}", label="Fri 6 Dec" if n == 7 else "")
    first = text_of(staff.get("/staff/invitations"))
    names = re.findall(r">(MRN-\d{3})</a></th>", first)
    assert names[0] == "MRN-054"
    assert len(names) == 50
    later = re.search(r'class="pager__next" href="([^"]+)"', first)
    assert later
    rest = re.findall(r">(MRN-\d{3})</a></th>", text_of(staff.get(later.group(1).replace("&amp;", "&"))))
    assert rest == ["MRN-004", "MRN-003", "MRN-002", "MRN-001", "MRN-000"]
    assert re.findall(r">(MRN-\d{3})</a></th>", text_of(staff.get("/staff/invitations?q=fri+6"))) == ["MRN-007"]
    assert "No link matches this search." in text_of(staff.get("/staff/invitations?q=nobody"))
    assert staff.get("/staff/invitations?after=%ff%00").status_code in (200, 400)
