"""Keyset paging for lists newest first: a page starts after the last row shown (its time and
id, in an opaque cursor), so the 50th page costs what the first does."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from ..urls import LARGEST_ID


def cursor_of(at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), row_id]).encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The time and id a cursor holds; None for anything that is not one of ours."""
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        return None
    if moment.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool) or abs(row_id) > LARGEST_ID:
        return None
    return moment.astimezone(UTC), row_id


def older_than(at_column: Any, id_column: Any, cursor: str | None) -> ColumnElement[bool] | None:
    """Rows after the cursor's in (time, id) newest-first order; None without a readable cursor."""
    after = read_cursor(cursor) if cursor else None
    if after is None:
        return None
    at, row_id = after
    return or_(at_column < at, and_(at_column == at, id_column < row_id))
