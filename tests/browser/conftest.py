"""Browser tests: Debian's Chromium driven by Playwright against the app on loopback.

No browser is downloaded: the system's `chromium` is required, and the tests fail (not
skip) when it is missing. `.ci/run` installs it on a fresh machine.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

from checker import create_app
from checker.db import register_migrations

from ..conftest import TEST_CONFIG, make_staff

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
STAFF = ("nurse@clinic.example", "correct horse battery")


def whole_responses(app: WSGIApplication) -> WSGIApplication:
    """``app`` with each response read whole and closed before the server writes it.

    Chromium sometimes drops a request (a favicon, when the page moves on). Werkzeug's
    development server then skips closing the response (the file it was sending), and the
    ResourceWarning fails whichever test happens to be running.
    """

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            getattr(response, "close", lambda: None)()

    return serve


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, whole_responses(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


def serve(folder: Path, **config: object) -> LiveServer:
    """The app on a new SQLite database in ``folder``, with the staff account, served on loopback."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{folder / 'checker.db'}", "TESTING": False, **config})
    register_migrations(app)  # a script, not the command line: Flask-Migrate is not registered
    with app.app_context():
        upgrade()
    make_staff(app, *STAFF)
    server = LiveServer(app)
    server.thread.start()
    return server


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = serve(tmp_path_factory.mktemp("browser"))
    yield server
    server.server.shutdown()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("Debian's Chromium is needed for the browser tests: apt-get install chromium")
    browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def new_context(browser: Browser, width: int = 1280, javascript: bool = True, locale: str = "en-US") -> BrowserContext:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=javascript, locale=locale, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
