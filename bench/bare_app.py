"""The yardstick: a bare Flask app with one JSON route and one template route, served the same way."""

from __future__ import annotations

from flask import Flask, jsonify, render_template

app = Flask(__name__)


@app.get("/json")
def json_route():  # type: ignore[no-untyped-def]
    return jsonify({"outcome": "stage-3", "triage": "routine", "red_flags": [], "saq": {"total": 44.4}})


@app.get("/template")
def template_route():  # type: ignore[no-untyped-def]
    return render_template("page.html", title="Step 4 of 7", items=range(20))
