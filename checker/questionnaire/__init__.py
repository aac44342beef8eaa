"""The patient's self-check: landing page, question pages, check your answers, result,
clinic invitations, saving for later and consultation requests."""

from __future__ import annotations

from flask import Flask

from ..rules import current_rules
from . import camera, consultation, links  # noqa: F401  (their routes join the blueprint)
from .forms import build_forms
from .views import FORMS_KEY, PAGE_PATHS_KEY, bp


def init_app(app: Flask) -> None:
    with app.app_context():
        app.extensions[FORMS_KEY] = build_forms(current_rules())
    app.extensions[PAGE_PATHS_KEY] = {}
    app.register_blueprint(bp)
