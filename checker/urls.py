"""Addresses. Links that leave the site (emails, links to copy) start at the configured base
URL, never at the address a request claims (its Host or X-Forwarded-Host header); a row id in
an address is one the database can hold."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, url_for
from werkzeug.routing import IntegerConverter, Map

from .exports.fhir.common import Canon

API_PREFIX = "/api/"  # the JSON API's paths: stateless, answered in JSON
LARGEST_ID = 2**31 - 1  # an integer column's largest value on PostgreSQL


class RowId(IntegerConverter):
    """``<int:...>`` in every route: from 1 to the largest id a row can have. A larger number is
    a 404, as any unknown id is, instead of an error from the database (SQLite cannot even bind it)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any route is added."""
    app.url_map.converters["int"] = RowId


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link to ``endpoint``: under ``CHECKER_BASE_URL`` when set.

    Without it (development), the request's own address is used, as Flask does.
    """
    base = str(current_app.config["BASE_URL"]).rstrip("/")
    if base and not has_request_context():  # the outbox worker, writing a link into an email
        return base + current_app.url_map.bind("localhost").build(endpoint, values)
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def fhir_canon() -> Canon:
    """The FHIR canonical base: CHECKER_FHIR_BASE, else the site's address + /api/v1/fhir."""
    configured = str(current_app.config["FHIR_BASE"])
    if configured:
        return Canon(configured)
    return Canon(external_url("api.fhir_root").rstrip("/"))
