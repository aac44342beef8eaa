"""Languages: every visible string goes through Flask-Babel."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_datetime as babel_datetime
from babel.lists import format_list
from babel.support import NullTranslations
from flask import Flask, current_app, g, request, session
from flask_babel import Babel, format_date, format_datetime, format_percent, get_locale, get_timezone, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from ..config import StartupError
from ..engine import Reason
from ..urls import API_PREFIX

LANGUAGE_KEY = "lang"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def select_locale() -> str | None:
    """The language asked for in the address (``?lang=es``: an API call, or a page that then
    remembers it), else the one chosen on the site, else the browser's, else the default."""
    languages: list[str] = current_app.config["LANGUAGES"]
    if b"lang=" in request.query_string:  # most requests have no query to parse
        asked = request.args.get(LANGUAGE_KEY)
        if asked in languages:
            return str(asked)
    chosen = session.get(LANGUAGE_KEY)
    if chosen in languages:
        return str(chosen)
    return request.accept_languages.best_match(languages) or languages[0]


def remember_language() -> None:
    """``?lang=es`` on any page switches the language and keeps it for the visit."""
    if b"lang=" not in request.query_string or request.path.startswith(API_PREFIX):
        return  # most requests: no need to parse the query string; the API keeps nothing
    wanted = request.args.get(LANGUAGE_KEY)
    if wanted in current_app.config["LANGUAGES"]:
        session[LANGUAGE_KEY] = wanted


def current_language() -> str:
    """This request's language code, such as "es"."""
    return str(get_locale() or current_app.config["LANGUAGES"][0])


def language_links() -> list[tuple[str, str, str]]:
    """(code, name, url) for every other language, pointing at this same page."""
    current = str(get_locale() or "en")
    links = []
    for code in current_app.config["LANGUAGES"]:
        if code == current:
            continue
        # The same path and query, with only the language changed. The query is copied as
        # text, never handed to url_for, where a name like "endpoint" or "_method" means
        # something else (it made a 500 once).
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != LANGUAGE_KEY]
        query = urlencode([*kept, (LANGUAGE_KEY, code)])
        links.append((code, LANGUAGE_NAMES.get(code, code), f"{request.path}?{query}"))
    return links


def translations() -> NullTranslations:
    """This request's catalogue, looked up once (Flask-Babel looks it up again for every string)."""
    found: NullTranslations | None = g.get("_translations")
    if found is None:
        found = g._translations = get_translations()
    return found


@pass_context
def template_gettext(context: Context, string: str, **variables: Any) -> str:
    """``_()`` and ``gettext()`` in templates, as Jinja's own (newstyle) does them: always a
    format string, marked safe where the template escapes. Without variables the result only
    depends on the catalogue, so it is kept with it: a page asks for dozens, and Jinja's way
    took about a tenth of a question page."""
    catalogue = translations()
    escaped = bool(context.eval_ctx.autoescape)
    if variables:
        return _formatted(catalogue.ugettext(string), escaped, variables)
    kept: dict[tuple[str, bool], str] = vars(catalogue).setdefault("_checker_template_text", {})
    found = kept.get((string, escaped))
    if found is None:
        found = kept[string, escaped] = _formatted(catalogue.ugettext(string), escaped, {})
    return found


def _formatted(text: str, escaped: bool, variables: dict[str, Any]) -> str:
    # The catalogue's own text is trusted, as Jinja trusts it; the variables are escaped.
    return (Markup(text) if escaped else text) % variables  # noqa: S704  # nosec B704


def check_catalogues(app: Flask) -> None:
    """Every language but English has its compiled catalogue: without one, its speakers would get
    every page in English, the emergency advice included. One line says how to make them."""
    folders = [Path(app.root_path, folder) for folder in app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")]
    for language in app.config["LANGUAGES"]:
        if language != "en" and not any((f / language / "LC_MESSAGES" / "messages.mo").is_file() for f in folders):
            raise StartupError(
                f"the {language!r} translations are not compiled (no messages.mo): run "
                "'pybabel compile -d checker/translations' (scripts/setup does it)"
            )


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")  # Flask-Babel's default
    check_catalogues(app)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(gettext=template_gettext, _=template_gettext)
    app.before_request(remember_language)
    app.jinja_env.filters["bdi"] = isolated
    app.jinja_env.filters["translated"] = translate  # text from the rules file, in the page's language
    app.jinja_env.globals.update(language_links=language_links)
    app.jinja_env.globals.update(
        reason_text=reason_text,
        get_locale=get_locale,
        format_date=format_date,
        format_datetime=format_datetime,
        format_percent=format_percent,
        staff_time=staff_time,
    )


def isolated(text: str) -> Markup:
    """Text someone typed (a name, a label), kept apart from the words around it: right-to-left
    text, or a direction control character in it, cannot reorder the rest of the line."""
    return Markup("<bdi>{}</bdi>").format(text)


def staff_time(moment: datetime, seconds: bool = False) -> str:
    """A moment for staff, in the clinic's time zone, with the zone named: "3 Dec 2026, 10:30 CST".

    Spanish is written as in the United States, where zones have short names ("CST"; Spanish
    without a country would write "-0600")."""
    locale = get_locale()
    if locale is not None and locale.language == "es" and not locale.territory:
        locale = Locale("es", "US")
    pattern = "d MMM yyyy, HH:mm" + (":ss" if seconds else "") + " zzz"
    return babel_datetime(moment, pattern, tzinfo=get_timezone(), locale=locale or "en")


def translate(text: str) -> str:
    """Text from the rules file in the current language (English until translated)."""
    return translations().ugettext(text) if text else text


def join_list(words: list[str]) -> str:
    """'a, b and c' in the current language."""
    if not words:
        return ""
    locale = get_locale()
    if locale is not None and locale.language == "es" and len(words) > 1:
        return ", ".join(words[:-1]) + f" {spanish_and(words[-1])} " + words[-1]
    return format_list(words, locale=locale or "en")


def spanish_and(word: str) -> str:
    """Spanish "y", or "e" before a word that starts with the sound i ("terapia facial e
    inyecciones"), but not before a diphthong ("agua y hielo"). Babel's lists always say "y"."""
    start = word.lower()
    if start.startswith(("i", "í")) or (start.startswith(("hi", "hí")) and start[2:3] not in ("a", "e", "o", "u")):
        return "e"
    return "y"


def reason_text(reason: Reason) -> str:
    """A reason in the current language."""
    return reason.text(translate, join_list)
