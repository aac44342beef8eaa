"""SAQ totals over time, how far each change is from measurement noise, and the chart's layout.

The smallest detectable change (SDC) of the SAQ total was 13.1 points in the Italian
validation (Franchignoni et al., 2022) and 28.2 points in a Dutch study (Bruins et al.,
2021): a change below 13.1 may be normal variation; one above 28.2 is beyond both. Each
check is read against the one before it and against the first, so a slow drift of small
steps is not read as noise.

The chart is laid out here, in the units of its SVG view box: points on a time axis,
month ticks, marks for dated events (a toxin session, an operation), and value labels
placed so that no two overlap (a label that cannot be placed is left out: the table
below the chart has every number). Pure Python, no Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

SDC_LOW = 13.1
SDC_HIGH = 28.2
SCALE = (20.0, 100.0)  # the SAQ total runs from 20 (nothing reported) to 100

# The view box and its plot area.
WIDTH, HEIGHT = 440, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 14, 22, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
VALUE_SIZE, AXIS_SIZE = 17, 15  # font sizes
CHAR = 0.72  # a generous width of one character, in ems, so estimated boxes cover drawn ones
MONTH_STEPS = (1, 2, 3, 4, 6, 12, 24, 60)
MONTH_TICKS_FROM = timedelta(days=60)  # a shorter span is marked by its first and last days


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def overlaps(self, other: Box) -> bool:
        across = self.left < other.right and other.left < self.right
        return across and self.top < other.bottom and other.top < self.bottom


@dataclass(frozen=True)
class Label:
    """A point's value written on the chart: ``y`` is the text's baseline, centred on ``x``."""

    x: float
    y: float


@dataclass(frozen=True)
class Point:
    at: datetime
    total: float
    change: float | None  # from the check before, None for the first
    reading: str | None  # of that change: "noise" (under 13.1), "possible" (13.1 to 28.2), "beyond" (over 28.2)
    change_from_first: float | None  # None for the first
    reading_from_first: str | None
    x: float  # in view-box units
    y: float
    label: Label | None  # None when it would overlap another (the table has it)
    index: int  # 0 for the first check


@dataclass(frozen=True)
class Event:
    """Something dated on a case that may change the score: a toxin session, an operation."""

    at: datetime
    kind: str
    note: str = ""


@dataclass(frozen=True)
class Mark:
    event: Event
    x: float


@dataclass(frozen=True)
class Tick:
    at: datetime  # in the clinic's zone
    x: float
    monthly: bool  # written as a month, or as a day


@dataclass(frozen=True)
class Trend:
    points: list[Point]
    marks: list[Mark]
    ticks: list[Tick]

    width = WIDTH
    height = HEIGHT
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    value_size, axis_size = VALUE_SIZE, AXIS_SIZE

    def __bool__(self) -> bool:
        return bool(self.points)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def first(self) -> Point:
        return self.points[0]

    @property
    def latest(self) -> Point:
        return self.points[-1]

    def rows(self) -> list[Point | Event]:
        """Checks and events in time order, for the table."""
        events = [mark.event for mark in self.marks]
        return sorted([*self.points, *events], key=lambda row: (row.at, isinstance(row, Point)))

    @staticmethod
    def grid() -> list[tuple[int, float]]:
        """The score lines across the plot: (value, y)."""
        return [(value, _y(value)) for value in (20, 40, 60, 80, 100)]


def reading(change: float) -> str:
    size = abs(change)
    if size < SDC_LOW:
        return "noise"
    return "possible" if size <= SDC_HIGH else "beyond"


def _y(total: float) -> float:
    low, high = SCALE
    return TOP + (1 - (min(max(total, low), high) - low) / (high - low)) * PLOT_H


def trend(checks: Iterable[tuple[datetime, float | None]], events: Iterable[Event] = (), zone: tzinfo = UTC) -> Trend:
    """The checks that have a score, oldest first, with each change, laid out with ``events``
    on one time axis (ticks at the start of months in ``zone``)."""
    scored = sorted(((at, total) for at, total in checks if total is not None), key=lambda c: c[0])
    dated = sorted(events, key=lambda e: e.at)
    times = [at for at, _ in scored] + [e.at for e in dated]
    start, end = (min(times), max(times)) if times else (None, None)

    def x_of(at: datetime) -> float:
        if start is None or end is None or end == start:
            return LEFT + PLOT_W / 2
        return LEFT + (at - start) / (end - start) * PLOT_W

    points: list[Point] = []
    for at, total in scored:
        change = round(total - points[-1].total, 1) if points else None
        from_first = round(total - points[0].total, 1) if points else None
        points.append(
            Point(
                at,
                total,
                change,
                reading(change) if change is not None else None,
                from_first,
                reading(from_first) if from_first is not None else None,
                x_of(at),
                _y(total),
                None,
                len(points),
            )
        )
    ticks = _ticks(start, end, zone, x_of) if start is not None and end is not None else []
    return Trend(_labelled(points, ticks), [Mark(e, x_of(e.at)) for e in dated], ticks)


def _text_box(x: float, baseline: float, characters: int, size: float) -> Box:
    half = characters * CHAR * size / 2
    return Box(x - half, baseline - 0.8 * size, x + half, baseline + 0.25 * size)


def _inside(x: float, characters: int, size: float) -> float:
    """``x`` moved so a centred text of that many characters stays within the plot's width."""
    half = characters * CHAR * size / 2
    return min(max(x, LEFT + half), WIDTH - half)


