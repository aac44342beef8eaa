"""HTML to PDF with WeasyPrint, run in a short-lived child process (see ``reports``).

No Flask here: the instance's PDF server (``pdf_server``) loads it and warms WeasyPrint up
once, and every rendering is a fresh fork of that server, limited in CPU time, so no PDF can
hold a web worker or take the site's processors. Nothing else imports WeasyPrint.

WeasyPrint gets the HTML and the stylesheets as text and may fetch nothing else: no
network, no files. The print rules of the site's stylesheet apply, and report.css adds
the page size, margins, running header and page numbers.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weasyprint import CSS

STATIC = Path(__file__).resolve().parent.parent / "static"
STYLESHEETS = ("checker.css", "report.css")
# The site's stylesheet has screen-only rules WeasyPrint skips; saying so on every PDF is noise.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("weasyprint.progress").setLevel(logging.ERROR)


@cache
def _no_fetching() -> Any:
    """A URL fetcher that refuses every external resource: a summary is made from what we give it."""
    from weasyprint.urls import URLFetcher

    class NoFetching(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"PDF summaries fetch nothing ({url})")

    return NoFetching()


@cache
def _stylesheets() -> tuple[CSS, ...]:
    from weasyprint import CSS

    return tuple(CSS(filename=str(STATIC / name)) for name in STYLESHEETS)


def render(html: str) -> bytes:
    """The PDF of an HTML page rendered from our templates, in this process."""
    from weasyprint import HTML  # here, not at the top: only the forkserver and its children load WeasyPrint

    document = HTML(string=html, base_url="about:blank", url_fetcher=_no_fetching(), media_type="print")
    # Tagged (PDF/UA-1): a screen reader reads the headings, lists and tables in order.
    pdf: bytes = document.write_pdf(stylesheets=list(_stylesheets()), pdf_variant="pdf/ua-1")
    return pdf


# A page with the summaries' kinds of text (headings, bold, tables, a list, accents, figures):
# rendering it once loads the fonts and faces a real summary needs.
WARM_UP_PAGE = """<!doctype html><html lang="en"><title>Warm-up</title><body>
<header class="report-head"><h1>Synkinesis self-check</h1><p>Clinic · 555 0100</p></header>
<div class="triage"><h2 class="heading-m">What to do next</h2><p><strong>See a doctor</strong> <em>soon</em>.</p></div>
<dl class="summary"><div class="summary__row"><dt class="summary__key">Año, señal, ¿cómo?</dt>
<dd class="summary__value"><span class="pre-line">Más o menos: 44.4 (0–100) %</span></dd></div></dl>
<table class="clinician__table"><thead><tr><th>Date</th><th class="number">Score</th></tr></thead>
<tbody><tr><td>2026-11-24</td><td class="number">38.9</td></tr></tbody></table>
<ul><li>One</li><li>Two</li></ul><p class="report-foot">Rules version 2026.2 · not a diagnosis</p></body></html>"""


def warm_up() -> None:
    """Load the fonts, faces and stylesheets once, so that every fork starts with them."""
    render(WARM_UP_PAGE)
