"""The launch routes: the EHR opens /ehr/launch (iss and launch), a patient starts at /ehr/start
(standalone), and the EHR's authorization comes back to /ehr/callback. An authorized launch
becomes a link on the EHR patient's case, and the person answers the same pages as anyone."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Blueprint, abort, current_app, redirect, render_template, request, session
from sqlalchemy import select, update
from werkzeug.wrappers import Response

from ..cases import case_for, refresh_case_of
from ..db import db, utcnow
from ..models import EhrLaunch, Invitation, new_token, token_hash
from ..questionnaire.journey import start_draft
from ..questionnaire.links import carry_on
from ..urls import external_url
from ..web.limits import limit_blueprint

if TYPE_CHECKING:
    from .smart import LaunchError

bp = Blueprint("ehr", __name__, url_prefix="/ehr")
limit_blueprint(bp, "RATE_LIMIT_SIGN_IN")  # each launch calls the EHR: as few as a sign-in

STATE_KEY = "ehr_state"  # the browser's half of the state: a launch finishes in the browser that began it
AUTHORIZE_MINUTES = 10  # the EHR's authorization must come back within this
LONGEST_CODE = 2000  # an authorization code longer than this is not sent on to the EHR


def _issuers() -> list[str]:
    return str(current_app.config["SMART_ISSUERS"]).split()


def _problem(reason: str, status: int, detail: str = "") -> tuple[str, int]:
    if detail:
        current_app.logger.warning("EHR launch stopped (%s): %s", reason, detail)
    return render_template("ehr/problem.html", reason=reason), status


def _stopped(error: LaunchError) -> tuple[str, int]:
    return _problem(error.reason, 400 if error.reason in ("expired", "unknown-ehr") else 502, error.detail)


@bp.get("/launch")
def launch() -> Response | tuple[str, int]:
    """An EHR launch: the EHR names its FHIR base (``iss``) and this launch (``launch``)."""
    iss, launch_id = request.args.get("iss", ""), request.args.get("launch", "")
    if not launch_id or len(launch_id) > 500:
        return _problem("unknown-ehr", 400, "an EHR launch without a usable 'launch' parameter")
    return _begin("ehr", iss, launch_id)


@bp.get("/start")
def start() -> Response | tuple[str, int]:
    """A standalone launch: the person signs in at their health system's (the only one set, or ``iss``)."""
    issuers = _issuers()
    iss = request.args.get("iss") or (issuers[0] if len(issuers) == 1 else "")
    return _begin("standalone", iss, None)


def _begin(kind: str, iss: str, launch_id: str | None) -> Response | tuple[str, int]:
    from .smart import LaunchError, authorization_request, discover

    if not _issuers():
        abort(404)  # this clinic has not registered the app with an EHR
    if iss not in _issuers():
        return _problem("unknown-ehr", 400, f"launched from an EHR that is not in CHECKER_SMART_ISSUERS: {iss[:200]!r}")
    scope = str(current_app.config["SMART_SCOPES"])
    if kind == "standalone":  # the person picks the patient (themself) at the EHR
        scope = " ".join("launch/patient" if s == "launch" else s for s in scope.split())
    try:
        endpoints = discover(iss)
        asked = authorization_request(
            endpoints, current_app.config["SMART_CLIENT_ID"], external_url("ehr.callback"), scope, iss, launch_id
        )
    except LaunchError as error:
        return _stopped(error)
    db.session.add(
        EhrLaunch(
            state_hash=token_hash(asked.state),
            kind=kind,
            iss=iss,
            token_endpoint=endpoints.token,
            code_verifier=asked.code_verifier,
            expires_at=utcnow() + timedelta(minutes=AUTHORIZE_MINUTES),
        )
    )
    db.session.commit()
    session[STATE_KEY] = asked.state
    return redirect(asked.url)


@bp.get("/callback")
def callback() -> Response | tuple[str, int]:
    """The EHR's answer: a code for a token (with the patient and encounter), or a refusal."""
    from .smart import Endpoints, LaunchError, discover, exchange

    state = request.args.get("state", "")
    found = db.session.scalar(select(EhrLaunch).where(EhrLaunch.state_hash == token_hash(state))) if state else None
    mine = session.pop(STATE_KEY, None) == state
    if found is None or not mine or found.code_verifier is None or found.expires_at <= utcnow():
        return _problem("expired", 400, "a callback with an unknown, used, expired or other browser's state")
    verifier = found.code_verifier
    # One use, whatever happens next: of two requests with this state at once, one claims it.
    spend = update(EhrLaunch).where(EhrLaunch.id == found.id, EhrLaunch.code_verifier.is_not(None))
    claimed = db.session.execute(spend.values(code_verifier=None)).rowcount  # type: ignore[attr-defined]
    db.session.commit()
    if claimed != 1:
        return _problem("expired", 400, "a callback whose state another request spent a moment ago")
    if request.args.get("error") or not 0 < len(request.args.get("code", "")) <= LONGEST_CODE:
        return _problem("refused", 400, f"the EHR's authorization said {request.args.get('error', 'no code')[:100]!r}")
    try:
        discovered = discover(found.iss)
        endpoints = Endpoints(discovered.authorization, found.token_endpoint, discovered.issuer, discovered.jwks_uri)
        granted = exchange(
            endpoints,
            current_app.config["SMART_CLIENT_ID"],
            current_app.config["SMART_CLIENT_SECRET"],
            external_url("ehr.callback"),
            request.args["code"],
            verifier,
            utcnow(),
        )
    except LaunchError as error:
        return _stopped(error)
    found.authorized_at = utcnow()
    found.patient, found.encounter, found.fhir_user = granted.patient, granted.encounter, granted.fhir_user
    found.scope, found.access_token, found.refresh_token = granted.scope, granted.access_token, granted.refresh_token
    found.token_expires_at = granted.expires_at
    case, _known = case_for(case_reference(granted.patient))
    link = Invitation(
        token_hash=token_hash(new_token()),  # a link nobody holds: the launch is the way in
        case=case,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
        opened_at=utcnow(),
        started_at=utcnow(),
    )
    db.session.add(link)
    db.session.flush()
    found.invitation_id = link.id
    refresh_case_of(link)
    db.session.commit()
    current_app.logger.info("EHR launch authorized (%s): case %s", found.kind, case.id)
    start_draft(link)
    return carry_on()


def case_reference(patient: str) -> str:
    """The case's clinic reference for an EHR patient: ``Patient/<id>``, or for a long id (a case
    reference holds 40 characters) its digest, the same every launch."""
    reference = f"Patient/{patient}"
    return reference if len(reference) <= 40 else f"Patient/#{token_hash(patient)[:31]}"
