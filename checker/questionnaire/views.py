"""Views of the self-check. They keep answers and route the person; the engine decides."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ..db import db, utcnow
from ..engine import AnswerErrors, Kind, Page, Plan, Question, RedFlag, Result, RuleSet, assess, known_red_flags, plan
from ..exports.fhir import result_bundle
from ..exports.reports import fhir_download, pdf_response
from ..measure import Measure
from ..models import Submission
from ..rules import current_rules
from ..urls import fhir_canon
from ..web.context import unproxied
from ..web.i18n import LANGUAGE_KEY, current_language, reason_text, translate
from ..web.limits import limited
from ..web.metrics import count_result
from .forms import ActionForm, tampered
from .journey import (
    OFFERED_AFTER,
    SENT_KEY,
    answers_with,
    camera_offered,
    current_draft,
    fits_in_browser,
    forget_answers,
    next_page,
    offer_camera,
    previous_page,
    save_page,
    saved_answers,
    saved_measure,
    start_draft,
)
from .notices import record_flags, record_stop, score_history

bp = Blueprint("questionnaire", __name__)
FORMS_KEY = "checker.forms"
PAGE_PATHS_KEY = "checker.page_paths"  # (page id, change) to its address below the script root
URGENT_SHOWN_KEY = "urgent_shown"  # red flags whose page of their own this person has seen


def page_url(page: Page, change: bool = False) -> str:
    """A question page's address: built by ``url_for`` once, then put under this request's
    script root (every step of the check posts a page and is sent to the next)."""
    paths: dict[tuple[str, bool], str] = current_app.extensions[PAGE_PATHS_KEY]
    root = unproxied(request).script_root
    path = paths.get((page.id, change))
    if path is None:
        url = url_for("questionnaire.question_page", page_id=page.id, change=1 if change else None)
        path = paths[(page.id, change)] = url[len(root) :]
    return root + path


def answer_text(question: Question, value: Any) -> str:
    """An answer as the person would read it."""
    if value is None or value == "" or value == []:
        return ""
    if question.kind is Kind.TEXT:
        return str(value)
    codes = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    labels = [translate(o.label) for o in question.options if o.code in codes]
    return ", ".join(labels)


bp.add_app_template_global(answer_text, "answer_text")


@bp.get("/")
def landing() -> str:
    rules = current_rules()
    answers = saved_answers()
    blocker = plan(rules, answers).first_incomplete()
    if not answers or blocker is not None:
        start_url = page_url(blocker or rules.pages[0])
    else:
        start_url = url_for("questionnaire.check_answers")
    return render_template(
        "questionnaire/landing.html", has_answers=bool(answers), start_url=start_url, form=ActionForm()
    )


@bp.post("/start-again")
def start_again() -> Response:
    if not ActionForm().validate_on_submit():
        return redirect(url_for("questionnaire.landing"))
    forget_answers()
    return redirect(page_url(current_rules().pages[0]))


@bp.route("/questions/<page_id>", methods=["GET", "POST"])
@limited("RATE_LIMIT_QUESTIONS", methods=("POST",))
def question_page(page_id: str) -> Response | str:
    rules = current_rules()
    page = rules.page(page_id)
    if page is None:
        abort(404)
    answers = saved_answers()
    route = plan(rules, answers)
    asked = [p.id for p in route.asked]
    if page.id not in asked:
        if route.stopped_after:
            return redirect(url_for("questionnaire.emergency"))
        blocker = route.first_incomplete()
        return redirect(page_url(blocker) if blocker else url_for("questionnaire.check_answers"))
    blocker = route.first_incomplete()
    if blocker is not None and asked.index(blocker.id) >= asked.index(page.id):
        blocker = None  # only an earlier page still to answer comes first
    req = unproxied(request)
    if blocker is not None and req.method != "POST":
        return redirect(page_url(blocker))
    changing = req.args.get("change") == "1"
    form_class = current_app.extensions[FORMS_KEY][page.id]
    session_lapsed = False
    urgent: tuple[RedFlag, ...] = ()
    if req.method == "POST":
        form = form_class()
        valid = form.validate()
        session_lapsed = "csrf_token" in form.errors
        given = {q.id: form[q.id].data for q in page.questions if not form[q.id].errors}
        ahead = plan(rules, answers_with(answers, page, given))  # with the valid answers on this page
        if ahead.stopped_after:
            # The emergency stop comes before everything: blank or tampered answers, Save, a lapsed
            # session. Only the valid answers are kept, and only with a valid form token.
            if not session_lapsed:
                save_page(page, given, resume_at=page.id)
                record_stop()  # on a clinic's link the clinic knows now, whether or not the page loads
            return redirect(url_for("questionnaire.emergency"))
        if tampered(page, req.form):
            abort(400)
        urgent = interrupting_flags(rules, ahead)
        if urgent and not session_lapsed:
            record_flags(rules, urgent)  # shown from this response on: on a clinic's link the clinic knows now
        if blocker is not None and not session_lapsed:
            # An earlier page is not answered (a session that lapsed and started again): what is
            # valid here is kept for later, and the earlier page is asked first.
            save_page(page, given, resume_at=blocker.id)
            return redirect(page_url(blocker))
        language = req.form.get("language")
        if language in current_app.config["LANGUAGES"] and not session_lapsed and fits_in_browser(page, given):
            # The language switch on a question page: what is chosen so far is kept, nothing is required.
            save_page(page, given, resume_at=page.id)
            session[LANGUAGE_KEY] = language
            return redirect(page_url(page, change=changing))
        if req.form.get("action") == "save" and not session_lapsed:
            return _save_for_later(page, form)
        data = {q.id: form[q.id].data for q in page.questions}
        if valid and not fits_in_browser(page, data):
            valid = False
            text = next((q for q in page.questions if q.kind is Kind.TEXT), page.questions[-1])
            form[text.id].errors = [_too_long()]
        if valid:  # then no answer on the page has an error: ``ahead`` is the route with all of them
            url, following = _destination(rules, page, changing, ahead)
            save_page(page, data, resume_at=following.id if following else None)  # a draft resumes there
            unseen = [f.id for f in urgent if f.id not in session.get(URGENT_SHOWN_KEY, ())]
            if unseen:
                session[URGENT_SHOWN_KEY] = [*session.get(URGENT_SHOWN_KEY, ()), *unseen]
                return redirect(url_for("questionnaire.urgent", then=following.id if following else None))
            if not changing and offer_camera(page.id, req.form.get("camera")):
                return redirect(url_for("questionnaire.camera", then=following.id if following else None))
            return redirect(url)
        form.errors.pop("csrf_token", None)
    else:
        form = form_class(formdata=None, data={q.id: answers.get(q.id) for q in page.questions})
    errors = [(q, form[q.id].errors[0]) for q in page.questions if form[q.id].errors]
    previous = previous_page(route, page)
    if route.stopped_after == page.id:  # back from the emergency page: count the steps the check would take
        others = {q.id for q in page.questions}
        asked = [p.id for p in plan(rules, {k: v for k, v in answers.items() if k not in others}).asked]
    return render_template(
        "questionnaire/page.html",
        page=page,
        form=form,
        errors=errors,
        urgent=urgent,
        rules=rules,
        session_lapsed=session_lapsed,
        step=asked.index(page.id) + 1,
        steps=len(asked),
        changing=changing,
        camera_offer=page.id == OFFERED_AFTER and camera_offered(),
        back_url=(
            url_for("questionnaire.check_answers")
            if changing
            else page_url(previous)
            if previous
            else url_for("questionnaire.landing")
        ),
    )


def interrupting_flags(rules: RuleSet, route: Plan) -> tuple[RedFlag, ...]:
    """The red flags the answers on ``route`` already show whose level gets a page of its own at once."""
    return known_red_flags(rules, route, interrupting=True)


def _continue_url(route: Plan, then: str | None = None) -> str:
    """Where the check goes on: page ``then`` if still on the way, else the first page still to
    answer, else the answers to check."""
    following = next((p for p in route.asked if p.id == then), None) or route.first_incomplete()
    return page_url(following) if following else url_for("questionnaire.check_answers")


@bp.get("/urgent")
def urgent() -> Response | str:
    """Advice that cannot wait for the result, as soon as the answers show it."""
    rules = current_rules()
    route = plan(rules, saved_answers())
    if route.stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    flags = interrupting_flags(rules, route)
    continue_url = _continue_url(route, request.args.get("then"))
    if not flags:
        return redirect(continue_url)
    return render_template(
        "questionnaire/urgent.html",
        rules=rules,
        flags=flags,
        level=rules.triage_level(flags[0].triage),
        continue_url=continue_url,
    )


def _too_long() -> str:
    return str(
        _(
            'This is too long to keep in your browser. Shorten it, or choose "Save and come back later" '
            "to keep your answers on the clinic's server."
        )
    )


def _save_for_later(page: Page, form: FlaskForm) -> Response:
    """Keep what is valid on this page, move the answers to the server, show the resume link."""
    if current_draft() is None:
        start_draft()
    keep = {q.id: form[q.id].data for q in page.questions if not form[q.id].errors}
    save_page(page, keep, resume_at=page.id)
    return redirect(url_for("questionnaire.saved"))


def _destination(rules: RuleSet, page: Page, changing: bool, route: Plan) -> tuple[str, Page | None]:
    """Where to go once this page is saved, ``route`` the way the answers then lead, and the
    question page that is, if any."""
    if route.stopped_after:
        return url_for("questionnaire.emergency"), None
    following = route.first_incomplete() if changing else next_page(rules, route, page)
    if following is None:
        return url_for("questionnaire.check_answers"), None
    return page_url(following, change=changing), following


@bp.get("/check-answers")
def check_answers() -> Response | str:
    rules = current_rules()
    answers = saved_answers()
    route = plan(rules, answers)
    if route.stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    blocker = route.first_incomplete()
    if blocker is not None:
        return redirect(page_url(blocker))
    draft = current_draft()
    invitation = draft.invitation if draft is not None else None
    return render_template(
        "questionnaire/check.html", pages=route.asked, answers=answers, invitation=invitation, form=ActionForm()
    )


@bp.get("/result")
def result() -> Response | str:
    rules = current_rules()
    answers = saved_answers()
    route = plan(rules, answers)
    if route.stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    try:
        outcome = assess(rules, answers)
    except AnswerErrors:
        return render_template("questionnaire/no_result.html", started=bool(answers), continue_url=_continue_url(route))
    count_result("page", outcome.outcome, outcome.triage)
    return render_template(
        "questionnaire/result.html",
        result=outcome,
        rules=rules,
        today=date.today(),
        sent=session.get(SENT_KEY),
        history=score_history(outcome),
        measure=_own_measure(),
    )


def _own_measure() -> Measure | None:
    """The person's camera check: still with their answers, or sent with them to the clinic."""
    sent = session.get(SENT_KEY)
    if (measure := saved_measure()) is None and isinstance(sent, int):
        submission = db.session.get(Submission, sent)
        measure = submission.measure if submission is not None else None
    return measure


