"""SAQ totals over time, how far each change is from measurement noise, and the chart's layout.

The smallest detectable change (SDC) of the SAQ total was 13.1 points in the Italian
validation (Franchignoni et al., 2022) and 28.2 points in a Dutch study (Bruins et al.,
2021): a change below 13.1 may be normal variation; one above 28.2 is beyond both. Each
check is read against the one before it and against the first, so a slow drift of small
steps is not read as noise.

The chart is laid out here, in the units of its SVG view box: points on a time axis,
month ticks, marks for dated events (a toxin session, an operation), clinicians' scores on
an axis of their own at the right (Sunnybrook composites, eFACE subscores: 0 to 100), and
value labels placed so that no two overlap (a label that cannot be placed is left out: the
table below the chart has every number). Pure Python, no Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

SDC_LOW = 13.1
SDC_HIGH = 28.2
SCALE = (20.0, 100.0)  # the SAQ total runs from 20 (nothing reported) to 100
GRADE_SCALE = (0.0, 100.0)  # clinicians' scores (Sunnybrook composite, eFACE subscores), on the right

# The view box and its plot area.
WIDTH, HEIGHT = 440, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 14, 22, 34
RIGHT_AXIS = 44  # the right margin when clinicians' grades have their axis there
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


# The series of clinicians' scores a chart can show against its right-hand axis, in drawing order.
GRADE_SERIES = ("sunnybrook", "eface-static", "eface-dynamic", "eface-synkinesis")


@dataclass(frozen=True)
class Grade:
    """A clinician's score at a visit (a Sunnybrook composite, or an eFACE subscore: ``series``),
    drawn against the right-hand axis."""

    at: datetime
    score: float
    change: float | None  # from the grading before in the same series, None for the first
    change_from_first: float | None
    x: float
    y: float
    label: Label | None
    series: str = "sunnybrook"

    @property
    def text(self) -> str:
        """The score as written: whole for Sunnybrook, to one decimal place for eFACE."""
        return f"{self.score:.0f}" if self.series == "sunnybrook" else f"{self.score:.1f}"


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
    grades: list[Grade] = field(default_factory=list)
    right: float = WIDTH - RIGHT  # the plot's right edge: further in when grades have their axis

    width = WIDTH
    height = HEIGHT
    left, top, bottom = LEFT, TOP, HEIGHT - BOTTOM
    value_size, axis_size = VALUE_SIZE, AXIS_SIZE

    def __bool__(self) -> bool:
        return bool(self.points or self.grades)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def first(self) -> Point:
        return self.points[0]

    @property
    def latest(self) -> Point:
        return self.points[-1]

    def rows(self) -> list[Point | Event | Grade]:
        """Checks, gradings and events in time order, for the table."""
        events = [mark.event for mark in self.marks]
        return sorted([*self.points, *self.grades, *events], key=lambda row: (row.at, not isinstance(row, Event)))

    @staticmethod
    def grid() -> list[tuple[int, float]]:
        """The score lines across the plot: (value, y)."""
        return [(value, _y(value)) for value in (20, 40, 60, 80, 100)]

    def series(self) -> list[list[Grade]]:
        """The grades of each series shown, in drawing order."""
        found = [[g for g in self.grades if g.series == name] for name in GRADE_SERIES]
        return [grades for grades in found if grades]

    def grade_axis(self) -> list[tuple[int, float]]:
        """The right-hand axis of the grades (none without them): (value, y)."""
        return [(value, _y_grade(value)) for value in (0, 25, 50, 75, 100)] if self.grades else []


def reading(change: float) -> str:
    size = abs(change)
    if size < SDC_LOW:
        return "noise"
    return "possible" if size <= SDC_HIGH else "beyond"


def _y(total: float, scale: tuple[float, float] = SCALE) -> float:
    low, high = scale
    return TOP + (1 - (min(max(total, low), high) - low) / (high - low)) * PLOT_H


def _y_grade(score: float) -> float:
    return _y(score, GRADE_SCALE)


def grade_axis_box(value: int) -> Box:
    """Where a right-hand axis number is written (text anchored at its start)."""
    x = WIDTH - RIGHT_AXIS + 7
    return Box(x, _y_grade(value) + 5 - 0.8 * AXIS_SIZE, x + len(str(value)) * CHAR * AXIS_SIZE, _y_grade(value) + 6)


def trend(
    checks: Iterable[tuple[datetime, float | None]],
    events: Iterable[Event] = (),
    zone: tzinfo = UTC,
    grades: Iterable[tuple[datetime, float, str]] = (),
) -> Trend:
    """The checks that have a score, oldest first, with each change, laid out with ``events``
    and clinicians' scores (``grades``: when, score, series of GRADE_SERIES; on an axis of their
    own at the right) on one time axis (ticks at the start of months in ``zone``)."""
    scored = sorted(((at, total) for at, total in checks if total is not None), key=lambda c: c[0])
    graded = sorted(grades, key=lambda g: (GRADE_SERIES.index(g[2]), g[0]))
    dated = sorted(events, key=lambda e: e.at)
    times = [at for at, _ in scored] + [g[0] for g in graded] + [e.at for e in dated]
    start, end = (min(times), max(times)) if times else (None, None)
    right = WIDTH - (RIGHT_AXIS if graded else RIGHT)
    plot_w = right - LEFT

    def x_of(at: datetime) -> float:
        if start is None or end is None or end == start:
            return LEFT + plot_w / 2
        return LEFT + (at - start) / (end - start) * plot_w

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
    marks: list[Grade] = []
    for at, score, series in graded:
        same = [g for g in marks if g.series == series]
        change = round(score - same[-1].score, 1) if same else None
        from_first = round(score - same[0].score, 1) if same else None
        marks.append(Grade(at, score, change, from_first, x_of(at), _y_grade(score), None, series))
    ticks = _ticks(start, end, zone, x_of) if start is not None and end is not None else []
    labelled, labelled_grades = _labelled(points, ticks, marks, right)
    return Trend(labelled, [Mark(e, x_of(e.at)) for e in dated], ticks, labelled_grades, right)


def _text_box(x: float, baseline: float, characters: int, size: float) -> Box:
    half = characters * CHAR * size / 2
    return Box(x - half, baseline - 0.8 * size, x + half, baseline + 0.25 * size)


def _inside(x: float, characters: int, size: float, right: float = WIDTH) -> float:
    """``x`` moved so a centred text of that many characters stays within the plot's width."""
    half = characters * CHAR * size / 2
    return min(max(x, LEFT + half), right - half)


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