def tick_box(tick: Tick) -> Box:
    return _text_box(tick.x, HEIGHT - 10, 9 if tick.monthly else 12, AXIS_SIZE)


def _ticks(start: datetime, end: datetime, zone: tzinfo, x_of: Callable[[datetime], float]) -> list[Tick]:
    """Month starts (every 1, 2, 3... months, on calendar steps, as many as fit), or the first
    and last days of a short span."""
    first, last = start.astimezone(zone), end.astimezone(zone)
    if end - start < MONTH_TICKS_FROM:
        days = [Tick(first, _inside(x_of(start), 12, AXIS_SIZE), False)]
        if last.date() != first.date():
            days.append(Tick(last, _inside(x_of(end), 12, AXIS_SIZE), False))
        return _apart(days)
    after, until = first.year * 12 + first.month, last.year * 12 + last.month - 1  # months counted from year 0
    ticks: list[Tick] = []
    for step in MONTH_STEPS:
        ticks = []
        for index in range(after + (-after % step), until + 1, step):
            year, month = divmod(index, 12)
            moment = datetime(year, month + 1, 1, tzinfo=zone)
            ticks.append(Tick(moment, _inside(x_of(moment), 9, AXIS_SIZE), True))
        if len(_apart(ticks)) == len(ticks):
            return ticks
    return _apart(ticks)


def _apart(ticks: Sequence[Tick]) -> list[Tick]:
    """The ticks whose labels do not overlap the one kept before them."""
    kept: list[Tick] = []
    for tick in ticks:
        if not kept or not tick_box(kept[-1]).overlaps(_padded(tick_box(tick), 6)):
            kept.append(tick)
    return kept


def _padded(box: Box, by: float) -> Box:
    return Box(box.left - by, box.top - by, box.right + by, box.bottom + by)


def _value_text(total: float) -> str:
    return f"{total:.1f}"


def _labelled(points: list[Point], ticks: Sequence[Tick]) -> list[Point]:
    """Each point with a value label above or below it where one fits: the first and the latest
    first, then the highest and lowest, then the rest in time order."""
    taken = [tick_box(tick) for tick in ticks]
    dots = [Box(p.x - 7, p.y - 7, p.x + 7, p.y + 7) for p in points]
    ends = {0, len(points) - 1}  # always labelled: they may cover a neighbour's dot, never a label
    order = sorted(
        range(len(points)),
        key=lambda i: (
            i not in (0, len(points) - 1),
            points[i].total not in (max(p.total for p in points), min(p.total for p in points)),
            i,
        ),
    )
    labels: dict[int, Label] = {}
    for i in order:
        point, text = points[i], _value_text(points[i].total)
        x = _inside(point.x, len(text), VALUE_SIZE)
        obstacles = taken if i in ends else taken + [dot for j, dot in enumerate(dots) if j != i]
        for baseline in (point.y - 12, point.y + 24):
            box = _padded(_text_box(x, baseline, len(text), VALUE_SIZE), 1)
            if box.top < 0 or box.bottom > HEIGHT - BOTTOM + 4:
                continue
            if not any(box.overlaps(other) for other in obstacles):
                labels[i] = Label(x, baseline)
                taken.append(box)
                break
    return [replace(p, label=labels.get(i)) for i, p in enumerate(points)]
