"""The documentation site in Chromium: its search works with nothing fetched from elsewhere,
at phone and desktop widths, and its screenshots and tables fit the page."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import new_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site, served by a plain static file server as a clinic's web server would."""
    folder = tmp_path_factory.mktemp("site")
    done = subprocess.run(  # noqa: S603  (mkdocs from this environment)
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d",
         str(folder)],
        capture_output=True, text=True, check=False, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the library's name)
            """No access log on the test's output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("width", [375, 1280])
def test_search_finds_the_guides_and_fetches_nothing_from_elsewhere(browser: Browser, site: str, width: int) -> None:
    context = new_context(browser, width)
    elsewhere: list[str] = []
    context.on("request", lambda request: None if request.url.startswith(site) else elsewhere.append(request.url))
    page = context.new_page()
    page.goto(f"{site}/index.html")
    page.keyboard.press("s")  # Material's shortcut to the search field, at every width
    page.keyboard.type("worklist")
    results = page.locator(".md-search-result__item")
    results.first.wait_for()
    assert results.count() >= 2
    assert "Using it in a clinic" in page.locator(".md-search-result").inner_text()
    page.keyboard.press("Enter")  # the first result opens
    page.wait_for_url(f"{site}/clinic/index.html*")
    assert elsewhere == []
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_staff_guide_fits_a_phone_and_shows_its_pictures(browser: Browser, site: str, width: int) -> None:
    context = new_context(browser, width)
    page = context.new_page()
    page.goto(f"{site}/clinic/index.html")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    pictures = page.locator("article img")
    assert pictures.count() >= 10  # the English tab's pictures (the Spanish ones wait behind their tab)
    loaded = page.evaluate("[...document.querySelectorAll('article img')].every(i => i.complete && i.naturalWidth > 0)")
    assert loaded
    page.locator(".tabbed-labels label", has_text="Español").first.click()
    assert "img/es/sign-in.png" in (page.locator("article img:visible").first.get_attribute("src") or "")
    context.close()
