"""The yardstick: a bare Flask app served the same way as the real one.

``/json`` and ``/template`` are what the targets compare with. Two more routes show the floor
of the stack the app is built on: ``/engine`` does only the API's own work (parse, run the
rule engine, answer JSON) and ``/form`` a question page's (a Flask-WTF form of five yes/no
questions with its CSRF token, answers kept in the signed session cookie, then a redirect).
``/page`` is ``/form`` with what a question page cannot do without, for comparison only: the
session holds a whole questionnaire's answers, and the engine works out the route before and
after the page's answers, as ``/engine`` runs the engine for the API.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, jsonify, redirect, render_template, request, session
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.validators import InputRequired

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from checker.engine import assess, load_rules, plan  # noqa: E402

app = Flask(__name__)
app.secret_key = os.environ.get("CHECKER_SECRET_KEY", "bench-secret")
RULES = load_rules(Path(__file__).resolve().parent.parent / "rules.yaml")


class FiveQuestions(FlaskForm):  # type: ignore[misc]
    pass


for number in range(5):
    field = RadioField(f"Question {number}", choices=[("yes", "Yes"), ("no", "No")], validators=[InputRequired()])
    setattr(FiveQuestions, f"q{number}", field)


@app.get("/json")
def json_route():  # type: ignore[no-untyped-def]
    return jsonify({"outcome": "stage-3", "triage": "routine", "red_flags": [], "saq": {"total": 44.4}})


@app.get("/template")
def template_route():  # type: ignore[no-untyped-def]
    return render_template("page.html", title="Step 4 of 7", items=range(20))


@app.post("/engine")
def engine_route():  # type: ignore[no-untyped-def]
    return jsonify(assess(RULES, request.get_json()["answers"]).to_json())


@app.route("/form", methods=["GET", "POST"])
def form_route():  # type: ignore[no-untyped-def]
    form = FiveQuestions()
    if form.validate_on_submit():
        session["answers"] = {**session.get("answers", {}), **{f.name: f.data for f in form if f.name != "csrf_token"}}
        return redirect("/form")
    return f'<input name="csrf_token" type="hidden" value="{form.csrf_token.current_token}">'


FULL = dict(max(RULES.cases, key=lambda case: len(case.answers)).answers)  # a whole questionnaire's answers


@app.route("/page", methods=["GET", "POST"])
def page_route():  # type: ignore[no-untyped-def]
    form = FiveQuestions()
    if form.validate_on_submit():
        answers = dict(session.get("answers") or FULL)
        plan(RULES, answers)
        answers.update({f.name: f.data for f in form if f.name != "csrf_token"})
        plan(RULES, answers)
        session["answers"] = answers
        return redirect("/page")
    session["answers"] = FULL
    return f'<input name="csrf_token" type="hidden" value="{form.csrf_token.current_token}">'
