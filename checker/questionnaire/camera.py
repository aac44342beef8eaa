"""The optional camera check, offered after the linked-movements page.

The browser runs the face landmark model the app serves (``checker/static/measure``) and
sends only numbers, each frame's eye openings and the like, in an ordinary form post; the
video never leaves the device. :mod:`checker.measure` checks them and works out the figures,
kept with the answers (and sent with them on a clinic's link). The rule engine does not use
them. Offered only when JavaScript and a camera are there: the linked-movements page carries
a field that ``checker.js`` adds, so without JavaScript nothing about it is shown or kept.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from flask import abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import HiddenField, RadioField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired

from ..engine import Plan, plan
from ..measure import MeasureError, measure_of
from ..rules import current_rules
from ..web.limits import limited
from ..web.security import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY, Form
from .journey import (
    MODEL_PATH,
    OFFERED_AFTER,
    camera_offered,
    current_draft,
    save_measure,
    saved_answers,
    saved_measure,
)
from .views import bp, page_url

# The camera page runs the model's WebAssembly, whose loader (Emscripten's embind) also builds
# functions with new Function(): both allowed on this page only, with the camera, which every
# other page refuses. Still nothing from any other origin.
CAMERA_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'"
    ),
    "Permissions-Policy": PERMISSIONS_POLICY.replace("camera=()", "camera=(self)"),
}


NOT_THROUGH = _l("The measurement did not come through. Try the camera check again, or skip it.")
TOO_MUCH = _l(
    'Your answers fill what this browser can keep, so the measurement could not be added. Choose "Save '
    "and come back later\" on a question page to keep your answers on the clinic's server, then try again."
)
TIMED_OUT = _l("This page timed out before the measurement was sent. Try the camera check again.")


class CameraForm(Form):
    side = RadioField(
        _l("Which side of your face was weak?"),
        choices=[
            SelectChoice("right", _l("My right side")),
            SelectChoice("left", _l("My left side")),
            SelectChoice("both", _l("Both sides")),
        ],
        validators=[InputRequired(message=_l("Choose the side of your face that was weak"))],
    )
    measure = HiddenField()


def _reached(route: Plan) -> bool:
    """Whether the person has answered everything up to and including the page it follows."""
    asked = [page.id for page in route.asked]
    if OFFERED_AFTER not in asked:
        return False
    blocker = route.first_incomplete()
    return blocker is None or asked.index(blocker.id) > asked.index(OFFERED_AFTER)


def _then(route: Plan) -> tuple[str | None, str]:
    """The page the check goes on to (from ``?then=``, if on the way) and its address."""
    wanted = request.args.get("then")
    following = next((page for page in route.asked if page.id == wanted), None) or route.first_incomplete()
    if following is None:
        return None, url_for("questionnaire.check_answers")
    return following.id, page_url(following)


def _on_the_way() -> Response | tuple[Plan, str | None, str]:
    """The route, with the page the check goes on to and its address; or where to go instead:
    404 when the camera check is not offered, the emergency page after the stop."""
    if not camera_offered():
        abort(404)
    route = plan(current_rules(), saved_answers())
    if route.stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    return (route, *_then(route))


class Anchor(NamedTuple):
    """Where an error in the summary leads: the hidden measurement's is the Start button."""

    id: str


@bp.route("/camera", methods=["GET", "POST"])
@limited("RATE_LIMIT_QUESTIONS", methods=("POST",))
def camera() -> Response | tuple[str, int, dict[str, str]]:
    found = _on_the_way()
    if isinstance(found, Response):
        return found
    route, then, continue_url = found
    if not _reached(route):
        return redirect(continue_url)
    form = CameraForm()
    kept = saved_measure()
    if request.method == "POST" and form.validate():
        try:
            sent = json.loads(form.measure.data or "null")
            measure = measure_of({**sent, "side": form.side.data} if isinstance(sent, dict) else sent)
        except (ValueError, RecursionError, MeasureError):
            form.measure.errors = [str(NOT_THROUGH)]
        else:
            if save_measure(measure):
                return redirect(url_for("questionnaire.camera_result", then=then))
            form.measure.errors = [str(TOO_MUCH)]
    elif request.method == "GET" and kept is not None:
        form.side.data = kept.side
    if "csrf_token" in form.errors and not form.measure.errors:
        form.measure.errors = [str(TIMED_OUT)]
    errors = [
        (anchor, field.errors[0])
        for anchor, field in ((form.side, form.side), (Anchor("camera-start"), form.measure))
        if field.errors
    ]
    page = render_template(
        "questionnaire/camera.html",
        form=form,
        errors=errors,
        continue_url=continue_url,
        model_url=url_for("static", filename=MODEL_PATH),
        kept=kept,
        on_link=(draft := current_draft()) is not None and draft.invitation_id is not None,
    )
    return page, 200, CAMERA_PAGE_HEADERS


@bp.get("/camera/result")
def camera_result() -> Response | str:
    """The figures in plain words, then on with the check."""
    found = _on_the_way()
    if isinstance(found, Response):
        return found
    _, then, continue_url = found
    measure = saved_measure()
    if measure is None:
        return redirect(continue_url)
    return render_template(
        "questionnaire/camera_result.html",
        measure=measure,
        continue_url=continue_url,
        again_url=url_for("questionnaire.camera", then=then),
    )
