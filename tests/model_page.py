"""The camera check's model in headless Chromium, for measuring still pictures.

Serves ``checker/static`` on loopback, as the app does, opens a page that loads the face
mesh through ``landmarks.mjs``, and gives back what the capture would make of a picture: the
landmarks and the frame's numbers. Any request for anything not on that server fails the
page: the model must come from us.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from playwright.sync_api import Route, sync_playwright

from .browser.conftest import CHROMIUM_ARGS

STATIC = Path(__file__).resolve().parent.parent / "checker" / "static"
MODEL = "/static/measure/node_modules/@mediapipe/face_mesh/"
PAGE = f"""<!doctype html><title>Model</title><script type="module">
import {{ loadFaceMesh, lookAt }} from "/static/measure/landmarks.mjs";
window.model = loadFaceMesh("{MODEL}", !location.hash.includes("plain"));
const canvas = document.createElement("canvas");
window.look = async (url) => {{
  const image = new Image();
  image.src = url;
  await image.decode();
  return lookAt(await window.model, image, image.naturalWidth, image.naturalHeight, canvas);
}};
</script>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class ModelPage:
    """``with ModelPage() as model: model.look(data_url)``: a face's 478 landmarks in pixels and
    the frame's numbers, as ``landmarks.mjs``'s ``lookAt`` gives them to the capture."""

    def __init__(self, refine: bool = True) -> None:
        self.refine = refine

    def __enter__(self) -> ModelPage:
        handler = functools.partial(_Quiet, directory=str(STATIC.parent))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        origin = f"http://127.0.0.1:{self.server.server_port}"
        self.elsewhere: list[str] = []
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        self.page = self.browser.new_page()

        def route(route: Route) -> None:
            url = route.request.url
            if url == f"{origin}/model":
                route.fulfill(body=PAGE, content_type="text/html")
            elif url.startswith(f"{origin}/static/") or url.startswith("data:"):
                route.continue_()
            else:
                self.elsewhere.append(url)
                route.abort()

        self.page.route("**/*", route)
        self.page.goto(f"{origin}/model" + ("" if self.refine else "#plain"))
        self.page.wait_for_function("window.model !== undefined")
        self.page.evaluate("window.model.then(() => true)")
        return self

    def look(self, data_url: str) -> tuple[list[list[float]], list[float]]:
        found = self.page.evaluate("url => window.look(url)", data_url)
        if found["points"] is None:
            raise LookupError("no face found")
        if self.elsewhere:
            raise AssertionError(f"the page asked for something not on this site: {self.elsewhere}")
        return list(found["points"]), list(found["frame"])

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.browser.close()
        self.playwright.stop()
        self.server.shutdown()
        self.server.server_close()
