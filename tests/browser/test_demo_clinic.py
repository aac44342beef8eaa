"""The demo clinic in Chromium, as a newcomer first sees it: signed in, its inbox, worklist and
the year-long case pass axe and fit a phone, in English and Spanish."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from checker import create_app
from tests.conftest import TEST_CONFIG

from .conftest import LiveServer, new_context
from .test_accessibility import problems_on

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    config = {**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('demo') / 'checker.db'}"}
    result = create_app(config).test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    server = LiveServer(create_app({**config, "TESTING": False}))  # served as a web process is
    server.thread.start()
    yield server
    server.server.shutdown()


@pytest.mark.parametrize(("width", "locale"), [(375, "en-US"), (1280, "es-US")])
def test_the_demo_clinic_reads_well_signed_in(browser: Browser, demo: LiveServer, width: int, locale: str) -> None:
    context = new_context(browser, width=width, locale=locale)
    page = context.new_page()
    page.goto(demo.url + "/staff/")
    page.fill("#email", "lead@clinic.example")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    assert page.locator("main a", has_text="MRN-310277").count() == 1  # the stop at the emergency page, first
    assert problems_on(page, width) == []
    page.goto(demo.url + "/staff/worklist")
    assert problems_on(page, width) == []
    page.goto(demo.url + "/staff/?show=all&q=MRN-204815")
    page.click("main a:has-text('MRN-204815')")
    assert problems_on(page, width) == []
    # Each recorded toxin session reads as one line of text: its date, a colon right after it, the note.
    gaps = page.evaluate(
        """[...document.querySelectorAll('ul.events li strong')].map(date => {
             const range = document.createRange();
             range.setStart(date.nextSibling, 0);
             range.setEnd(date.nextSibling, 1);
             return range.getBoundingClientRect().left - date.getBoundingClientRect().right;
           })"""
    )
    assert len(gaps) == 4
    assert all(abs(gap) < 2 for gap in gaps), gaps
    context.close()
