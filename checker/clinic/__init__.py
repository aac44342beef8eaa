"""The clinic's side of the product: staff accounts, invitations and the inbox.

``accounts/`` holds who may sign in and how, ``inbox/`` the list of cases and what it opens,
``casework`` what staff do with a case; all their routes join one blueprint (``blueprint``).
"""

from __future__ import annotations

from flask import Flask

from . import appointments, audit_log, case_fhir, casework, gradings, worklist  # noqa: F401  (their routes join the blueprint)
from .accounts import admin, sign_in  # noqa: F401  (their routes join the blueprint)
from .accounts.auth import login_manager
from .blueprint import bp
from .inbox import export, views  # noqa: F401  (their routes join the blueprint)


def init_app(app: Flask) -> None:
    # Only staff pages need current_user: patients' pages never look up a signed-in user.
    login_manager.init_app(app, add_context_processor=False)
    app.register_blueprint(bp)
