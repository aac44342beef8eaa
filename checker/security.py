"""Security headers on every response, trust in a reverse proxy only when configured, and
request text without NUL characters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# No inline script or style and no third-party origin anywhere: everything comes from /static.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
NO_STORE = ("Cache-Control", "no-store")


class SecurityHeaders:
    """WSGI middleware adding the headers above to every response, unless it set its own.

    Around the whole app, so error pages and static files get them too, at the cost of a
    list extend (a Flask ``after_request`` hook cost a dozen times more on every request).
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        wanted = (*SECURITY_HEADERS, HSTS) if environ.get("wsgi.url_scheme") == "https" else SECURITY_HEADERS
        if not environ.get("PATH_INFO", "").startswith("/static/"):
            wanted = (*wanted, NO_STORE)  # answers, results and records never stay in a cache

        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(header for header in wanted if header[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self.app(environ, with_headers)


def _without_nul(values: MultiDict[str, str]) -> ImmutableMultiDict[str, str]:
    return ImmutableMultiDict([(k.replace("\x00", ""), v.replace("\x00", "")) for k, v in values.items(multi=True)])


class CleanRequest(Request):
    """A request whose query and form text has no NUL characters.

    A NUL is invisible, means nothing in a name, a note or a search, and PostgreSQL cannot
    store it in text: dropping it keeps everything the person meant to send.
    """

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        return _without_nul(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if any("\x00" in k or "\x00" in v for k, v in self.form.items(multi=True)):
            self.form = _without_nul(self.form)


def init_app(app: Flask) -> None:
    app.request_class = CleanRequest
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
    proxies = int(app.config["PROXIES"])
    if proxies > 0:  # behind that many reverse proxies: trust their X-Forwarded-* headers (outermost)
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
