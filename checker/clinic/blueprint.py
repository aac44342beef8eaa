"""The staff area's blueprint and its door: every page but signing in needs a signed-in staff member."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user
from werkzeug.wrappers import Response

from .accounts.auth import login_manager
from .forms import ActionForm

bp = Blueprint("clinic", __name__, url_prefix="/staff")
OPEN_ENDPOINTS = {"clinic.sign_in", "clinic.second_step"}


@bp.context_processor
def staff_context() -> dict[str, object]:
    # Never filled from the request: an error page about a refused body must not read it again.
    return {"sign_out_form": ActionForm(formdata=None), "current_user": current_user}


@bp.before_request
def require_sign_in() -> Response | None:
    """Every staff page needs a signed-in staff member, except the sign-in page itself."""
    if request.endpoint in OPEN_ENDPOINTS or current_user.is_authenticated:
        return None
    result: Response = login_manager.unauthorized()
    return result
