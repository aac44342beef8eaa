"""The SAQ trend drawn by a real browser: no two labels overlap on a phone or a desktop."""

from __future__ import annotations

from itertools import combinations

import pytest
from playwright.sync_api import Browser, expect

from checker.engine import RuleSet

from ..conftest import seed_case_over_months
from .conftest import STAFF, LiveServer, new_context
from .pages import StaffArea


@pytest.mark.parametrize("width", [375, 1280])
def test_twelve_checks_over_eighteen_months_with_two_toxin_sessions(
    browser: Browser, live: LiveServer, rules: RuleSet, width: int
) -> None:
    case_id = seed_case_over_months(live.app, rules, reference=f"MRN-TREND-{width}")
    context = new_context(browser, width=width)
    page = context.new_page()
    StaffArea(page, live.url).sign_in(*STAFF)
    page.goto(f"{live.url}/staff/cases/{case_id}")
    chart = page.locator(".trend__chart")
    expect(chart).to_be_visible()
    expect(page.locator(".trend__point")).to_have_count(12)
    expect(page.locator(".trend__event-mark")).to_have_count(2)
    boxes = page.eval_on_selector_all(
        ".trend__chart text",
        "texts => texts.map(t => { const r = t.getBoundingClientRect();"
        " return {text: t.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })",
    )
    values = [b for b in boxes if "." in b["text"]]
    assert len(values) >= 8  # most points carry their value; the table has every one
    frame = chart.bounding_box()
    assert frame is not None
    for one, other in combinations(boxes, 2):
        apart = (
            one["right"] <= other["left"]
            or other["right"] <= one["left"]
            or one["bottom"] <= other["top"]
            or other["bottom"] <= one["top"]
        )
        assert apart, (one, other)
    for box in boxes:
        assert frame["x"] - 0.5 <= box["left"], box
        assert box["right"] <= frame["x"] + frame["width"] + 0.5, box
    # The page does not scroll sideways, and the drift since the first check is named.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.locator(".trend__since-first")).to_contain_text("Beyond measurement noise since the first check")
    rows = page.locator(".trend__table tbody tr")
    expect(rows).to_have_count(14)  # 12 checks and 2 toxin sessions, in time order
    expect(rows.nth(2)).to_contain_text("Botulinum toxin session")
    expect(rows.last).to_contain_text("Beyond measurement noise since the first check")
    context.close()
