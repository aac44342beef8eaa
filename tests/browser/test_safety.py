"""Safety in a real browser: urgent advice at once, an emergency stop nothing gets past."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from checker.engine import RuleSet

from .conftest import LiveServer
from .pages import SelfCheck

SAQ = ["saq_eye_smile", "saq_eye_speak", "saq_eye_pucker", "saq_neck_smile", "saq_face_tight_eyes",
       "saq_mouth_eyes", "saq_neck_eyes", "saq_tears_eating", "saq_chin_dimple"]  # fmt: skip
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
    assert "Nerve injury and recovery" in check.stage()
    assert check.page.locator("main", has_text="too early for synkinesis").count() == 1
    assert check.page.locator(".score").count() == 0  # no score: the linked movements were not asked


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 375, "height": 800}, locale="en-US")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_on_a_phone_the_result_opens_on_the_triage_box(phone: Page, live: LiveServer) -> None:
    """Eye not closing and no recovery: the "within days" box is what a phone shows and a screen
    reader starts at, not the stage heading below it."""
    check = SelfCheck(phone, live.url, live.app.extensions["checker.rules"])
    check.start()
    answers = {**SAFE, "cause": "bells_palsy", "time_since_onset": "3m_6m", "initial_severity": "complete",
               "recovery": "none_yet", "eye_closure": "no", **dict.fromkeys(SAQ, "1"), "twitching": "never",
               "asymmetry": "obvious", "tightness_rest": "never", "pattern": "none", "daily_impact": "a_lot",
               "treatments": ["none"]}  # fmt: skip
    check.answer_all(answers)
    check.see_result()
    assert check.page.locator(".triage--prompt").count() == 1
    assert check.focused().startswith('<section class="triage triage--prompt"')
    assert check.in_view(".triage")
    assert check.page.locator(".triage h2").inner_text() == "See a doctor within the next few days"
    assert check.in_view(".triage h2")
    headings = check.page.eval_on_selector_all("main h1, main h2, main h3", "es => es.map(e => e.tagName)")
    assert headings[0] == "H1"  # the page's heading first, then the box's


def test_on_a_phone_a_page_with_urgent_advice_and_errors_opens_on_the_advice(phone: Page, live: LiveServer) -> None:
    check = SelfCheck(phone, live.url, live.app.extensions["checker.rules"])
    check.start()
    check.answer_current_page({"rf_stroke_signs": "no", "rf_eye": "yes"})  # the rest left blank
    check.continue_()
    assert check.page.locator(".error-summary").count() == 1
    assert check.focused().startswith('<section class="triage triage--urgent"')
    assert check.in_view(".triage")


@pytest.mark.parametrize("key", ["Space", "Enter"])
def test_the_start_button_answers_space_and_enter(page: Page, live: LiveServer, key: str) -> None:
    page.goto(live.url + "/")
    page.focus(".button--start")
    with page.expect_navigation():
        page.keyboard.press(key)
    assert page.url.endswith("/questions/safety")


def test_switching_language_keeps_the_choices_on_the_page(check: SelfCheck) -> None:
    check.answer_current_page({"rf_stroke_signs": "no", "rf_eye": "yes"})
    with check.page.expect_navigation():
        check.page.click("header button[name=language]")
    assert check.page.locator("html").get_attribute("lang") == "es"
    assert check.page.is_checked("input[name='rf_stroke_signs'][value='no']")
    assert check.page.is_checked("input[name='rf_eye'][value='yes']")
    assert check.page.locator(".error-summary").count() == 0
