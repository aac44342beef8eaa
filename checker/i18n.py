"""Languages: every visible string goes through Flask-Babel."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, format_date, format_datetime, get_locale, gettext

from .engine import Reason, join_words


def select_locale() -> str | None:
    languages: list[str] = current_app.config["LANGUAGES"]
    return request.accept_languages.best_match(languages) or languages[0]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        reason_text=reason_text, get_locale=get_locale, format_date=format_date, format_datetime=format_datetime
    )


def translate(text: str) -> str:
    """Text from the rules file in the current language (English until translated)."""
    return str(gettext(text)) if text else text


def reason_text(reason: Reason) -> str:
    """A reason in the current language."""
    return reason.text(translate, join_words)
