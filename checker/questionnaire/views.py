"""Views of the self-check. They keep answers and route the person; the engine decides."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..engine import AnswerErrors, Kind, Page, Question, assess, plan
from ..i18n import translate
from ..rules import current_rules
from .forms import StartAgainForm, tampered
from .journey import first_incomplete, forget_answers, is_complete, next_page, previous_page, save_page, saved_answers

bp = Blueprint("questionnaire", __name__)
FORMS_KEY = "checker.forms"


def _page_url(page: Page, change: bool = False) -> str:
    return url_for("questionnaire.question_page", page_id=page.id, change=1 if change else None)


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
    blocker = first_incomplete(rules, answers)
    if not answers or blocker is not None:
        start_url = _page_url(blocker or rules.pages[0])
    else:
        start_url = url_for("questionnaire.check_answers")
    return render_template(
        "questionnaire/landing.html", has_answers=bool(answers), start_url=start_url, form=StartAgainForm()
    )


@bp.post("/start-again")
def start_again() -> Response:
    if not StartAgainForm().validate_on_submit():
        return redirect(url_for("questionnaire.landing"))
    forget_answers()
    return redirect(_page_url(current_rules().pages[0]))


@bp.route("/questions/<page_id>", methods=["GET", "POST"])
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
        blocker = first_incomplete(rules, answers)
        return redirect(_page_url(blocker) if blocker else url_for("questionnaire.check_answers"))
    blocker = first_incomplete(rules, answers)
    if blocker is not None and asked.index(blocker.id) < asked.index(page.id):
        return redirect(_page_url(blocker))
    changing = request.args.get("change") == "1"
    form_class = current_app.extensions[FORMS_KEY][page.id]
    session_lapsed = False
    if request.method == "POST":
        if tampered(page, request.form.to_dict(flat=False)):
            abort(400)
        form = form_class()
        if form.validate():
            save_page(page, {q.id: form[q.id].data for q in page.questions})
            return redirect(_after(page, changing))
        session_lapsed = "csrf_token" in form.errors
        form.errors.pop("csrf_token", None)
    else:
        form = form_class(formdata=None, data={q.id: answers.get(q.id) for q in page.questions})
    errors = [(q, form[q.id].errors[0]) for q in page.questions if form[q.id].errors]
    previous = previous_page(rules, answers, page)
    return render_template(
        "questionnaire/page.html",
        page=page,
        form=form,
        errors=errors,
        session_lapsed=session_lapsed,
        step=asked.index(page.id) + 1,
        steps=len(asked),
        changing=changing,
        back_url=(
            url_for("questionnaire.check_answers")
            if changing
            else _page_url(previous)
            if previous
            else url_for("questionnaire.landing")
        ),
    )


def _after(page: Page, changing: bool) -> str:
    """Where to go once a page is saved."""
    rules = current_rules()
    answers = saved_answers()
    if plan(rules, answers).stopped_after:
        return url_for("questionnaire.emergency")
    if changing:
        blocker = first_incomplete(rules, answers)
        return _page_url(blocker, change=True) if blocker else url_for("questionnaire.check_answers")
    following = next_page(rules, answers, page)
    return _page_url(following) if following else url_for("questionnaire.check_answers")


@bp.get("/check-answers")
def check_answers() -> Response | str:
    rules = current_rules()
    answers = saved_answers()
    route = plan(rules, answers)
    if route.stopped_after:
        return redirect(url_for("questionnaire.emergency"))
    blocker = first_incomplete(rules, answers)
    if blocker is not None:
        return redirect(_page_url(blocker))
    return render_template("questionnaire/check.html", pages=route.asked, answers=answers)


@bp.get("/result")
def result() -> Response | str:
    rules = current_rules()
    answers = saved_answers()
    try:
        outcome = assess(rules, answers)
    except AnswerErrors:
        blocker = first_incomplete(rules, answers)
        return redirect(_page_url(blocker) if blocker else url_for("questionnaire.landing"))
    if outcome.stopped:
        return redirect(url_for("questionnaire.emergency"))
    return render_template("questionnaire/result.html", result=outcome, rules=rules, today=date.today())


@bp.get("/emergency")
def emergency() -> str:
    first = current_rules().pages[0]
    answered = is_complete(first, saved_answers())
    return render_template("questionnaire/emergency.html", first_page=first, answered=answered)


@bp.get("/how-this-works")
def how_this_works() -> str:
    return render_template("questionnaire/how.html", rules=current_rules())
