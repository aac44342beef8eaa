"""A clinician grades a case with the keyboard alone, with JavaScript on and off, and gets the
same scores both ways (the live totals agree with the server's); then amends it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from checker.engine import RuleSet

from ..conftest import seed_case_over_months
from .conftest import STAFF, LiveServer, new_context
from .pages import StaffArea

# eFACE by keyboard: (item, how) where how is keys pressed on the slider or text typed.
STATIC = {"brow_rest": "80", "fissure_rest": "120", "fold_depth_rest": "50", "commissure_rest": "100"}
DYNAMIC = {
    "brow_elevation": "60", "gentle_eye_closure": "100", "full_eye_closure": "90", "fold_depth_smile": "40",
    "fold_orientation_smile": "50", "commissure_smile": "45", "lower_lip": "70",
}  # fmt: skip
SYNKINESIS = {"ocular_synkinesis": "70", "midfacial_synkinesis": "40", "mentalis_synkinesis": "90"}
SERVER = "Static 77.5 · Dynamic 65.0 · Synkinesis 75.0"  # tests/test_grading.py, worked by hand


def tab_to(page: Page, selector: str, limit: int = 200) -> None:
    """Press Tab until ``selector`` has the focus (as a keyboard user moves through the form)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def grade_eface_by_keyboard(page: Page, javascript: bool) -> None:
    tab_to(page, "#side")
    page.keyboard.press("Space")  # left
    tab_to(page, "#visit_on")
    page.keyboard.type("12012026")  # the date field takes digits in its locale's order (mm dd yyyy)
    for item, value in {**STATIC, **DYNAMIC, **SYNKINESIS}.items():
        tab_to(page, f"#{item}")
        page.keyboard.type(value)
    if javascript:
        # The last item by its slider: from 100 (no synkinesis), End keeps it at 100.
        tab_to(page, "#platysmal_synkinesis-slider")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("End")
        expect(page.locator("#platysmal_synkinesis")).to_have_value("100")
        totals = page.locator(".grading-totals")
        expect(totals).to_be_visible()
        expect(totals.locator("[data-score=static]")).to_have_text("77.5")
        expect(totals.locator("[data-score=dynamic]")).to_have_text("65.0")
        expect(totals.locator("[data-score=synkinesis]")).to_have_text("75.0")
    else:
        expect(page.locator(".grading-totals")).to_be_hidden()
        tab_to(page, "#platysmal_synkinesis")
        page.keyboard.type("100")
    tab_to(page, ".grading-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/staff/gradings/\d+$"))


def test_a_clinician_grades_by_keyboard_with_and_without_javascript_and_amends(
    browser: Browser, live: LiveServer, rules: RuleSet
) -> None:
    case_id = seed_case_over_months(live.app, rules, reference="MRN-GRADE")
    for javascript in (True, False):
        context = new_context(browser, javascript=javascript)
        page = context.new_page()
        StaffArea(page, live.url).sign_in(*STAFF)
        page.goto(f"{live.url}/staff/cases/{case_id}/gradings/eface")
        sliders = page.locator("input[type=range]")
        expect(sliders).to_have_count(15 if javascript else 0)
        grade_eface_by_keyboard(page, javascript)
        expect(page.locator("main")).to_contain_text("Grading saved.")
        expect(page.locator(".facts").first).to_contain_text(SERVER)
        context.close()

    # Amend the last one by keyboard: the first version stays, both are shown.
    context = new_context(browser)
    page = context.new_page()
    StaffArea(page, live.url).sign_in(*STAFF)
    page.goto(f"{live.url}/staff/cases/{case_id}#gradings")
    page.locator("#gradings ~ .table-wrap a").last.click()
    grading_url = page.url
    page.goto(grading_url + "/amend")
    tab_to(page, "#ocular_synkinesis-slider")
    page.keyboard.press("Home")  # 0: severe synkinesis, so the subscore falls to (0+40+90+100)/4 = 57.5
    expect(page.locator("#ocular_synkinesis")).to_have_value("0")
    expect(page.locator(".grading-totals [data-score=synkinesis]")).to_have_text("57.5")
    tab_to(page, "#reason")
    page.keyboard.type("Ocular synkinesis re-graded from the video.")
    tab_to(page, ".grading-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(grading_url)
    main = page.locator("main")
    expect(main).to_contain_text("Grading amended: version 2.")
    expect(main).to_contain_text("Synkinesis 57.5")
    expect(main).to_contain_text("Version 1, saved")
    expect(main).to_contain_text(SERVER)  # the first version, unchanged
    expect(main).to_contain_text("Ocular synkinesis re-graded from the video.")
    context.close()
