"""SMART App Launch from an EHR (and standalone), the check tied to the launch's patient and
encounter, and the sent check filed back into the EHR. The client code (checker.ehr.smart) loads
only when a launch happens."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .views import bp  # the questionnaire's links import write_back from here: no import at the top

    app.register_blueprint(bp)
