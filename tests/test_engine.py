"""The engine against the worked cases and at each boundary of SPEC section 4."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from checker.engine import AnswerErrors, RuleSet, accepted_answers, assess, case_problems, known_red_flags, plan

from .conftest import VIGNETTES


def _base() -> dict[str, Any]:
    """Bell's palsy 4 months ago, still recovering, nothing else: every page is asked."""
    return copy.deepcopy(VIGNETTES[0]["answers"]) | {"time_since_onset": "3m_6m"}


@pytest.mark.parametrize("case", VIGNETTES, ids=[c["name"] for c in VIGNETTES])
def test_vignette(rules: RuleSet, case: dict[str, Any]) -> None:
    result = assess(rules, case["answers"])
    expect = case["expect"]
    assert result.outcome == expect["outcome"]
    assert result.triage == expect["triage"]
    assert list(result.red_flags) == expect["red_flags"]
    if expect["saq_total"] is None:
        assert result.saq_total is None
    else:
        assert result.saq_total == pytest.approx(expect["saq_total"], abs=0.05)
    if result.outcome is not None:
        assert result.reasons, "a staged outcome always has a reason"


def test_rules_file_cases_all_agree(rules: RuleSet) -> None:
    assert len(rules.cases) >= len(VIGNETTES)
    assert case_problems(rules) == []


def outcome_of(rules: RuleSet, **changes: Any) -> str | None:
    answers = _base()
    answers.update(changes)
    return assess(rules, answers).outcome


@pytest.mark.parametrize(
    ("onset", "expected"),
    [("3m_6m", "stage-2"), ("6m_12m", "stage-3"), ("12m_18m", "stage-3"), ("gt_18m", "stage-3")],
)
def test_stage_3_needs_six_months(rules: RuleSet, onset: str, expected: str) -> None:
    assert outcome_of(rules, time_since_onset=onset, saq_eye_smile=4) == expected


@pytest.mark.parametrize(("score", "expected"), [(3, "stage-2"), (4, "stage-3"), (5, "stage-3")])
def test_stage_3_frequent_means_four_or_more(rules: RuleSet, score: int, expected: str) -> None:
    assert outcome_of(rules, time_since_onset="6m_12m", saq_neck_eyes=score) == expected


@pytest.mark.parametrize(
    ("impact", "expected"),
    [("none", "stage-2"), ("a_little", "stage-2"), ("moderate", "stage-3"), ("a_lot", "stage-3")],
)
def test_stage_3_by_impact_needs_moderate_or_more(rules: RuleSet, impact: str, expected: str) -> None:
    assert outcome_of(rules, time_since_onset="12m_18m", saq_chin_dimple=2, daily_impact=impact) == expected


def test_impact_without_linked_movement_is_not_stage_3(rules: RuleSet) -> None:
    assert outcome_of(rules, time_since_onset="12m_18m", daily_impact="a_lot", recovery="mostly") == "stage-1"


@pytest.mark.parametrize(("score", "expected"), [(1, "stage-1"), (2, "stage-2")])
def test_linked_present_means_two_or_more(rules: RuleSet, score: int, expected: str) -> None:
    assert outcome_of(rules, saq_tears_eating=score) == expected


@pytest.mark.parametrize("change", [{"twitching": "often"}, {"asymmetry": "slight"}, {"tightness_rest": "sometimes"}])
def test_each_other_sign_is_an_early_sign(rules: RuleSet, change: dict[str, str]) -> None:
    assert outcome_of(rules, recovery="full", **change) == "stage-2"


@pytest.mark.parametrize(
    ("treatments", "expected"),
    [(["botulinum_toxin"], "stage-4"), (["surgery"], "stage-4"), (["facial_therapy"], "stage-1")],
)
def test_stage_4_needs_toxin_or_surgery(rules: RuleSet, treatments: list[str], expected: str) -> None:
    assert outcome_of(rules, treatments=treatments) == expected


def test_stage_4_comes_before_stage_3(rules: RuleSet) -> None:
    assert outcome_of(rules, time_since_onset="gt_18m", saq_eye_smile=5, treatments=["surgery"]) == "stage-4"


@pytest.mark.parametrize(
    ("recovery", "expected"), [("none_yet", "stage-1"), ("mostly", "stage-1"), ("full", "not-indicated")]
)
def test_stage_1_until_full_recovery(rules: RuleSet, recovery: str, expected: str) -> None:
    assert outcome_of(rules, recovery=recovery) == expected


