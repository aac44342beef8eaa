"""Security headers on every response, trust in a reverse proxy only when configured, no NUL
character in any request's text, and no request body read in part as if it were whole."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, abort, current_app, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream
from wtforms import HiddenField, StringField
from wtforms.csrf.core import CSRFTokenField

from .context import unproxied

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
        # (https, a static file) to the headers wanted, each with its name in lower case
        self.wanted = {
            (https, static): tuple(
                (header, header[0].lower())
                for header in (*SECURITY_HEADERS, *((HSTS,) if https else ()), *(() if static else (NO_STORE,)))
            )
            for https in (False, True)
            for static in (False, True)
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        wanted = self.wanted[
            environ.get("wsgi.url_scheme") == "https",
            environ.get("PATH_INFO", "").startswith("/static/"),  # answers and results never stay in a cache
        ]

        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(header for header, name in wanted if name not in present)
            return start_response(status, headers, exc_info)

        return self.app(environ, with_headers)


NUL = "\x00"
NUL_MESSAGE = _l("This had an invisible character that cannot be saved, so we took it out. Check it and send it again.")


def _has_nul(values: MultiDict[str, str]) -> bool:
    return any(NUL in k or NUL in v for k, v in values.items(multi=True))


class Fields(ImmutableMultiDict[str, str]):
    """A request's query or form fields, where ``get`` of a name not sent returns the default
    at once. Werkzeug's raises and catches an HTTP exception for it, which cost more than the
    rest of the lookup, and pages ask for fields that most requests do not send."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            return default
        return super().get(key, default, type)


def _without_nul(values: MultiDict[str, str]) -> Fields:
    return Fields([(k.replace(NUL, ""), v.replace(NUL, "")) for k, v in values.items(multi=True)])


class CleanRequest(Request):
    """A request whose query and form text has no NUL characters.

    A NUL is invisible, and PostgreSQL cannot store it in text. A query string with one is
    refused (400, see ``screen_request``); form fields are cleaned, and the ones that had a
    NUL are named in ``nul_fields``, so every :class:`Form` gives them a field error and the
    person sees the cleaned text before it is saved. Whatever reads the form directly never
    sees a NUL. A form body cut at the size limit is refused (413), never read as the whole.
    """

    nul_fields: frozenset[str] = frozenset()
    parameter_storage_class = Fields

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        args: ImmutableMultiDict[str, str] = super().args  # type: ignore[assignment]
        return _without_nul(args) if _has_nul(args) else args

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if body_cut_at_limit(self):
            raise RequestEntityTooLarge()
        if _has_nul(self.form):
            self.nul_fields = frozenset(k.replace(NUL, "") for k, v in self.form.items(multi=True) if NUL in k + v)
            self.form = _without_nul(self.form)


def body_cut_at_limit(request: Request) -> bool:
    """Whether a body sent without a length (chunked) went on past the size limit.

    There is no length to refuse it by beforehand, and the stream simply stops at the limit:
    what was read would look like the whole body. Checked once the limit was reached.
    """
    stream = request.stream
    if request.content_length is not None or not isinstance(stream, LimitedStream) or not stream.is_exhausted:
        return False
    return bool(request.environ["wsgi.input"].read(1))


def screen_request() -> None:
    """400 for an address with a NUL in its query (always written %00: a request line cannot hold
    one); 413 for a body over the size limit, before a view can redirect without reading it.

    The size limits are set on the request from the settings once: Flask reads the settings
    again each time the form parser asks, through the app's context, several times a post.
    """
    req = unproxied(request)
    if b"%00" in req.query_string:
        abort(400)
    config = current_app.config
    req.max_form_memory_size = config["MAX_FORM_MEMORY_SIZE"]
    req.max_form_parts = config["MAX_FORM_PARTS"]
    limit = req.max_content_length = config["MAX_CONTENT_LENGTH"]
    if limit is not None and (req.content_length or 0) > limit:
        abort(413)


class _TokenOnDemand(CSRFTokenField):  # type: ignore[misc]
    """The form token, signed when a page shows it, not when the form is made: most posted
    forms end in a redirect that shows none."""

    def process(self, *args: Any, **kwargs: Any) -> None:
        HiddenField.process(self, *args, **kwargs)  # CSRFTokenField's would sign a token at once

    @property
    def current_token(self) -> str:
        return str(self.csrf_impl.generate_csrf_token(self))  # Flask-WTF keeps it for the request

    def __call__(self, **kwargs: Any) -> Markup:
        """The hidden input, as WTForms' widget writes it, without its general attribute
        handling: every page with a form writes one, and that cost a twentieth of a page."""
        if kwargs or self.render_kw:
            return super().__call__(**kwargs)  # type: ignore[no-any-return]
        # A constant of ours; Markup's % escapes the values.
        tag = Markup('<input id="%s" name="%s" type="hidden" value="%s">')
        return tag % (self.id, self.name, self.current_token)


class _FormTokens(FlaskForm.Meta.csrf_class):  # type: ignore[misc]
    """Flask-WTF's form tokens, made and checked as ever, in a field that signs on demand."""

    field_class = _TokenOnDemand


class Form(FlaskForm):  # type: ignore[misc]
    """Every form of the app: a text field that came with a NUL character is not valid.

    Only text the person typed: a choice that had one is judged by its cleaned value, as
    before, so a NUL cannot keep an answer (an emergency stop's too) from counting.
    """

    class Meta(FlaskForm.Meta):  # type: ignore[misc]
        csrf_class = _FormTokens

        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            """What an HTML form sends, never a JSON body: Flask-WTF would take one as the
            form, past the NUL screening and the tamper checks, which read ``request.form``."""
            if formdata is not None and not hasattr(formdata, "getlist") and request.is_json:
                return request.form  # (empty) the form data of the request itself
            return super().wrap_formdata(form, formdata)

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        for name in getattr(request, "nul_fields", ()):
            field = self._fields.get(name)
            if isinstance(field, StringField) and name != "csrf_token":
                field.errors = [*field.errors, str(NUL_MESSAGE)]
                valid = False
        return valid


def init_app(app: Flask) -> None:
    app.request_class = CleanRequest
    app.before_request(screen_request)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
    proxies = int(app.config["PROXIES"])
    if proxies > 0:  # behind that many reverse proxies: trust their X-Forwarded-* headers (outermost)
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
