"""Where a person's answers live and where they are in the questionnaire.

Answers start in the signed session cookie: nothing is kept on the server. Once a person
opens a clinic's invitation or asks to save, they move to a server-side :class:`Draft`,
updated after every page and found again by an opaque token, kept in the signed session and
in the resume link. Nothing in a request body chooses a draft: a form posted from another
site cannot plant someone else's draft in this browser. Answers to pages that become
skipped are kept, so changing an answer back restores them, but the engine never uses them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import abort, current_app, g, make_response, render_template, session
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..db import db, utcnow
from ..engine import Kind, Page, Plan, RuleSet, accepted_answers
from ..measure import Measure
from ..models import Draft, Invitation, new_token, token_hash
from ..rules import current_rules
from ..web.context import unproxied

ANSWERS_KEY = "answers"
DRAFT_KEY = "draft"
SENT_KEY = "sent"  # the submission id once answers were sent to a clinic
LINK_KEY = "link"  # the clinic link this browser's draft answers: said when the link is withdrawn
CAMERA_KEY = "camera"  # the camera check's figures, while the answers are in the cookie
CASE_KEY = "request_case"  # the case of this browser's last consultation request: a second one joins it

OFFERED_AFTER = "linked"  # the page whose answers the camera check adds to
MODEL_PATH = "measure/node_modules/@mediapipe/face_mesh/"  # below /static, installed by scripts/setup
MODEL_FOLDER = Path(__file__).resolve().parent.parent / "static" / MODEL_PATH


def draft_token() -> str | None:
    """The draft token this browser's signed session holds: only a link the person opened, or
    their own "Save", puts one there."""
    token = session.get(DRAFT_KEY)
    return token if isinstance(token, str) and 20 <= len(token) <= 100 else None


def current_draft() -> Draft | None:
    """The server-side draft this person is working on, if any (looked up once a request)."""
    state = unproxied(g)
    if "draft" not in state:
        token = draft_token()
        draft = None
        if token is not None:
            draft = db.session.scalar(select(Draft).where(Draft.token_hash == token_hash(token)))
            if draft is not None and draft.expires_at <= utcnow():
                draft = None
            if draft is not None and draft.submission_id is not None:
                g.sent_submission_id = draft.submission_id  # already sent: a second "Send" finds it
                draft = None
            if draft is None:
                session.pop(DRAFT_KEY, None)
        state.draft = draft
    found: Draft | None = state.draft
    return found


def _draft_expiry() -> datetime:
    return utcnow() + timedelta(days=current_app.config["DRAFT_DAYS"])


def start_draft(invitation: Invitation | None = None) -> str:
    """Move this person's answers to a new server-side draft; its token."""
    token = new_token()
    draft = Draft(
        token_hash=token_hash(token),
        answers=dict(session.get(ANSWERS_KEY) or {}) if invitation is None else {},
        camera=session.get(CAMERA_KEY) if invitation is None else None,
        invitation_id=invitation.id if invitation else None,
        expires_at=_draft_expiry(),
    )
    db.session.add(draft)
    db.session.commit()
    session.pop(ANSWERS_KEY, None)
    session.pop(CAMERA_KEY, None)
    session[DRAFT_KEY] = token
    _remember_link(draft)
    g.draft = draft
    return token


def _remember_link(draft: Draft) -> None:
    if draft.invitation_id is not None:
        session[LINK_KEY] = draft.invitation_id
    else:
        session.pop(LINK_KEY, None)


def continue_draft(draft: Draft) -> None:
    """Carry on with an existing draft in this browser, under a fresh token."""
    token = new_token()
    draft.token_hash = token_hash(token)
    draft.expires_at = _draft_expiry()
    db.session.commit()
    session.pop(ANSWERS_KEY, None)
    session[DRAFT_KEY] = token
    _remember_link(draft)
    g.draft = draft


def saved_answers() -> dict[str, Any]:
    """The answers so far that the current rules still accept.

    An answer the rules no longer know (they changed since it was given) is dropped, so
    the person is asked again instead of being stuck.
    """
    draft = current_draft()
    stored = draft.answers if draft is not None else session.get(ANSWERS_KEY)
    if not isinstance(stored, dict):
        return {}
    return accepted_answers(current_rules(), stored)


# Browsers drop cookies over about 4 KB: answers that would not fit are not silently lost.
COOKIE_LIMIT = 4000


def fits_in_browser(page: Page, data: dict[str, Any]) -> bool:
    """Whether the session cookie can hold the answers with this page's ``data`` saved."""
    if current_draft() is not None:
        return True  # kept on the server
    cookie = unproxied(session)
    read_size = getattr(cookie, "read_size", None)
    # Saving this page's answers lengthens the JSON the cookie held by their own JSON at most (each
    # replaces any answer it had): while that fits, there is no need to encode the session again.
    if read_size is not None and not cookie.modified:
        added = sum(_json_bound(q) + _json_bound(data[q]) + 2 for q in page.question_ids if data.get(q) is not None)
        if _fits_uncompressed(read_size + added):
            return True
    contents = dict(cookie)
    contents[ANSWERS_KEY] = _merged(dict(contents.get(ANSWERS_KEY) or {}), page, data)
    return _cookie_fits(contents)