def _series(index: int, checks: int, grades: Sequence[Grade]) -> str:
    return "saq" if index < checks else grades[index - checks].series


def _free_spot(x: float, y: float, text: str, obstacles: Sequence[Box]) -> tuple[float, Box] | None:
    """The baseline and box of the label above the dot, else below it, that overlaps nothing."""
    for baseline in (y - 12, y + 24):
        box = _padded(_text_box(x, baseline, len(text), VALUE_SIZE), 1)
        if box.top >= 0 and box.bottom <= HEIGHT - BOTTOM + 4 and not any(box.overlaps(o) for o in obstacles):
            return baseline, box
    return None


def _labelled(
    points: list[Point], ticks: Sequence[Tick], grades: list[Grade] | None = None, right: float = WIDTH
) -> tuple[list[Point], list[Grade]]:
    """Each point and grade with a value label above or below it where one fits: the first and
    the latest of each first, then the highest and lowest checks, then the rest in time order."""
    grades = grades or []
    taken = [tick_box(tick) for tick in ticks]
    if grades:
        taken += [grade_axis_box(value) for value in (0, 25, 50, 75, 100)]
    # (x, y, text) of every spot on the chart: the checks, then the grades.
    spots = [(p.x, p.y, _value_text(p.total)) for p in points] + [(g.x, g.y, g.text) for g in grades]
    dots = [Box(x - 7, y - 7, x + 7, y + 7) for x, y, _ in spots]
    n = len(points)
    ends = {0, n - 1} & set(range(n))
    for series in {g.series for g in grades}:  # the first and latest of each series of grades
        at = [n + i for i, g in enumerate(grades) if g.series == series]
        ends |= {at[0], at[-1]}
    totals = [p.total for p in points]

    def priority(i: int) -> tuple[bool, bool, int]:
        extreme = i < n and totals[i] in (max(totals), min(totals))
        return (i not in ends, not extreme, i)

    labels: dict[int, Label] = {}
    for i in sorted(range(len(spots)), key=priority):
        x0, y0, text = spots[i]
        x = _inside(x0, len(text), VALUE_SIZE, right + 6)
        others = [dot for j, dot in enumerate(dots) if j != i]
        other_series = [dot for j, dot in enumerate(dots) if _series(j, n, grades) != _series(i, n, grades)]
        # Clear of every dot where possible; an end, failing that, may cover a dot of its own
        # series (never a label, nor a mark of the other series).
        for obstacles in (taken + others, taken + other_series) if i in ends else (taken + others,):
            spot = _free_spot(x, y0, text, obstacles)
            if spot is not None:
                labels[i] = Label(x, spot[0])
                taken.append(spot[1])
                break
    return (
        [replace(p, label=labels.get(i)) for i, p in enumerate(points)],
        [replace(g, label=labels.get(n + i)) for i, g in enumerate(grades)],
    )