def _own_result() -> Result | None:
    """The person's result, when their answers are complete and not stopped."""
    try:
        outcome = assess(current_rules(), saved_answers())
    except AnswerErrors:
        return None
    return None if outcome.stopped else outcome


@bp.get("/result.pdf")
@limited("RATE_LIMIT_PDF")
def result_pdf() -> Response:
    """The result as a PDF summary to bring to a visit."""
    outcome = _own_result()
    if outcome is None:
        return redirect(url_for("questionnaire.result"))
    now = utcnow()
    html = render_template(
        "pdf/result.html",
        result=outcome,
        rules=outcome.rules,
        when=now,
        pdf=True,
        history=score_history(outcome),
        measure=_own_measure(),
    )
    return pdf_response(html, f"synkinesis-self-check-{now:%Y-%m-%d}.pdf")


@bp.get("/result.fhir.json")
def result_fhir() -> Response:
    """The answers and result as a FHIR R4 Bundle, for a health record."""
    outcome = _own_result()
    if outcome is None:
        return redirect(url_for("questionnaire.result"))
    return fhir_download(
        result_bundle(
            outcome, utcnow(), fhir_canon(), translate, reason_text, language=current_language(), measure=_own_measure()
        ),
        f"synkinesis-self-check-{utcnow():%Y-%m-%d}.json",
    )


@bp.get("/emergency")
def emergency() -> str:
    rules = current_rules()
    stopped = plan(rules, saved_answers()).stopped_after is not None
    if stopped:
        record_stop()
        count_result("page", None, "emergency")
    return render_template("questionnaire/emergency.html", first_page=rules.pages[0], answered=stopped)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for this path whatever the page says."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/accessibility")
def accessibility() -> str:
    return render_template("questionnaire/accessibility.html")


@bp.get("/how-this-works")
def how_this_works() -> str:
    return render_template("questionnaire/how.html", rules=current_rules())