@pytest.mark.parametrize(
    ("onset", "flagged"),
    [("3d_3w", False), ("3w_3m", True), ("3m_6m", True), ("gt_18m", True)],
)
def test_no_recovery_flag_from_three_weeks(rules: RuleSet, onset: str, flagged: bool) -> None:
    answers = _base() | {"recovery": "none_yet", "time_since_onset": onset}
    result = assess(rules, answers)
    assert ("no_recovery" in result.red_flags) is flagged
    assert result.triage == ("prompt" if flagged else "routine")


def test_red_flags_in_spec_order_and_most_severe_triage(rules: RuleSet) -> None:
    answers = _base() | {
        "rf_progressive": "yes",
        "rf_both_sides": "yes",
        "time_since_onset": "lt_3d",
        "recovery": "none_yet",
    }
    result = assess(rules, answers)
    assert result.red_flags == ("recent_onset", "both_sides", "progressive")
    assert result.triage == "urgent"


def test_emergency_stops_and_ignores_later_answers(rules: RuleSet) -> None:
    answers = _base() | {"rf_stroke_signs": "yes", "time_since_onset": "lt_3d"}
    result = assess(rules, answers)
    assert result.outcome is None
    assert result.triage == "emergency"
    assert result.red_flags == ("stroke_signs",)  # recent_onset is on a page never reached
    assert result.saq_total is None
    assert result.reasons == ()


def test_saq_total_is_exact_and_rounded(rules: RuleSet) -> None:
    answers = _base()
    for qid, score in zip([q for q in answers if q.startswith("saq_")], [2, 3, 1, 1, 1, 1, 1, 1, 1], strict=True):
        answers[qid] = score
    assert assess(rules, answers).saq_total == 26.7  # 12 / 45 * 100 = 26.666...


def test_cause_none_skips_pages_and_drops_their_answers(rules: RuleSet) -> None:
    answers = _base() | {"cause": "none", "treatments": ["botulinum_toxin"]}
    result = assess(rules, answers)
    assert result.outcome == "not-indicated"
    assert "treatments" not in result.answers
    assert "time_since_onset" not in result.answers
    assert [p.id for p in result.plan.skipped] == ["weakness", "treatment"]  # linked movements are still asked
    assert result.saq_total == 20.0


def test_plan_counts_undecided_pages_as_asked(rules: RuleSet) -> None:
    assert len(plan(rules, {}).asked) == len(rules.pages)
    assert len(plan(rules, {"cause": "none"}).asked) == len(rules.pages) - 2
    assert len(plan(rules, {"cause": "bells_palsy"}).asked) == len(rules.pages)  # onset not known yet


def test_plan_knows_the_first_page_still_to_answer(rules: RuleSet) -> None:
    assert plan(rules, {}).first_incomplete() == rules.pages[0]
    safety = {q.id: "no" for q in rules.pages[0].questions}
    assert plan(rules, safety).first_incomplete() == rules.pages[1]
    assert plan(rules, safety).given == safety
    everything = {k: v for k, v in VIGNETTES[0]["answers"].items()}
    assert plan(rules, everything).first_incomplete() is None
    without_safety_answer = {k: v for k, v in everything.items() if k != "rf_eye"}
    assert plan(rules, without_safety_answer).first_incomplete() == rules.pages[0]


@pytest.mark.parametrize("onset", ["lt_3d", "3d_3w"])
def test_under_three_weeks_is_too_early_for_synkinesis(rules: RuleSet, onset: str) -> None:
    answers = _base() | {"time_since_onset": onset, "saq_eye_smile": 5, "twitching": "often", "treatments": ["surgery"]}
    result = assess(rules, answers)
    assert [p.id for p in result.plan.skipped] == ["linked", "signs", "treatment"]
    assert result.outcome == "stage-1"
    assert result.saq_total is None
    assert result.to_json()["saq"] is None
    assert result.derived["linked_present"] is None  # no count without the page, not zero
    assert "too early for synkinesis" in result.reasons[0].text()
    for page in ("linked", "signs", "treatment"):
        for question in rules.page(page).questions:  # type: ignore[union-attr]
            answers.pop(question.id, None)
    assert assess(rules, answers).outcome == "stage-1"  # and none of them is required


