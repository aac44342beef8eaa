"""Benchmark the staff inbox on PostgreSQL with many stored checks.

Usage: python bench/inbox.py [--cases N] [--rounds N]
Starts a throwaway PostgreSQL server (Debian's), migrates it, stores N cases (100,000 by
default) each with one self-check, then prints the median time for the first page and a
later page of every inbox filter, the counts, a search and the CSV's first rows. The
target is under 100 ms for each page. Not a test: the tests check that the pages are right.
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

from flask_migrate import upgrade
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker import create_app  # noqa: E402
from checker.clinic.inbox.queue import FILTERS, counts, page_of  # noqa: E402
from checker.db import db, register_migrations, utcnow  # noqa: E402
from checker.models import Case, Submission  # noqa: E402
from tests.databases import postgres_server  # noqa: E402

TRIAGE = ("emergency", "urgent", "prompt", "routine")
LINK_STATES = ("not_opened", "opened", "started", "stopped", "sent")


def fill(total: int) -> None:
    """Cases with a spread of triage, states, links and waiting times, inserted in batches."""
    rng = random.Random(7)  # noqa: S311  (made-up data, the same each run)
    now = utcnow()
    batch = 5000
    for start in range(0, total, batch):
        cases, checks = [], []
        for n in range(start, min(start + batch, total)):
            triage = rng.choices(TRIAGE, weights=(1, 4, 20, 75))[0]
            since = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            cases.append(
                {
                    "id": n + 1,
                    "reference": f"MRN-{n:06d}",
                    "created_at": since,
                    "state": rng.choices(("waiting", "reviewed", "open"), weights=(30, 60, 10))[0],
                    "priority": TRIAGE.index(triage),
                    "triage": triage,
                    "since": since,
                    "has_request": rng.random() < 0.2,
                    "requester": "",
                    "label": "",
                    "link_state": rng.choices(LINK_STATES, weights=(5, 2, 3, 1, 89))[0],
                    "link_expires_at": since + timedelta(days=30),
                    "outcome": "stage-2",
                    "saq_total": 40.0,
                    "checks": 1,
                    "search_text": f"mrn-{n:06d}",
                }
            )
            checks.append(
                {
                    "case_id": n + 1,
                    "answers": {"cause": "bells_palsy"},
                    "result": {"red_flags": []},
                    "outcome": "stage-2",
                    "triage": triage,
                    "saq_total": 40.0,
                    "rules_version": "2026.2",
                    "rules_sha256": "0" * 64,
                    "started_at": since,
                    "submitted_at": since,
                    "status": "new",
                }
            )
        db.session.execute(insert(Case), cases)
        db.session.execute(insert(Submission), checks)
        db.session.commit()
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


def median_ms(work: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        timings.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    return statistics.median(timings)


def report(rounds: int) -> None:
    now = utcnow()
    print(f"{'filter':<12} {'rows':>8} {'first page':>11} {'later page':>14}")
    for key in FILTERS:
        cursor, number = None, 1
        while number < 21:  # walk on to the 21st page, or the last there is, to time a later one
            following = page_of(key, "", cursor, now).next_cursor
            if following is None:
                break
            cursor, number = following, number + 1
        first = median_ms(lambda key=key: page_of(key, "", None, now), rounds)
        later = median_ms(lambda key=key, c=cursor: page_of(key, "", c, now), rounds)
        print(f"{key:<12} {counts('', now)[key]:>8,} {first:>8.1f} ms {later:>6.1f} ms (p. {number})")
    print(f"counts of every filter: {median_ms(lambda: counts('', now), rounds):.1f} ms")
    print(f"search by reference: {median_ms(lambda: page_of('all', 'mrn-04242', None, now), rounds):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    for server in postgres_server():
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": server.new_database()})
        register_migrations(app)  # a script, not the command line: Flask-Migrate is not registered
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            fill(options.cases)
            print(f"stored {options.cases:,} cases and checks in {time.perf_counter() - started:.0f} s")
            report(options.rounds)
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
