"""PDF summaries from the same templates as the pages, and FHIR downloads.

A PDF is rendered in a child process forked from the instance's warm PDF server
(``pdf_server``: one for all of gunicorn's workers, started by the master), with a CPU and a
wall-time limit, and at most ``PDF_CONCURRENCY`` at once on this machine (slots
are locked files, so every worker and instance on the host shares them). Past either, the
visitor gets a clear 503 with Retry-After, never a hang. The same HTML is served from a small
in-memory cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import signal
import socket
import subprocess  # nosec B404  # the PDF server: this interpreter, a module, no shell
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.exceptions import ServiceUnavailable

from ..web.metrics import PDFS
from . import clinical
from .pdf_server import LENGTH, read_exactly

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


class Renderer:
    """This process's PDF server: the address of its socket. Forked workers inherit it (and the
    pipe end that keeps the server running), so an instance has one."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.alive: int | None = None  # the write end of the pipe whose closing stops the server
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def start(self) -> str:
        """Start a server (gunicorn's master does at start; anyone else at its first PDF)."""
        folder = tempfile.mkdtemp(prefix="checker-pdf-")  # private: mode 700
        address = os.path.join(folder, "socket")
        alive_read, alive_write = os.pipe()
        os.set_inheritable(alive_read, True)
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603
            [sys.executable, "-m", "checker.exports.pdf_server", address, str(alive_read)],
            pass_fds=(alive_read,),
            start_new_session=True,  # a Ctrl-C in the terminal is the app's to handle, not the renderer's
        )
        os.close(alive_read)  # alive_write stays open in this process and its forks: the server lives as long
        self.alive = alive_write
        self.address = address
        return address

    def connect(self, deadline: float) -> socket.socket:
        """A connection to the server, starting one if there is none or it is gone."""
        with self.lock:
            if self.address is None:
                self.start()
        while True:
            connection = socket.socket(socket.AF_UNIX)
            try:
                connection.connect(str(self.address))
                return connection
            except (FileNotFoundError, ConnectionRefusedError):  # starting up, or gone
                connection.close()
                if time.monotonic() > deadline:
                    with self.lock:  # gone: the next PDF starts a new one for this process
                        current_app.logger.error("the PDF server at %s does not answer: starting another", self.address)
                        self.address = None
                    raise
                time.sleep(0.02)


RENDERER = Renderer()


WARM_UP_SECONDS = 60  # the longest gunicorn's master waits for the PDF server to be warm


def start_renderer() -> None:
    """Start the instance's PDF server now and wait until it is warm (gunicorn's master, before it
    forks the workers), so that even the first PDF after a start is quick."""
    RENDERER.start()
    deadline = time.monotonic() + WARM_UP_SECONDS
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(RENDERER.address))
            return
        except OSError:
            if time.monotonic() > deadline or (RENDERER.process and RENDERER.process.poll() is not None):
                raise RuntimeError("the PDF server did not start: PDF summaries cannot be made") from None
            time.sleep(0.02)


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
            PDFS.labels("not set up").inc()
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
    PDFS.labels("busy").inc()
    raise PdfUnavailable(str(BUSY), retry_after=30)


def _render_isolated(html: str, seconds: float) -> bytes:
    """Render in a child of the PDF server; stop it at the time limit."""
    deadline = time.monotonic() + seconds
    child = 0
    try:
        with RENDERER.connect(deadline) as connection:
            connection.settimeout(max(0.01, deadline - time.monotonic()))
            (child,) = LENGTH.unpack(read_exactly(connection, LENGTH.size))
            data = html.encode("utf-8", "surrogatepass")
            connection.sendall(LENGTH.pack(math.ceil(seconds)) + LENGTH.pack(len(data)) + data)
            connection.settimeout(max(0.01, deadline - time.monotonic()))
            (size,) = LENGTH.unpack(read_exactly(connection, LENGTH.size))
            return read_exactly(connection, size)
    except (OSError, EOFError):  # out of time or CPU, the rendering failed, or no server
        if child:
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
    current_app.logger.warning("a PDF was not rendered within %s s of CPU and wall time", seconds)
    PDFS.labels("too slow").inc()
    raise PdfUnavailable(str(TOO_SLOW), retry_after=300)


def pdf_bytes(html: str) -> bytes:
    """The PDF of an HTML page rendered from our templates, from the cache or a child process."""
    key = hashlib.sha256(html.encode("utf-8", "surrogatepass")).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            PDFS.labels("cached").inc()
            return _cache[key]
    config = current_app.config
    with _slot(Path(current_app.instance_path) / SLOTS_FOLDER, config["PDF_CONCURRENCY"]):
        pdf = _render_isolated(html, config["PDF_TIME_LIMIT"])
    PDFS.labels("rendered").inc()
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
