"""Safety in a real browser: urgent advice at once, an emergency stop nothing gets past."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from checker.engine import RuleSet

from .conftest import LiveServer
from .pages import SelfCheck

SAFE = {"rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no", "rf_progressive": "no"}


@pytest.fixture
def check(page: Page, live: LiveServer) -> SelfCheck:
    rules: RuleSet = live.app.extensions["checker.rules"]
    check = SelfCheck(page, live.url, rules)
    check.start()
    return check


@pytest.mark.parametrize(
    ("flag", "name"),
    [("rf_eye", "Your eye may be at risk"), ("rf_ear_rash", "Possible Ramsay Hunt syndrome"),
     ("rf_both_sides", "Both sides of the face are weak")],
)  # fmt: skip
def test_urgent_page_right_after_the_safety_page(check: SelfCheck, flag: str, name: str) -> None:
    check.answer_current_page({**SAFE, flag: "yes"})
    check.continue_()
    assert check.on_urgent_page()
    assert check.heading() == "Get medical care today"
    assert "Step" not in check.page.title()
    assert check.page.locator("main h2", has_text=name).count() == 1
    assert check.page.locator("main a[href='tel:5550100']").count() >= 1  # the clinic's number
    assert check.page.locator("main strong", has_text="911").count() == 1  # and the emergency number
    assert check.focused().startswith("<h1")  # a screen reader starts at the advice
    check.continue_check()
    assert check.page_id == "cause"


def test_urgent_page_after_the_weakness_page_for_a_recent_onset(check: SelfCheck) -> None:
    check.answer_current_page(SAFE)
    check.continue_()
    check.answer_current_page({"cause": "bells_palsy"})
    check.continue_()
    answers = {
        "time_since_onset": "lt_3d",
        "initial_severity": "complete",
        "recovery": "none_yet",
        "eye_closure": "yes",
    }
    check.answer_current_page(answers)
    check.continue_()
    assert check.on_urgent_page()
    assert check.page.locator("main h2", has_text="The weakness started in the last 3 days").count() == 1
    check.continue_check()
    assert check.page_id == "notes"  # under 3 weeks: no linked-movement pages


@pytest.mark.parametrize("button", ["continue", "save"])
def test_stroke_yes_with_every_other_answer_blank_stops_at_once(check: SelfCheck, button: str) -> None:
    check.answer_current_page({"rf_stroke_signs": "yes"})
    check.continue_() if button == "continue" else check.save_for_later()
    assert check.page.url.endswith("/emergency")
    assert check.heading() == "Call 911 now"
    assert check.page.locator("a.button--emergency[href='tel:911']").count() == 1
    assert check.page.locator(".error-summary").count() == 0


def test_under_three_weeks_goes_from_weakness_to_anything_else(check: SelfCheck) -> None:
    visited = []
    answers = {**SAFE, "cause": "ramsay_hunt", "time_since_onset": "3d_3w", "initial_severity": "partial",
               "recovery": "some", "eye_closure": "yes"}  # fmt: skip
    for _ in range(6):
        if not check.on_question_page():
            break
        visited.append(check.page_id)
        check.answer_current_page(answers)
        check.continue_()
    assert visited == ["safety", "cause", "weakness", "notes"]
    assert check.page.url.endswith("/check-answers")
    check.see_result()
    assert "Nerve injury and recovery" in check.heading()
    assert check.page.locator("main", has_text="too early for synkinesis").count() == 1
    assert check.page.locator(".score").count() == 0  # no score: the linked movements were not asked
