"""Two-step sign-in in a real browser: enrol from the page's own secret, then sign in with a code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from .conftest import STAFF, LiveServer, new_context, serve
from .pages import StaffArea, submit
from .test_accessibility import problems_on


@pytest.fixture
def required_live(tmp_path: Path) -> Iterator[LiveServer]:
    server = serve(tmp_path, TWO_FACTOR="required")
    yield server
    server.server.shutdown()


@pytest.mark.parametrize("width", [375, 1280])
def test_enrol_and_sign_in_with_a_code(browser: Browser, required_live: LiveServer, width: int) -> None:
    context = new_context(browser, width=width)
    page = context.new_page()
    StaffArea(page, required_live.url).sign_in(*STAFF)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")
    assert page.locator("figure.qr svg").count() == 1
    assert problems_on(page, width) == []
    secret = page.inner_text("#totp-secret").replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    submit(page, "main button[type=submit]")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    assert page.locator("#recovery-codes li").count() == 10
    assert problems_on(page, width) == []
    submit(page, "main a.button")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    submit(page, ".staff-nav button[type=submit]")  # sign out
    StaffArea(page, required_live.url).sign_in(*STAFF)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    assert problems_on(page, width) == []
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # a new code: the first one cannot come back
    submit(page, "main button[type=submit]")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    context.close()
