"""SAQ totals over time, and how far each change is from measurement noise.

The smallest detectable change (SDC) of the SAQ total was 13.1 points in the Italian
validation (Franchignoni et al., 2022) and 28.2 points in a Dutch study (Bruins et al.,
2021): a change below 13.1 may be normal variation; one above 28.2 is beyond both.
Pure Python, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SDC_LOW = 13.1
SDC_HIGH = 28.2
SCALE = (20.0, 100.0)  # the SAQ total runs from 20 (nothing reported) to 100


@dataclass(frozen=True)
class Point:
    at: datetime
    total: float
    change: float | None  # from the check before, None for the first
    reading: str | None  # "noise" (under 13.1), "possible" (13.1 to 28.2), "beyond" (over 28.2)
    x: float  # where it sits on a chart 0..1 wide and 0..1 high (0 at the top)
    y: float


def reading(change: float) -> str:
    size = abs(change)
    if size < SDC_LOW:
        return "noise"
    return "possible" if size <= SDC_HIGH else "beyond"


def trend(checks: Iterable[tuple[datetime, float | None]]) -> list[Point]:
    """The checks that have a score, oldest first, with the change from the one before."""
    scored = sorted(((at, total) for at, total in checks if total is not None), key=lambda c: c[0])
    points: list[Point] = []
    low, high = SCALE
    for index, (at, total) in enumerate(scored):
        change = round(total - points[-1].total, 1) if points else None
        x = index / (len(scored) - 1) if len(scored) > 1 else 0.5
        y = 1 - (min(max(total, low), high) - low) / (high - low)
        points.append(Point(at, total, change, reading(change) if change is not None else None, x, y))
    return points
