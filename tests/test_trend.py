"""The SAQ trend: each change read against the previous and the first check, a time axis,
event marks, and value labels that never overlap (pure Python, no Flask)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

from checker.trend import LEFT, PLOT_W, RIGHT, RIGHT_AXIS, WIDTH, Box, Event, Point, Trend, tick_box, trend

START = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)


def value_box(point: Point) -> Box:
    from checker.trend import CHAR, VALUE_SIZE

    assert point.label is not None
    half = len(f"{point.total:.1f}") * CHAR * VALUE_SIZE / 2
    return Box(point.label.x - half, point.label.y - 0.8 * VALUE_SIZE, point.label.x + half, point.label.y)


def labelled_boxes(chart: Trend) -> list[Box]:
    return [value_box(p) for p in chart.points if p.label] + [tick_box(t) for t in chart.ticks]


def test_a_drift_of_small_steps_is_read_against_the_first_check() -> None:
    chart = trend([(START, 57.8), (START + timedelta(days=90), 46.7), (START + timedelta(days=180), 35.6)])
    latest = chart.latest
    assert (latest.change, latest.reading) == (-11.1, "noise")  # from the check before: may be noise
    assert (latest.change_from_first, latest.reading_from_first) == (-22.2, "possible")  # from the first: not
    assert chart.first.change_from_first is None
    assert [p.index for p in chart.points] == [0, 1, 2]


def test_points_sit_on_a_time_axis_not_in_order() -> None:
    chart = trend([(START, 40.0), (START + timedelta(days=1), 42.0), (START + timedelta(days=100), 44.0)])
    first, second, third = (p.x for p in chart.points)
    assert first == LEFT
    assert third == LEFT + PLOT_W
    assert second - first < (third - first) / 50  # a day in a hundred, not half way
    assert [t.monthly for t in chart.ticks] == [True] * len(chart.ticks)
    assert chart.ticks
    assert all(t.at.day == 1 for t in chart.ticks)


def test_events_widen_the_axis_and_are_marked_in_time_order() -> None:
    toxin = Event(START - timedelta(days=30), "toxin")
    operation = Event(START + timedelta(days=400), "operation", "left side")
    chart = trend([(START, 50.0), (START + timedelta(days=200), 40.0)], [operation, toxin])
    assert [m.event for m in chart.marks] == [toxin, operation]
    assert chart.marks[0].x == LEFT
    assert chart.marks[-1].x == LEFT + PLOT_W
    assert LEFT < chart.first.x < chart.latest.x < LEFT + PLOT_W
    rows = chart.rows()
    assert rows[0] is toxin
    assert rows[-1] is operation
    assert isinstance(rows[1], Point)


def test_month_ticks_are_in_the_clinic_zone() -> None:
    chicago = ZoneInfo("America/Chicago")
    chart = trend([(START, 50.0), (START + timedelta(days=500), 40.0)], zone=chicago)
    assert chart.ticks
    assert all(t.at.tzinfo == chicago and (t.at.day, t.at.hour) == (1, 0) for t in chart.ticks)


def test_a_short_span_is_marked_by_its_first_and_last_days() -> None:
    chart = trend([(START, 50.0), (START + timedelta(days=20), 40.0)])
    assert [(t.at.date(), t.monthly) for t in chart.ticks] == [
        (START.date(), False),
        ((START + timedelta(days=20)).date(), False),
    ]


def test_a_single_check_sits_in_the_middle() -> None:
    chart = trend([(START, 50.0), (START + timedelta(days=3), None)])
    assert len(chart) == 1
    assert chart.first.x == LEFT + PLOT_W / 2
    assert chart.first.label is not None


def test_no_two_labels_overlap_and_every_label_stays_in_the_view_box() -> None:
    """Many shapes of series: dense, sparse, flat, zig-zag, with ends kept labelled."""
    rng = random.Random(25)  # noqa: S311 - a fixed series of shapes, not a secret
    for _ in range(300):
        count = rng.randint(2, 24)
        days = sorted(rng.sample(range(1, 900), count - 1))
        totals = [round(rng.uniform(20, 100), 1) for _ in range(count)]
        if rng.random() < 0.3:
            totals = [50.0 + (i % 2) for i in range(count)]  # flat: the labels crowd one line
        chart = trend(zip([START] + [START + timedelta(days=d) for d in days], totals, strict=True))
        boxes = labelled_boxes(chart)
        for one, other in combinations(boxes, 2):
            assert not one.overlaps(other), (one, other)
        for box in boxes:
            assert box.left >= 0
            assert box.right <= WIDTH
            assert box.top >= 0
        assert chart.first.label is not None
        assert chart.latest.label is not None


def test_twelve_checks_over_eighteen_months_label_most_points() -> None:
    checks = [(START + timedelta(days=46 * i), 60.0 - 2 * i) for i in range(12)]
    chart = trend(checks, [Event(START + timedelta(days=100), "toxin"), Event(START + timedelta(days=220), "toxin")])
    assert sum(1 for p in chart.points if p.label) >= 8
    assert len(chart.ticks) >= 3


def test_clinicians_grades_share_the_time_axis_on_an_axis_of_their_own() -> None:
    checks = [(START, 57.8), (START + timedelta(days=274), 46.7), (START + timedelta(days=548), 37.8)]
    grades = [(START + timedelta(days=95), 26.0, "sunnybrook"), (START + timedelta(days=600), 54.0, "sunnybrook")]
    chart = trend(checks, [Event(START + timedelta(days=215), "toxin")], grades=grades)
    assert chart.right == WIDTH - RIGHT_AXIS  # room for the grades' axis numbers
    assert [g.score for g in chart.grades] == [26.0, 54.0]  # the last one after every check
    assert (chart.grades[1].change, chart.grades[1].change_from_first) == (28.0, 28.0)
    assert chart.grades[0].change is None
    assert chart.first.x == LEFT
    assert chart.grades[-1].x == WIDTH - RIGHT_AXIS  # the latest thing on the case ends the axis
    low, high = (y for value, y in chart.grade_axis() if value in (0, 100))
    assert chart.grades[0].y == low + (high - low) * 0.26  # 26 of 0 to 100, from the bottom
    assert [type(row).__name__ for row in chart.rows()] == ["Point", "Grade", "Event", "Point", "Point", "Grade"]
    assert trend(checks).grade_axis() == []
    assert trend(checks).right == WIDTH - RIGHT  # no grades: the chart as before
    assert bool(trend([], grades=grades))  # grades alone make a chart


def test_grade_labels_overlap_nothing() -> None:
    from checker.trend import CHAR, VALUE_SIZE, grade_axis_box

    rng = random.Random(27)  # noqa: S311 - a fixed series of shapes, not a secret
    placed = ends = 0
    for _ in range(200):
        checks = [
            (START + timedelta(days=d), round(rng.uniform(20, 100), 1)) for d in sorted(rng.sample(range(900), 6))
        ]
        days = sorted(rng.sample(range(900), 4))
        grades = [(START + timedelta(days=d), float(rng.randint(0, 100)), "sunnybrook") for d in days]
        grades += [(at, round(rng.uniform(0, 100), 1), "eface-static") for at, _, _ in grades[:2]]
        chart = trend(checks, grades=grades)
        boxes = labelled_boxes(chart) + [grade_axis_box(value) for value, _ in chart.grade_axis()]
        for grade in chart.grades:
            if grade.label:
                half = len(grade.text) * CHAR * VALUE_SIZE / 2
                boxes.append(
                    Box(grade.label.x - half, grade.label.y - 0.8 * VALUE_SIZE, grade.label.x + half, grade.label.y)
                )
        for one, other in combinations(boxes, 2):
            assert not one.overlaps(other), (one, other)
        placed += sum(1 for grade in chart.grades if grade.label)
        ends += sum(1 for end in (chart.first, chart.latest) if end.label)
    # Most grades are labelled, and the checks' ends nearly always (a label never covers the
    # other series' mark, so a crowded end may go without): the table has every number.
    assert placed >= 0.75 * 200 * 6
    assert ends >= 0.9 * 200 * 2
