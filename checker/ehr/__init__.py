"""SMART App Launch from an EHR (and standalone), the check tied to the launch's patient and
encounter. The client code (checker.ehr.smart) loads only when a launch happens."""

from __future__ import annotations

from flask import Flask

from .views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
