"""Benchmark the audit log and the invitations page on PostgreSQL with long histories.

Usage: python bench/lists.py [--events N] [--links N] [--rounds N]
Starts a throwaway PostgreSQL server (Debian's), migrates it, stores N audit events (100,000 by
default) and N links (10,000) on their cases, then prints the median time of the first and
the 50th page of the audit log (whole, by person, by case, by reference) and of the invitations
page (whole and searched). The target is under 100 ms a page. Not a test: the tests check that
the pages are right.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbox import median_ms  # noqa: E402
from checker import create_app  # noqa: E402
from checker.clinic.audit_log import Filters, page_of  # noqa: E402
from checker.clinic.inbox.views import links_page  # noqa: E402
from checker.db import db, register_migrations, utcnow  # noqa: E402
from checker.models import AuditEvent, Case, Invitation, StaffUser  # noqa: E402
from tests.databases import postgres_server  # noqa: E402

ACTIONS = ("viewed", "viewed inbox", "exported PDF", "marked reviewed", "added note", "created invitation")


def fill(events: int, links: int) -> None:
    rng = random.Random(11)  # noqa: S311  (made-up data, the same each run)
    now = utcnow()
    accounts = [{"email": f"staff{n}@clinic.example", "password_hash": "x"} for n in range(20)]
    db.session.execute(insert(StaffUser), accounts)
    staff = list(db.session.scalars(select(StaffUser.id)))
    cases = [{"id": n, "reference": f"MRN-{n:06d}", "reference_key": f"mrn-{n:06d}", "search_text": f"mrn-{n:06d}",
              "created_at": now, "since": now} for n in range(1, links + 1)]  # fmt: skip
    db.session.execute(insert(Case), cases)
    rows = [
        {"token_hash": f"{n:064x}", "case_id": n, "label": f"Clinic {n % 30}", "created_at": now - timedelta(minutes=n),
         "expires_at": now + timedelta(days=30)}
        for n in range(1, links + 1)
    ]  # fmt: skip
    db.session.execute(insert(Invitation), rows)
    for start in range(0, events, 10_000):
        batch = []
        for n in range(start, min(start + 10_000, events)):
            case = rng.randrange(1, links + 1)
            batch.append({"at": now - timedelta(seconds=n * 30), "staff_id": rng.choice(staff),
                          "action": rng.choice(ACTIONS), "target": f"case {case}", "case_id": case,
                          "reference": f"MRN-{case:06d}"})  # fmt: skip
        db.session.execute(insert(AuditEvent), batch)
    db.session.commit()
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


def fiftieth(next_page: Callable[[str | None], str | None]) -> tuple[str | None, int]:
    """The cursor of the 50th page (or the last there is), and its number."""
    cursor, number = None, 1
    while number < 50:
        following = next_page(cursor)
        if following is None:
            break
        cursor, number = following, number + 1
    return cursor, number


def report(rounds: int) -> None:
    print(f"{'list':<28} {'first page':>11} {'later page':>18}")
    for name, filters in [
        ("audit log", Filters()),
        ("audit log, one person", Filters(staff=db.session.scalar(select(StaffUser.id).limit(1)))),
        ("audit log, one kind", Filters(action="viewed")),
        ("audit log, one case", Filters(case=4242)),
        ("audit log, a reference", Filters(q="MRN-0042")),
    ]:
        cursor, number = fiftieth(lambda c, f=filters: page_of(f, c)[1])
        first = median_ms(lambda f=filters: page_of(f, None), rounds)
        later = median_ms(lambda f=filters, c=cursor: page_of(f, c), rounds)
        print(f"{name:<28} {first:>8.1f} ms {later:>8.1f} ms (p. {number})")
    for name, search in [("invitations", ""), ("invitations, searched", "mrn-00")]:
        cursor, number = fiftieth(lambda c, s=search: links_page(s, c)[1])
        first = median_ms(lambda s=search: links_page(s, None), rounds)
        later = median_ms(lambda s=search, c=cursor: links_page(s, c), rounds)
        print(f"{name:<28} {first:>8.1f} ms {later:>8.1f} ms (p. {number})")


def pages_over_http(app: Any, rounds: int) -> None:
    """The whole pages (query, rendering, audit row) as a signed-in admin's browser gets them."""
    import re

    from checker.clinic.accounts.staff import create_staff

    with app.app_context():
        create_staff("admin@clinic.example", "correct horse battery staple", "admin")
        db.session.commit()
    client = app.test_client()
    page = client.get("/staff/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/staff/sign-in", data={"csrf_token": token, "email": "admin@clinic.example",
                                        "password": "correct horse battery staple"})  # fmt: skip
    for name, address in [("audit log page", "/staff/audit"), ("invitations page", "/staff/invitations")]:
        number = 1
        while number < 50:
            found = re.search(r'class="pager__next" href="([^"]+)"', client.get(address).get_data(as_text=True))
            if not found:
                break
            address, number = found.group(1).replace("&amp;", "&"), number + 1
        timings = []
        for _ in range(rounds):
            start = time.perf_counter()
            assert client.get(address).status_code == 200
            timings.append((time.perf_counter() - start) * 1000)
        print(f"{name + ' over HTTP':<28} {'':>11} {statistics.median(timings):>8.1f} ms (p. {number})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    for server in postgres_server():
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": server.new_database()})
        register_migrations(app)  # a script, not the command line: Flask-Migrate is not registered
        with app.app_context(), app.test_request_context():
            upgrade()
            started = time.perf_counter()
            fill(options.events, options.links)
            took = time.perf_counter() - started
            print(f"stored {options.events:,} events and {options.links:,} links in {took:.0f} s")
            report(options.rounds)
            db.session.remove()
        pages_over_http(app, options.rounds)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
