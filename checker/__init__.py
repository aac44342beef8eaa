"""The synkinesis self-check: a Flask application around a pure-Python rule engine."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from .config import PROJECT_ROOT, StartupError, configure
from .engine import RulesError, load_rules
from .rules import RULES_KEY, RULES_TEXT_KEY

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; raise :class:`StartupError` on a broken rules file or setting."""
    return made_to_last(_build, test_config)


def made_to_last(build: Callable[[dict[str, Any] | None], Flask], test_config: dict[str, Any] | None) -> Flask:
    """``build(test_config)`` with the cyclic garbage collector paused, its objects then frozen.

    What start-up makes (modules, classes, table mappings, routes, the compiled rules) lives
    as long as the process: tracing it again and again while it was made cost tens of
    milliseconds. Frozen (outside tests), later collections skip it, and workers forked from a
    preloading server do not copy its pages by touching it: the recipe in the documentation
    of Python's ``gc`` module. A test builds many apps, and each must stay collectable.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        app = build(test_config)
    finally:
        if collecting:
            gc.enable()
    if not app.testing:
        gc.freeze()
    return app


def _build(test_config: dict[str, Any] | None) -> Flask:
    """The web app, made as ``create_app`` describes."""
    # Imported here, so ``checker.engine`` can be used without loading the web app.
    # (models: imported for migrations)
    from . import api, clinic, db, ehr, health, models, questionnaire, urls  # noqa: F401
    from .exports import reports
    from .web import errors, i18n, limits, logs, security, sessions, telemetry

    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    configure(app, test_config)
    urls.init_app(app)
    logs.init_app(app)
    telemetry.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    limits.init_app(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's key order
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # UTF-8 JSON, not \u escapes
    register_rules(app)
    db.init_app(app)
    i18n.init_app(app)
    reports.init_app(app)
    questionnaire.init_app(app)
    api.init_app(app)
    app.register_blueprint(health.bp)
    clinic.init_app(app)
    ehr.init_app(app)
    errors.init_app(app)
    if app.testing or click.get_current_context(silent=True) is not None:  # a web process runs no command
        from . import cli

        db.register_migrations(app)
        cli.init_app(app)
    return app


def register_rules(app: Flask) -> None:
    """Load, check and compile the rules once; a broken file stops the app here."""
    try:
        rules = load_rules(app.config["RULES_PATH"])
    except RulesError as exc:
        raise StartupError(f"the rules file has problems; the app cannot start:\n{exc}") from None
    with open(app.config["RULES_PATH"], "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != rules.sha256:
        raise StartupError("the rules file changed while it was being loaded: start the app again")
    app.extensions[RULES_KEY] = rules
    app.extensions[RULES_TEXT_KEY] = data.decode("utf-8")
