"""Links that leave the site (emails, links to copy): from the configured base URL, never from
the address a request claims (its Host or X-Forwarded-Host header)."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from .exports.fhir.common import Canon

API_PREFIX = "/api/"  # the JSON API's paths: stateless, answered in JSON


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link to ``endpoint``: under ``CHECKER_BASE_URL`` when set.

    Without it (development), the request's own address is used, as Flask does.
    """
    base = str(current_app.config["BASE_URL"]).rstrip("/")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def fhir_canon() -> Canon:
    """The FHIR canonical base: CHECKER_FHIR_BASE, else the site's address + /api/v1/fhir."""
    configured = str(current_app.config["FHIR_BASE"])
    if configured:
        return Canon(configured)
    return Canon(external_url("api.fhir_root").rstrip("/"))
