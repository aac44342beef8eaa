"""Error pages and JSON errors: never a traceback in front of anyone."""

from __future__ import annotations

import json

from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from ..db import database_problem, db
from ..exports.fhir import outcome
from ..exports.reports import PdfUnavailable
from ..urls import API_PREFIX
from .negotiation import FHIR_JSON, prefers_fhir


def _api_message(error: HTTPException) -> str:
    code = error.code or 500
    if code == 400:
        return str(_("The request could not be understood. Send well-formed JSON."))
    if code == 403:
        return str(_("This needs a staff account with more rights."))
    if code == 413:
        return str(_("The request body is larger than 64 KiB."))
    if code == 415:
        return str(_("Send the answers as JSON, with the content type application/json."))
    if code == 404:
        return str(_("There is no such endpoint."))
    if code == 405:
        return str(_("This endpoint does not accept that method."))
    if code == 429:
        return str(_("Too many requests. Please wait a minute and try again."))
    if isinstance(error, PdfUnavailable):
        return str(error.description)
    if code == 503:
        return str(_("The service is unavailable for a moment. Please try again in a few minutes."))
    if code >= 500:
        return str(_("Something went wrong on our side. Please try again."))
    return error.description or error.name


FHIR_PREFIX = "/api/v1/fhir"
ISSUE_CODES = {
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
}


def handle_http_error(error: HTTPException) -> tuple[Response | str, int]:
    response, code = _error_response(error)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response = make_response(response)
        response.headers["Retry-After"] = str(retry_after)
    return response, code


def _error_response(error: HTTPException) -> tuple[Response | str, int]:
    code = error.code or 500
    if request.path.startswith(API_PREFIX):
        where = "body" if code in (413, 415) else "request"
        if request.path.startswith(FHIR_PREFIX) and prefers_fhir():
            issue = ISSUE_CODES.get(code, "transient" if code == 503 else "exception" if code >= 500 else "invalid")
            body = json.dumps(outcome({where: _api_message(error)}, {}, code=issue), ensure_ascii=False)
            return Response(body, code, mimetype=FHIR_JSON), code
        return jsonify({"errors": {where: _api_message(error)}}), code
    if isinstance(error, PdfUnavailable):
        return render_template("errors/pdf.html", error=error, code=code), code
    template = f"errors/{code}.html" if code in (400, 403, 404, 405, 413, 429, 503) else "errors/generic.html"
    return render_template(template, error=error, code=code), code


def handle_database_down(error: Exception) -> tuple[Response | str, int]:
    """503 when the database cannot be reached: nothing half-written, a clear 'try again'."""
    db.session.rollback()
    g._login_user = AnonymousUserMixin()  # the page must not ask the database who is signed in
    current_app.logger.error(
        "database unavailable on %s %s: %s", request.method, request.url_rule, database_problem(error)
    )
    return handle_http_error(ServiceUnavailable())


def handle_unexpected(error: Exception) -> tuple[Response | str, int]:
    current_app.logger.exception("unexpected error on %s %s", request.method, request.url_rule or "(no route)")
    try:
        return handle_http_error(InternalServerError(original_exception=error))
    except Exception:  # the error page itself failed: still no traceback for the visitor
        current_app.logger.exception("the error page failed too")
        return Response("Something went wrong. Please try again.", 500, mimetype="text/plain"), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(DBAPIError, handle_database_down)
    app.register_error_handler(SQLAlchemyTimeout, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