@pytest.mark.parametrize(
    ("onset", "expected"), [("3d_3w", "stage-1"), ("3w_3m", "stage-1"), ("3m_6m", "stage-4"), ("gt_18m", "stage-4")]
)
def test_stage_4_only_from_three_months(rules: RuleSet, onset: str, expected: str) -> None:
    assert outcome_of(rules, time_since_onset=onset, treatments=["surgery"]) == expected


@pytest.mark.parametrize(("recovery", "expected"), [("some", "stage-1"), ("mostly", "stage-1"), ("full", "stage-2")])
def test_unevenness_is_a_sign_only_after_full_recovery(rules: RuleSet, recovery: str, expected: str) -> None:
    assert outcome_of(rules, asymmetry="obvious", recovery=recovery) == expected


@pytest.mark.parametrize(
    ("closure", "rf_eye", "flags"),
    [("no", "no", ["eye_not_closing"]), ("no", "yes", ["eye_exposure"]), ("with_effort", "no", []), ("yes", "no", [])],
)
def test_eye_not_closing_is_prompt_unless_already_urgent(
    rules: RuleSet, closure: str, rf_eye: str, flags: list[str]
) -> None:
    assert list(assess(rules, _base() | {"eye_closure": closure, "rf_eye": rf_eye}).red_flags) == flags


@pytest.mark.parametrize(
    ("change", "flagged"),
    [
        ({}, False),
        ({"twitching": "sometimes"}, True),
        ({"saq_neck_smile": 2}, True),
        ({"tightness_rest": "often"}, False),
    ],
)
def test_movements_without_palsy(rules: RuleSet, change: dict[str, Any], flagged: bool) -> None:
    answers = {k: v for k, v in _base().items() if k not in ("time_since_onset", "recovery")} | {"cause": "none"}
    result = assess(rules, answers | change)
    assert result.outcome == "not-indicated"
    assert (result.red_flags == ("movements_without_palsy",)) is flagged
    assert result.triage == ("prompt" if flagged else "routine")


def test_stroke_yes_needs_no_other_answer(rules: RuleSet) -> None:
    result = assess(rules, {"rf_stroke_signs": "yes"})
    assert (result.triage, result.outcome, result.saq_total) == ("emergency", None, None)
    with pytest.raises(AnswerErrors) as caught:
        assess(rules, {"rf_stroke_signs": "no"})
    assert {"rf_eye", "rf_ear_rash", "rf_both_sides", "rf_progressive", "cause"} <= caught.value.errors.keys()
    # The stop comes first: an answer beside it that cannot be read is left out, not a reason to refuse.
    stopped = assess(rules, {"rf_stroke_signs": "yes", "rf_eye": "maybe", "rf_ear_rash": "yes"})
    assert (stopped.triage, stopped.red_flags) == ("emergency", ("stroke_signs", "ear_rash"))
    assert "rf_eye" not in stopped.answers


def test_red_flags_are_known_as_soon_as_their_answers_are(rules: RuleSet) -> None:
    safety = {
        "rf_stroke_signs": "no",
        "rf_eye": "yes",
        "rf_ear_rash": "no",
        "rf_both_sides": "yes",
        "rf_progressive": "no",
    }
    assert [f.id for f in known_red_flags(rules, plan(rules, safety))] == ["eye_exposure", "both_sides"]
    weakness = safety | {"cause": "bells_palsy", "time_since_onset": "lt_3d", "recovery": "none_yet"}
    shown = known_red_flags(rules, plan(rules, weakness))
    assert [f.id for f in shown] == ["recent_onset", "eye_exposure", "both_sides"]
    assert known_red_flags(rules, plan(rules, {"cause": "none", "rf_eye": "no"})) == ()  # waits for linked movements
    worse = plan(rules, safety | {"rf_progressive": "yes"})  # a prompt-level flag: it waits for the result page
    assert [f.id for f in known_red_flags(rules, worse)] == ["eye_exposure", "both_sides", "progressive"]
    assert [f.id for f in known_red_flags(rules, worse, interrupting=True)] == ["eye_exposure", "both_sides"]


def test_reasons_name_the_answers(rules: RuleSet) -> None:
    answers = _base() | {"time_since_onset": "6m_12m", "saq_eye_smile": 4}
    texts = [r.text() for r in assess(rules, answers).reasons]
    assert texts == [
        "The weakness started between 6 and 12 months ago: linked movements that are still there "
        "after 6 months usually follow a steady pattern, though they can still change until about 16 months.",
        "These happen most of the time or more: your eye closes or narrows when you smile.",
    ]