def _cookie_fits(contents: dict[str, Any]) -> bool:
    """Whether a session cookie holding ``contents`` stays under the browsers' limit."""
    app = unproxied(current_app)
    if _fits_uncompressed(len(app.session_interface.serializer.dumps(contents).encode())):  # type: ignore[attr-defined]
        return True
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return len(signer.dumps(contents)) <= COOKIE_LIMIT


def _json_bound(value: Any) -> int:
    """The most bytes ``value`` (text, a number, or a list of them) can take in JSON: every
    character written as an escape (``\\u001f``, six bytes), with quotes, brackets and commas."""
    if isinstance(value, (list, tuple)):
        return 2 + sum(_json_bound(item) + 1 for item in value)
    return 6 * len(str(value)) + 2


def _fits_uncompressed(json_size: int) -> bool:
    """Whether JSON of this many bytes fits in the cookie as it is: base64, a stamp and a signature."""
    return json_size * 4 // 3 + 64 <= COOKIE_LIMIT


def answers_with(answers: dict[str, Any], page: Page, data: dict[str, Any]) -> dict[str, Any]:
    """``answers`` as they will be once this page's ``data`` is saved (a copy)."""
    return _merged(dict(answers), page, data)


def _merged(answers: dict[str, Any], page: Page, data: dict[str, Any]) -> dict[str, Any]:
    for question in page.questions:
        value = data.get(question.id)
        if value in (None, "", []):
            answers.pop(question.id, None)
        else:
            answers[question.id] = list(value) if question.kind is Kind.SEVERAL else value
    return answers


def saved_measure() -> Measure | None:
    """This person's camera check, if they did one (kept as their answers are)."""
    draft = current_draft()
    stored = draft.camera if draft is not None else session.get(CAMERA_KEY)
    if not stored:
        return None
    try:
        return Measure.from_json(stored)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # written by another release, or damaged: asked for again


def camera_offered() -> bool:
    """Whether this site offers the camera check: switched on, and its model installed."""
    return bool(current_app.config["CAMERA_CHECK"]) and (MODEL_FOLDER / "face_mesh.js").is_file()


def offer_camera(page_id: str, posted: object) -> bool:
    """Whether to go to the camera check after saving this page: the page it follows, posted from
    a browser that can run it (``checker.js`` says so), and no camera check kept yet."""
    return page_id == OFFERED_AFTER and posted == "offer" and camera_offered() and saved_measure() is None


def save_measure(measure: Measure) -> bool:
    """Keep the camera check with the answers; False when the browser's cookie cannot hold it
    too (long notes), and nothing is changed."""
    draft = current_draft()
    if draft is None:
        if not _cookie_fits({**unproxied(session), CAMERA_KEY: measure.to_json()}):
            return False
        session[CAMERA_KEY] = measure.to_json()
        return True
    draft.camera = measure.to_json()
    draft.updated_at = utcnow()
    _commit_draft()
    return True


def save_page(page: Page, data: dict[str, Any], resume_at: str | None) -> None:
    """Replace this page's answers with ``data`` (empty answers are removed)."""
    draft = current_draft()
    if draft is None:
        cookie = unproxied(session)
        cookie[ANSWERS_KEY] = _merged(dict(cookie.get(ANSWERS_KEY) or {}), page, data)
        return
    draft.answers = _merged(dict(draft.answers), page, data)
    draft.page = resume_at
    draft.updated_at = utcnow()
    draft.expires_at = _draft_expiry()
    _commit_draft()


def _commit_draft() -> None:
    try:
        db.session.commit()
    except StaleDataError:  # staff revoked the link a moment ago: its answers were deleted
        db.session.rollback()
        session.pop(DRAFT_KEY, None)
        abort(make_response(render_template("questionnaire/link_problem.html", problem="revoked"), 410))


def forget_answers() -> None:
    """Clear the answers; an invitation's draft stays, empty, so the link still works."""
    draft = current_draft()
    session.pop(ANSWERS_KEY, None)
    session.pop(CAMERA_KEY, None)
    session.pop(SENT_KEY, None)
    session.pop(CASE_KEY, None)  # whoever starts again here is not joined to the last person's case
    if draft is not None:
        if draft.invitation_id is None:
            db.session.delete(draft)
            session.pop(DRAFT_KEY, None)
        else:
            draft.answers, draft.page, draft.camera = {}, None, None
        db.session.commit()


def next_page(rules: RuleSet, route: Plan, current: Page) -> Page | None:
    """The page after ``current`` on ``route`` (None: the end)."""
    ids = [p.id for p in route.asked]
    if current.id in ids:
        index = ids.index(current.id)
        return route.asked[index + 1] if index + 1 < len(ids) else None
    order = [p.id for p in rules.pages]
    later = [p for p in route.asked if order.index(p.id) > order.index(current.id)]
    return later[0] if later else None


def previous_page(route: Plan, current: Page) -> Page | None:
    ids = [p.id for p in route.asked]
    index = ids.index(current.id) if current.id in ids else 0
    return route.asked[index - 1] if index > 0 else None
