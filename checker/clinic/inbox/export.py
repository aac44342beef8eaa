"""The inbox as a CSV file: one row per check in the chosen filter and search, answers by
question id, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context
from sqlalchemy import select

from ...db import db, utcnow
from ...models import Case, Submission
from ...rules import current_rules
from ..blueprint import bp
from ..records import audit
from .queue import chosen_filter, conditions, ordering

CSV_ANSWERS_JOINER = ";"


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(show: str, search: str) -> Iterator[str]:
    rules = current_rules()
    question_ids = list(rules.questions)
    header = ["case", "reference", "check", "submitted_at", "rules_version", "triage", "red_flags", "outcome"]
    header += ["saq_total", "reviewed_at", *question_ids]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    query = (
        select(Submission, Case.reference)
        .join(Case, Submission.case_id == Case.id)
        .where(*conditions(show, search, utcnow()))
        .order_by(*ordering(show), Submission.submitted_at, Submission.id)
    )
    for batch in db.session.execute(query.execution_options(yield_per=500)).partitions():
        for check, reference in batch:
            answers = check.answers
            row: list[Any] = [check.case_id, reference, check.id, check.submitted_at.isoformat(), check.rules_version]
            row += [check.triage, " ".join(check.result.get("red_flags") or ()), check.outcome or ""]
            row += [check.saq_total, check.reviewed_at.isoformat() if check.reviewed_at else ""]
            for qid in question_ids:
                value = answers.get(qid)
                row.append(CSV_ANSWERS_JOINER.join(map(str, value)) if isinstance(value, list) else value)
            writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.get("/inbox.csv")
def export_csv() -> Response:
    """The checks of every case in the chosen filter and search, answers by question id."""
    show, search = chosen_filter(request.args)
    audit("exported CSV", f"inbox {show}" + (" (searched)" if search else ""))
    db.session.commit()
    response = Response(stream_with_context(_csv_rows(show, search)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="self-checks-{show}-{utcnow():%Y-%m-%d}.csv"'
    return response
