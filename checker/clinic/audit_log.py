"""The audit log for admins: newest first, 100 events a page with keyset paging (a page costs
the same however far back it is), filtered by person, kind, case and dates, searchable by
patient reference, and exportable as CSV with the same filters."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response, abort, render_template, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import joinedload

from ..cases import clinic_zone
from ..db import db, like_pattern, utcnow
from ..models import AuditEvent, Case, StaffUser
from ..urls import LARGEST_ID
from .blueprint import bp
from .inbox.export import BYTE_ORDER_MARK, safe_cell
from .paging import cursor_of, older_than
from .records import audit

PAGE_SIZE = 100
MOST_CASES_SEARCHED = 500


@dataclass(frozen=True)
class Filters:
    staff: int | None = None
    action: str = ""
    case: int | None = None
    q: str = ""  # a patient reference, or its beginning
    since: date | None = None
    until: date | None = None

    def query_args(self) -> dict[str, Any]:
        args = {"staff": self.staff, "action": self.action, "case": self.case, "q": self.q}
        args |= {
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
        }
        return {key: value for key, value in args.items() if value}


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 11 and 0 < int(text) <= LARGEST_ID else None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def chosen(args: Mapping[str, str]) -> Filters:
    """The filters an address asks for; anything unreadable is left out, never an error."""
    return Filters(
        _number(args.get("staff")),
        args.get("action", "").strip()[:40],
        _number(args.get("case")),
        args.get("q", "").strip()[:40],
        _day(args.get("from")),
        _day(args.get("to")),
    )


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    zone = clinic_zone()
    if filters.staff:
        found.append(AuditEvent.staff_id == filters.staff)
    if filters.action:
        found.append(AuditEvent.action == filters.action)
    if filters.case:
        found.append(AuditEvent.case_id == filters.case)
    if filters.q:
        pattern = like_pattern(filters.q.lower(), start="")
        cases = select(Case.id).where(func.lower(Case.reference).like(pattern, escape="\\"))
        ids = list(db.session.scalars(cases.limit(MOST_CASES_SEARCHED)))
        found.append(
            or_(AuditEvent.case_id.in_(ids), AuditEvent.reference == filters.q)
            if ids
            else AuditEvent.reference == filters.q
        )
    if filters.since:
        found.append(AuditEvent.at >= datetime.combine(filters.since, time(0), zone).astimezone(UTC))
    if filters.until:
        found.append(AuditEvent.at < datetime.combine(filters.until + timedelta(days=1), time(0), zone).astimezone(UTC))
    return found


def _query(filters: Filters) -> Select[Any]:
    return (
        select(AuditEvent)
        .where(*_conditions(filters))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .options(joinedload(AuditEvent.staff))
    )


def page_of(filters: Filters, cursor: str | None, size: int = PAGE_SIZE) -> tuple[list[AuditEvent], str | None]:
    """One page of events, newest first, after ``cursor``; and the next page's cursor."""
    query = _query(filters)
    if (older := older_than(AuditEvent.at, AuditEvent.id, cursor)) is not None:
        query = query.where(older)
    events = list(db.session.scalars(query.limit(size + 1)))
    more = len(events) > size
    events = events[:size]
    return events, cursor_of(events[-1].at, events[-1].id) if more else None


def _admin() -> None:
    if not current_user.is_admin:
        abort(403)


@bp.get("/audit")
def audit_log() -> str:
    _admin()
    filters = chosen(request.args)
    cursor = request.args.get("after") or None
    events, next_cursor = page_of(filters, cursor)
    staff = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    actions = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    return render_template(
        "clinic/audit.html",
        events=events,
        filters=filters,
        next_url=url_for("clinic.audit_log", after=next_cursor, **filters.query_args()) if next_cursor else None,
        first=cursor is None,
        staff=staff,
        actions=actions,
    )


@bp.get("/audit.csv")
def audit_csv() -> Response:
    """Every event the filters keep, newest first, as CSV (the export is itself audited)."""
    _admin()
    filters = chosen(request.args)
    audit("exported audit log", json.dumps(filters.query_args(), default=str)[:200])
    db.session.commit()
    response = Response(stream_with_context(_csv_rows(filters)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-log-{utcnow():%Y-%m-%d}.csv"'
    return response


def _csv_rows(filters: Filters) -> Iterator[str]:
    zone = clinic_zone()
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    writer = csv.writer(buffer)
    writer.writerow([f"at ({zone})", "staff", "action", "target", "case", "reference"])
    query = _query(filters).execution_options(yield_per=1000)
    for batch in db.session.execute(query).scalars().partitions():
        for event in batch:
            row = [event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), event.staff.email if event.staff else ""]
            row += [event.action, event.target, event.case_id or "", event.reference]
            writer.writerow([safe_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
