"""PDF summaries with WeasyPrint, from the same templates as the pages.

WeasyPrint gets the HTML and the stylesheets as text and may fetch nothing else: no
network, no files. The print rules of the site's stylesheet apply, and report.css adds
the page size, margins, running header and page numbers.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from flask import Flask, Response, current_app
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

from . import clinical

# The site's stylesheet has screen-only rules WeasyPrint skips; saying so on every PDF is noise.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


class NoFetching(URLFetcher):  # type: ignore[misc]
    """Refuses every external resource: a summary is made from what we give it."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        raise ValueError(f"PDF summaries fetch nothing ({url})")


@cache
def _stylesheets(static_folder: str) -> tuple[CSS, ...]:
    return tuple(CSS(filename=f"{static_folder}/{name}") for name in ("checker.css", "report.css"))


def pdf_bytes(html: str) -> bytes:
    """The PDF of an HTML page rendered from our templates."""
    document = HTML(string=html, base_url="about:blank", url_fetcher=NoFetching(), media_type="print")
    static = current_app.static_folder or ""
    # Tagged (PDF/UA-1): a screen reader reads the headings, lists and tables in order.
    pdf: bytes = document.write_pdf(stylesheets=list(_stylesheets(static)), pdf_variant="pdf/ua-1")
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
