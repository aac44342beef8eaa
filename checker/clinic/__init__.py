"""The clinic's side of the product: staff accounts, invitations and the inbox."""

from __future__ import annotations

from flask import Flask

from . import admin, casework  # noqa: F401  (their routes join the blueprint)
from .auth import login_manager
from .cli import staff_group
from .views import bp


def init_app(app: Flask) -> None:
    # Only staff pages need current_user: patients' pages never look up a signed-in user.
    login_manager.init_app(app, add_context_processor=False)
    app.register_blueprint(bp)
    app.cli.add_command(staff_group)