def test_reasons_reach_inside_derived_values(rules: RuleSet) -> None:
    texts = [r.text() for r in assess(rules, _base() | {"twitching": "often", "recovery": "full"}).reasons]
    assert texts == ["Your face twitches often."]


def test_trace_shows_rules_tried_up_to_the_match(rules: RuleSet) -> None:
    trace = assess(rules, VIGNETTES[4]["answers"]).trace()
    assert [(t["outcome"], t["result"]) for t in trace["outcome_rules"]] == [
        ("not-indicated", False),
        ("stage-4", False),
        ("stage-3", True),
    ]
    assert trace["derived"]["linked_frequent"] == 2
    assert trace["pages"]["skipped"] == []


def test_same_answers_same_result(rules: RuleSet) -> None:
    first = assess(rules, _base()).to_json(trace=True)
    assert all(assess(rules, _base()).to_json(trace=True) == first for _ in range(3))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"rf_eye": "maybe"}, "rf_eye", "'maybe' is not one of: yes, no"),
        ({"rf_eye": True}, "rf_eye", "True is not one of: yes, no"),
        ({"saq_eye_smile": 6}, "saq_eye_smile", "6 is not one of: 1, 2, 3, 4, 5"),
        ({"saq_eye_smile": "3"}, "saq_eye_smile", "must be a whole number, one of: 1, 2, 3, 4, 5"),
        ({"saq_eye_smile": 2.5}, "saq_eye_smile", "must be a whole number, one of: 1, 2, 3, 4, 5"),
        (
            {"cause": "bells"},
            "cause",
            "'bells' is not one of: bells_palsy, ramsay_hunt, surgery, injury, other, "
            "unknown, none (did you mean 'bells_palsy'?)",
        ),
        (
            {"treatments": "none"},
            "treatments",
            "must be a list of at least one of: facial_therapy, botulinum_toxin, surgery, none",
        ),
        (
            {"treatments": []},
            "treatments",
            "must be a list of at least one of: facial_therapy, botulinum_toxin, surgery, none",
        ),
        ({"treatments": ["none", "surgery"]}, "treatments", "'none' cannot be combined with other answers"),
        ({"notes": "x" * 1001}, "notes", "must be at most 1000 characters"),
        ({"notes": 5}, "notes", "must be text"),
        ({"saq_eye_smiles": 1}, "saq_eye_smiles", "unknown question id (did you mean 'saq_eye_smile'?)"),
    ],
)
def test_invalid_answers_are_named(rules: RuleSet, change: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(AnswerErrors) as caught:
        assess(rules, _base() | change)
    assert caught.value.errors == {field: message}


def test_accepted_answers_leave_out_what_the_rules_refuse(rules: RuleSet) -> None:
    """Answers kept from before (a cookie, a draft) that the rules no longer accept are left out, to be asked again."""
    valid = {"rf_eye": "no", "saq_eye_smile": 4, "treatments": ["none"], "notes": "eye waters at meals"}
    refused = {
        "no_such_question": "yes",
        "rf_eye": "maybe",  # not a code
        "saq_eye_smile": True,  # a bool is not a whole number, though it equals 1
        "saq_neck_smile": "4",  # text, not a number
        "treatments": ["none", "toxin"],  # "none" stands alone
        "twitching": ["never"],  # one code, not a list
    }
    assert accepted_answers(rules, valid) == valid
    for key, value in refused.items():
        assert accepted_answers(rules, valid | {key: value}) == {k: v for k, v in valid.items() if k != key}, key


def test_every_missing_answer_is_listed(rules: RuleSet) -> None:
    answers = _base()
    del answers["recovery"], answers["saq_chin_dimple"]
    with pytest.raises(AnswerErrors) as caught:
        assess(rules, answers)
    assert caught.value.errors == {"recovery": "an answer is required", "saq_chin_dimple": "an answer is required"}


def test_notes_are_optional_and_never_change_the_result(rules: RuleSet) -> None:
    plain = assess(rules, _base()).to_json()
    noted = assess(rules, _base() | {"notes": "Botox helped; stage 4 please"}).to_json()
    assert plain == noted
