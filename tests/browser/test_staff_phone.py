"""Staff pages on a phone (375 px): the inbox is one card a patient, with no sideways scrolling."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from checker.engine import RuleSet

from ..conftest import seed_case_over_months
from .conftest import STAFF, LiveServer, new_context
from .pages import StaffArea


def test_the_inbox_on_a_phone_shows_every_column_without_scrolling_sideways(
    browser: Browser, live: LiveServer, rules: RuleSet
) -> None:
    seed_case_over_months(live.app, rules, reference="MRN-PHONE")
    for locale in ("en-US", "es-ES"):
        context = new_context(browser, width=375, locale=locale)
        page = context.new_page()
        StaffArea(page, live.url).sign_in(*STAFF)
        page.goto(f"{live.url}/staff/?show=all&q=mrn-phone")
        row = page.locator("tbody tr").first
        expect(row).to_contain_text("MRN-PHONE")
        expect(row).to_contain_text("SAQ 35.6")
        urgency = row.locator("td").first
        expect(urgency).to_be_visible()
        box = urgency.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 375
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        label = page.evaluate("getComputedStyle(document.querySelector('tbody td'), '::before').content")
        assert label in ('"Urgency: "', '"Urgencia: "'), label
        context.close()
