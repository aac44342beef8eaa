"""The inbox's list of cases: filters, search, counts, and keyset paging.

Each filter is a condition on the case's summary columns and an order those columns'
indexes already hold, so a page costs the same however deep into the list it is: the
next page starts after the last row shown (a cursor), never after skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from ...db import db, like_pattern
from ...models import UNUSED_LINK_STATES, Case
from ...urls import LARGEST_ID

PAGE_SIZE = 50
URGENT_PRIORITY = 1  # triage levels 0 and 1 (emergency, urgent): care today or sooner

Order = tuple[tuple[InstrumentedAttribute[Any], bool], ...]  # (column, descending)
QUEUE: Order = ((Case.priority, False), (Case.since, False), (Case.id, False))  # triage, then waiting longest
NEWEST: Order = ((Case.since, True), (Case.id, True))


@dataclass(frozen=True)
class Filter:
    key: str
    condition: Any  # a function of "now" giving a SQL condition
    order: Order


FILTERS: dict[str, Filter] = {
    f.key: f
    for f in (
        Filter("waiting", lambda now: Case.state == "waiting", QUEUE),
        # Urgent: waiting for a staff member with something that needs care today or sooner. Once
        # seen it leaves this list (the case keeps its urgency on the row), so the count goes down.
        Filter("urgent", lambda now: and_(Case.state == "waiting", Case.priority <= URGENT_PRIORITY), QUEUE),
        Filter("requests", lambda now: Case.has_request.is_(true()), QUEUE),
        Filter(
            "not-opened",
            lambda now: and_(Case.link_state.in_(UNUSED_LINK_STATES), Case.link_expires_at > now),
            QUEUE,
        ),
        Filter("started", lambda now: Case.link_state == "started", QUEUE),
        Filter("stopped", lambda now: Case.link_state == "stopped", QUEUE),
        Filter("reviewed", lambda now: Case.state == "reviewed", NEWEST),
        Filter("all", lambda now: true(), QUEUE),
    )
}
DEFAULT_FILTER = "waiting"


@dataclass(frozen=True)
class Page:
    cases: list[Case]
    next_cursor: str | None
    first: bool


def _search(text: str) -> ColumnElement[bool]:
    """Open cases (a merged one is listed as the case it was merged into) matching every word."""
    words = text.lower().split()[:5]
    return and_(Case.merged_into_id.is_(None), *(Case.search_text.like(like_pattern(w), escape="\\") for w in words))


def _key(row: Case, order: Order) -> list[Any]:
    values: list[Any] = []
    for column, _descending in order:
        value = getattr(row, column.key)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return values


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> list[Any] | None:
    """The values a cursor holds, checked against the order's columns; None if it is not one of ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(order):
        return None
    decoded: list[Any] = []
    for (column, _descending), value in zip(order, values, strict=True):
        if column.key == "since":
            try:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    return None  # ours always say UTC
                decoded.append(moment.astimezone(UTC))
            except (TypeError, ValueError, OverflowError):
                return None
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) <= LARGEST_ID:
            decoded.append(value)
        else:
            return None  # not a number a column holds
    return decoded


def _after(order: Order, values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after ``values`` in ``order``: (a > x) or (a = x and b > y) or ..., with each column's direction."""
    alternatives = []
    for index, (column, descending) in enumerate(order):
        equal = [c == v for (c, _), v in zip(order[:index], values[:index], strict=True)]
        beyond = column < values[index] if descending else column > values[index]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def chosen_filter(args: Mapping[str, str]) -> tuple[str, str]:
    """The filter and search an address asks for (``?show=...&q=...``): an unknown filter is the
    default one, and a search is cut to 100 characters."""
    show = args.get("show", DEFAULT_FILTER)
    return (show if show in FILTERS else DEFAULT_FILTER), args.get("q", "")[:100].strip()


def page_of(filter_key: str, search: str, cursor: str | None, now: datetime, size: int = PAGE_SIZE) -> Page:
    """One page of cases for a filter and search, starting after ``cursor``."""
    chosen = FILTERS[filter_key]
    query = matching(filter_key, search, now)
    after = decode_cursor(cursor, chosen.order) if cursor else None
    if after is not None:
        query = query.where(_after(chosen.order, after))
    rows: list[Case] = list(db.session.execute(query.limit(size + 1)).scalars())
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode_cursor(_key(rows[-1], chosen.order)) if more else None, after is None)


def counts(search: str, now: datetime) -> dict[str, int]:
    """How many cases each filter holds (with the search applied), in one pass over the table."""
    columns = [func.coalesce(func.sum(case((f.condition(now), 1), else_=0)), 0).label(f.key) for f in FILTERS.values()]
    row = db.session.execute(select(*columns).select_from(Case).where(_search(search))).one()
    return {key: int(value) for key, value in row._mapping.items()}


def conditions(filter_key: str, search: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What a case must meet to be in a filter and search."""
    return FILTERS[filter_key].condition(now), _search(search)


def ordering(filter_key: str) -> list[Any]:
    """The filter's order, as ORDER BY terms."""
    return [c.desc() if descending else c.asc() for c, descending in FILTERS[filter_key].order]


def matching(filter_key: str, search: str, now: datetime) -> Select[Case]:
    """Every case in a filter and search, in the filter's order."""
    return select(Case).where(*conditions(filter_key, search, now)).order_by(*ordering(filter_key))
