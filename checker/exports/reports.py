"""PDF summaries from the same templates as the pages, and FHIR downloads.

A PDF is rendered in a child process forked from a warm forkserver (``pdf_render``), with a
CPU and a wall-time limit, and at most ``PDF_CONCURRENCY`` at once on this machine (slots
are locked files, so every worker and instance on the host shares them). Past either, the
visitor gets a clear 503 with Retry-After, never a hang. The same HTML is served from a small
in-memory cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import multiprocessing
import multiprocessing.forkserver
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.exceptions import ServiceUnavailable

from . import clinical, pdf_render

_forkserver = multiprocessing.get_context("forkserver")
_forkserver.set_forkserver_preload(["checker.exports.pdf_forkserver"])
SLOTS_FOLDER = "pdf-slots"  # in the instance folder
CACHE_ENTRIES = 32
CACHE_BYTES = 16 * 1024 * 1024
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


class PdfUnavailable(ServiceUnavailable):
    """No PDF now: every slot is busy, or the rendering ran out of time."""


BUSY = _l("Many PDF summaries are being made right now. Please try again in a minute.")
TOO_SLOW = _l("This PDF summary took too long to make, so we stopped. Everything in it is on the page itself.")
NOT_SET_UP = _l("PDF summaries cannot be made right now. Please try again later.")


def start_renderer() -> None:
    """Start this process's forkserver now rather than at the first PDF (gunicorn's post_fork)."""
    multiprocessing.forkserver.ensure_running()


@contextmanager
def _slot(folder: Path, count: int) -> Iterator[None]:
    """Hold one of ``count`` slots shared by every process on this machine, or refuse at once.

    No waiting: a request queued for a slot would hold a web worker's thread, and gunicorn
    queues other requests (health checks too) behind a worker's busy threads.
    """
    with ExitStack() as opened:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handles = [opened.enter_context(open(folder / f"slot-{number}", "ab")) for number in range(count)]
        except OSError as exc:
            current_app.logger.error("PDF slots cannot be kept in %s (%s): make it writable", folder, exc)
            raise PdfUnavailable(str(NOT_SET_UP), retry_after=300) from None
        for handle in handles:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            try:
                yield
                return
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    raise PdfUnavailable(str(BUSY), retry_after=30)


def _render_isolated(html: str, seconds: float) -> bytes:
    """Render in a fork of the warm forkserver; stop it at the time limit."""
    receiving, sending = _forkserver.Pipe(duplex=False)
    process = _forkserver.Process(target=pdf_render.child, args=(sending, html, math.ceil(seconds)), daemon=True)
    process.start()
    sending.close()
    try:
        if receiving.poll(seconds):
            return receiving.recv_bytes()
    except EOFError:  # the child stopped without a PDF: out of CPU time, or the rendering failed
        pass
    finally:
        receiving.close()
        process.kill()
        process.join()
    current_app.logger.warning("a PDF was not rendered within %s s of CPU and wall time", seconds)
    raise PdfUnavailable(str(TOO_SLOW), retry_after=300)


def pdf_bytes(html: str) -> bytes:
    """The PDF of an HTML page rendered from our templates, from the cache or a child process."""
    key = hashlib.sha256(html.encode("utf-8", "surrogatepass")).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    config = current_app.config
    with _slot(Path(current_app.instance_path) / SLOTS_FOLDER, config["PDF_CONCURRENCY"]):
        pdf = _render_isolated(html, config["PDF_TIME_LIMIT"])
    with _cache_lock:
        _cache[key] = pdf
        while len(_cache) > CACHE_ENTRIES or sum(map(len, _cache.values())) > CACHE_BYTES:
            _cache.popitem(last=False)
    return pdf


def css_string(text: object) -> Markup:
    """Text as a quoted CSS string, for the PDF's running header and footer."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:;!?()-'/%&@+" else f"\\{ord(ch):x} " for ch in str(text))
    # Safe: every character outside a small set of plain ones is CSS-escaped above.
    return Markup(f'"{escaped}"')  # noqa: S704  # nosec B704


def init_app(app: Flask) -> None:
    app.add_template_filter(css_string, "css_string")
    app.jinja_env.globals.update(clinical.TEMPLATE_GLOBALS)


def fhir_download(resource: dict[str, Any], filename: str) -> Response:
    """A FHIR resource as a JSON file to save."""
    response = Response(json.dumps(resource, indent=2, ensure_ascii=False), mimetype="application/fhir+json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf_response(html: str, filename: str) -> Response:
    response = Response(pdf_bytes(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
