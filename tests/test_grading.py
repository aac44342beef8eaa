"""The clinician-graded scales: worked examples computed by hand, extremes, and bad values."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.grading import SCALES, GradingErrors
from checker.grading.eface import EFACE
from checker.grading.house_brackmann import HOUSE_BRACKMANN
from checker.grading.scale import CHOOSE_ONE, WHOLE_NUMBER
from checker.grading.sunnybrook import FLOORED, SUNNYBROOK

EXPRESSIONS = ("brow", "eye", "smile", "snarl", "pucker")


def sunnybrook(rest: tuple[str, str, str], movement: tuple[int, ...], synkinesis: tuple[int, ...]) -> dict[str, Any]:
    raw: dict[str, Any] = dict(zip(("rest_eye", "rest_cheek", "rest_mouth"), rest, strict=True))
    raw |= {f"move_{key}": str(grade) for key, grade in zip(EXPRESSIONS, movement, strict=True)}
    raw |= {f"synk_{key}": str(grade) for key, grade in zip(EXPRESSIONS, synkinesis, strict=True)}
    return raw


# (resting items, movement 1-5, synkinesis 0-3) -> resting, voluntary, synkinesis, composite; by hand:
SUNNYBROOK_CASES = [
    # normal face: 0 at rest, 4 x 25 = 100, no synkinesis: 100 - 0 - 0
    (("normal", "normal", "normal"), (5, 5, 5, 5, 5), (0, 0, 0, 0, 0), (0, 100, 0, 100)),
    # flaccid: 5 x (1 + 2 + 1) = 20, 4 x 5 = 20, none: 20 - 20 - 0
    (("wide", "absent", "drooped"), (1, 1, 1, 1, 1), (0, 0, 0, 0, 0), (20, 20, 0, 0)),
    # typical synkinesis: 5 x (1 + 1 + 0) = 10, 4 x 18 = 72, 1+0+3+2+2 = 8: 72 - 10 - 8
    (("narrow", "more", "normal"), (3, 5, 3, 3, 4), (1, 0, 3, 2, 2), (10, 72, 8, 54)),
    # mild: 5 x 2 = 10, 4 x 22 = 88, 2: 88 - 10 - 2
    (("normal", "less", "drooped"), (4, 5, 4, 4, 5), (0, 1, 1, 0, 0), (10, 88, 2, 76)),
    # moderate: 5 x 3 = 15, 4 x 12 = 48, 7: 48 - 15 - 7
    (("narrow", "less", "pulled"), (2, 3, 2, 2, 3), (2, 1, 2, 1, 1), (15, 48, 7, 26)),
    # eyelid surgery counts 1 like narrow or wide: 5 x 1 = 5, 4 x 24 = 96, 1: 96 - 5 - 1
    (("eyelid-surgery", "normal", "normal"), (5, 5, 5, 4, 5), (0, 0, 1, 0, 0), (5, 96, 1, 90)),
]


@pytest.mark.parametrize(("rest", "movement", "synkinesis", "expected"), SUNNYBROOK_CASES)
def test_sunnybrook_worked_examples(
    rest: tuple[str, str, str], movement: tuple[int, ...], synkinesis: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    values, graded = SUNNYBROOK.grade(sunnybrook(rest, movement, synkinesis))
    resting, voluntary, synk, composite = expected
    assert graded.scores == {"resting": resting, "voluntary": voluntary, "synkinesis": synk, "composite": composite}
    assert graded.notes == ()
    assert values["rest_eye"] == rest[0]
    assert values["move_smile"] == str(movement[2])  # codes, as offered


def test_sunnybrook_composite_stops_at_0_and_says_so() -> None:
    """20 - 20 - 15 = -15: the most resting asymmetry, no voluntary movement, the most synkinesis."""
    _, graded = SUNNYBROOK.grade(sunnybrook(("eyelid-surgery", "absent", "pulled"), (1,) * 5, (3,) * 5))
    assert graded.scores == {"resting": 20, "voluntary": 20, "synkinesis": 15, "composite": 0}
    assert graded.notes == (FLOORED,)


@given(
    rest=st.tuples(
        st.sampled_from(["normal", "narrow", "wide", "eyelid-surgery"]),
        st.sampled_from(["normal", "absent", "less", "more"]),
        st.sampled_from(["normal", "drooped", "pulled"]),
    ),
    movement=st.tuples(*[st.integers(1, 5)] * 5),
    synkinesis=st.tuples(*[st.integers(0, 3)] * 5),
)
def test_a_sunnybrook_composite_never_leaves_0_to_100(
    rest: tuple[str, str, str], movement: tuple[int, ...], synkinesis: tuple[int, ...]
) -> None:
    _, graded = SUNNYBROOK.grade(sunnybrook(rest, movement, synkinesis))
    scores = graded.scores
    assert 0 <= scores["composite"] <= 100
    assert 0 <= scores["resting"] <= 20
    assert 20 <= scores["voluntary"] <= 100
    assert 0 <= scores["synkinesis"] <= 15
    assert scores["composite"] == max(0, scores["voluntary"] - scores["resting"] - scores["synkinesis"])


def eface(static: tuple[int, ...], dynamic: tuple[int, ...], synkinesis: tuple[int, ...]) -> dict[str, int]:
    ids = [item.id for item in EFACE.items]
    return dict(zip(ids, static + dynamic + synkinesis, strict=True))


# (4 static 0-200, 7 dynamic 0-100, 4 synkinesis 0-100) -> static, dynamic, synkinesis; by hand:
EFACE_CASES = [
    # all normal: two-sided at 100 score 100, one-sided at 100 score 100
    ((100, 100, 100, 100), (100,) * 7, (100,) * 4, (100.0, 100.0, 100.0)),
    # the worst either way: 0 and 200 both score 0
    ((0, 200, 0, 200), (0,) * 7, (0,) * 4, (0.0, 0.0, 0.0)),
    # 80, 120 -> 80, 50, 100: 310 / 4 = 77.5; 455 / 7 = 65; 300 / 4 = 75
    ((80, 120, 50, 100), (60, 100, 90, 40, 50, 45, 70), (70, 40, 90, 100), (77.5, 65.0, 75.0)),
    # 349 / 4 = 87.25 rounds half up to 87.3 (not to even); 280 / 7 = 40; 10 / 4 = 2.5
    ((100, 100, 100, 49), (10, 20, 30, 40, 50, 60, 70), (1, 2, 3, 4), (87.3, 40.0, 2.5)),
    # 101 and 99 both lose 1: 398 / 4 = 99.5; 600 / 7 = 85.71 -> 85.7; 1 / 4 = 0.25 -> 0.3
    ((101, 99, 100, 100), (100, 100, 100, 100, 100, 100, 0), (0, 0, 0, 1), (99.5, 85.7, 0.3)),
    # 150 -> 50, 30, 170 -> 30, 100: 210 / 4 = 52.5; 399 / 7 = 57 exactly; 399 / 4 = 99.75 -> 99.8
    ((150, 30, 170, 100), (57, 57, 57, 57, 57, 57, 57), (99, 100, 100, 100), (52.5, 57.0, 99.8)),
]


@pytest.mark.parametrize(("static", "dynamic", "synkinesis", "expected"), EFACE_CASES)
def test_eface_worked_examples(
    static: tuple[int, ...], dynamic: tuple[int, ...], synkinesis: tuple[int, ...], expected: tuple[float, ...]
) -> None:
    values, graded = EFACE.grade(eface(static, dynamic, synkinesis))
    assert graded.scores == dict(zip(("static", "dynamic", "synkinesis"), expected, strict=True))
    assert values == eface(static, dynamic, synkinesis)  # every raw value kept as given
    assert "total" not in graded.scores  # no published formula to cite


@pytest.mark.parametrize(("grade", "number"), [("I", 1), ("II", 2), ("III", 3), ("IV", 4), ("V", 5), ("VI", 6)])
def test_house_brackmann_grades(grade: str, number: int) -> None:
    values, graded = HOUSE_BRACKMANN.grade({"grade": grade})
    assert values == {"grade": grade}
    assert graded.scores == {"grade": number}
    choice = HOUSE_BRACKMANN.items[0].choice(grade)
    assert choice.details, "each grade shows its descriptors"


@pytest.mark.parametrize(
    ("scale_id", "change", "item", "message"),
    [
        ("sunnybrook", {"rest_eye": None}, "rest_eye", CHOOSE_ONE),
        ("sunnybrook", {"rest_cheek": "sideways"}, "rest_cheek", CHOOSE_ONE),
        ("sunnybrook", {"move_smile": "6"}, "move_smile", CHOOSE_ONE),
        ("sunnybrook", {"synk_eye": "-1"}, "synk_eye", CHOOSE_ONE),
        ("eface", {"brow_rest": 201}, "brow_rest", WHOLE_NUMBER),
        ("eface", {"lower_lip": 101}, "lower_lip", WHOLE_NUMBER),
        ("eface", {"lower_lip": -1}, "lower_lip", WHOLE_NUMBER),
        ("eface", {"lower_lip": "7.5"}, "lower_lip", WHOLE_NUMBER),
        ("eface", {"lower_lip": 7.0}, "lower_lip", WHOLE_NUMBER),
        ("eface", {"lower_lip": True}, "lower_lip", WHOLE_NUMBER),
        ("eface", {"lower_lip": ""}, "lower_lip", WHOLE_NUMBER),
        ("eface", {"lower_lip": "٣"}, "lower_lip", WHOLE_NUMBER),  # a digit, but not 0-9
        ("eface", {"lower_lip": "1" * 5000}, "lower_lip", WHOLE_NUMBER),
        ("house-brackmann", {"grade": "VII"}, "grade", CHOOSE_ONE),
        ("house-brackmann", {"grade": 3}, "grade", CHOOSE_ONE),
    ],
)
def test_a_wrong_or_missing_value_is_refused_with_its_item_named(
    scale_id: str, change: dict[str, Any], item: str, message: str
) -> None:
    valid = {
        "sunnybrook": sunnybrook(("normal",) * 3, (5,) * 5, (0,) * 5),
        "eface": eface((100,) * 4, (100,) * 7, (100,) * 4),
        "house-brackmann": {"grade": "I"},
    }[scale_id]
    raw = {key: value for key, value in {**valid, **change}.items() if value is not None}
    with pytest.raises(GradingErrors) as caught:
        SCALES[scale_id].grade(raw)
    assert list(caught.value.problems) == [item]
    assert caught.value.problems[item].message == message


def test_every_missing_item_is_named_at_once() -> None:
    with pytest.raises(GradingErrors) as caught:
        EFACE.grade({"brow_rest": "100"})
    assert len(caught.value.problems) == len(EFACE.items) - 1
    problem = caught.value.problems["fissure_rest"]
    assert (problem.low, problem.high) == (0, 200)
    assert caught.value.problems["lower_lip"].high == 100


def test_digits_as_a_form_sends_them_are_stored_as_numbers() -> None:
    values, _ = EFACE.grade({key: f" {value} " for key, value in eface((100,) * 4, (90,) * 7, (80,) * 4).items()})
    assert (values["brow_rest"], values["lower_lip"], values["platysmal_synkinesis"]) == (100, 90, 80)


def test_values_for_no_item_are_left_out() -> None:
    values, _ = HOUSE_BRACKMANN.grade({"grade": "II", "extra": "<script>"})
    assert values == {"grade": "II"}


def test_the_scales_are_pure() -> None:
    """Nothing in checker/grading imports the web, the database or the rest of the app."""
    folder = Path(__file__).resolve().parent.parent / "checker" / "grading"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 1 or node.module in ("__future__", "collections.abc", "decimal", "typing"), (
                    f"{path.name} imports {node.module}"
                )
            elif isinstance(node, ast.Import):
                raise AssertionError(f"{path.name} imports {[alias.name for alias in node.names]}")
