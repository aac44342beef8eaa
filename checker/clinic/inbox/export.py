"""The inbox as a CSV file for people: one row per check of every case in the chosen filter
and search, then a row for each emergency stop and each link not used; times in the clinic's
zone, each code beside its words, a UTF-8 byte-order mark (so a spreadsheet reads accents), and
no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Response, request, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ...cases import clinic_zone, stop_triage
from ...db import db, utcnow
from ...engine import RuleSet
from ...exports.clinical import flag_name, history_value, stage_name, triage_name
from ...measure import Measure
from ...models import Case, Invitation, Submission
from ...rules import current_rules
from ...stored import wording_of
from ..blueprint import bp
from ..records import audit
from .queue import chosen_filter, conditions, ordering

CSV_ANSWERS_JOINER = ";"
BYTE_ORDER_MARK = "\ufeff"
# The camera check, last: each eye's opening at rest, then its narrowing (%) on the smile and the
# pucker, and the affected eye's minus the other's (empty when both sides are weak).
CAMERA_COLUMNS = (
    "camera_affected_side",
    "camera_rest_opening_right",
    "camera_rest_opening_left",
    *(f"camera_{pose}_narrowing_{part}" for pose in ("smile", "pucker") for part in ("right", "left", "difference")),
)


def _camera_cells(measure: Measure | None) -> list[Any]:
    if measure is None:
        return [""] * len(CAMERA_COLUMNS)
    cells: list[Any] = [measure.side, round(measure.poses["rest"].right, 4), round(measure.poses["rest"].left, 4)]
    for pose in ("smile", "pucker"):
        difference = measure.difference(pose)
        cells += [round(100 * measure.narrowing(pose, "right"), 1), round(100 * measure.narrowing(pose, "left"), 1)]
        cells.append("" if difference is None else round(100 * difference, 1))
    return cells


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _time(moment: datetime | None) -> str:
    return moment.astimezone(clinic_zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def _header(rules: RuleSet) -> list[str]:
    zone = str(clinic_zone())
    header = ["case", "reference", "case_state", "assigned_to", "row", "link_label", "check_number"]
    header += ["link_state", f"submitted_at ({zone})", "rules_version", "triage", "triage_words"]
    header += ["red_flags", "red_flags_words", "outcome", "outcome_words", "saq_total", f"reviewed_at ({zone})"]
    for qid in rules.questions:
        header += [qid, f"{qid}_words"]
    return header + list(CAMERA_COLUMNS)


def _check_row(case: Case, check: Submission, number: int, rules: RuleSet) -> list[Any]:
    words = wording_of(check, rules)
    link = check.invitation
    flags = list(check.result.get("red_flags") or ())
    row: list[Any] = [*_case_cells(case), "check", link.label if link else "", number, "sent" if link else ""]
    row += [_time(check.submitted_at), check.rules_version, check.triage, triage_name(words, check.triage)]
    row += [" ".join(flags), "; ".join(flag_name(words, f) for f in flags)]
    row += [check.outcome or "", stage_name(words, check.outcome), check.saq_total, _time(check.reviewed_at)]
    for qid in rules.questions:
        value = check.answers.get(qid)
        row.append(CSV_ANSWERS_JOINER.join(map(str, value)) if isinstance(value, list) else value)
        row.append(history_value(words, qid, value) if qid in words.questions else "")
    return row + _camera_cells(check.measure)


def _link_row(case: Case, link: Invitation, now: datetime, rules: RuleSet, width: int) -> list[Any] | None:
    """A link that never brought a check: an emergency stop, or not used (yet)."""
    state = link.status(now)
    if state == "sent":
        return None
    kind = "emergency stop" if state == "stopped" else "link not used"
    row: list[Any] = [*_case_cells(case), kind, link.label, "", state, _time(link.stopped_at or link.flagged_at)]
    triage = stop_triage(rules) if state == "stopped" else link.flags_triage or ""
    row += ["", triage, triage_name(rules, triage) if triage in rules.severity else ""]
    known = {flag.id for flag in rules.red_flags}
    row += [" ".join(link.flags), "; ".join(flag_name(rules, f) for f in link.flags if f in known)]
    return row + [""] * (width - len(row))


def _case_cells(case: Case) -> list[Any]:
    return [case.id, case.reference, case.state, case.assigned_to.email if case.assigned_to else ""]


def _csv_rows(show: str, search: str) -> Iterator[str]:
    rules, now = current_rules(), utcnow()
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    writer = csv.writer(buffer)
    header = _header(rules)
    writer.writerow(header)
    query = (
        select(Case)
        .where(*conditions(show, search, now))
        .order_by(*ordering(show))
        .options(selectinload(Case.submissions), selectinload(Case.invitations), joinedload(Case.assigned_to))
    )
    for batch in db.session.execute(query.execution_options(yield_per=200)).scalars().partitions():
        for case in batch:
            for number, check in enumerate(case.submissions, start=1):
                writer.writerow([safe_cell(v) for v in _check_row(case, check, number, rules)])
            for link in case.invitations:
                row = _link_row(case, link, now, rules, len(header))
                if row is not None:
                    writer.writerow([safe_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.get("/inbox.csv")
def export_csv() -> Response:
    """The checks, stops and unused links of every case in the chosen filter and search."""
    show, search = chosen_filter(request.args)
    audit("exported CSV", f"inbox {show}" + (" (searched)" if search else ""))
    db.session.commit()
    response = Response(stream_with_context(_csv_rows(show, search)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="self-checks-{show}-{utcnow():%Y-%m-%d}.csv"'
    return response
