"""The self-check through the test client: pages, skip logic, back and change, errors."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checker.engine import RuleSet

from .conftest import VIGNETTES, csrf_token, make_staff, post_page, sign_in, walk

BY_NAME = {case["name"]: case for case in VIGNETTES}


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def title_of(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return " ".join(match.group(1).split())


@pytest.mark.parametrize("url", ["/", "/how-this-works", "/emergency", "/questions/safety"])
def test_pages_open(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert '<html lang="en">' in text_of(response)


def test_landing_says_what_it_is_and_is_not(client: FlaskClient) -> None:
    html = text_of(client.get("/"))
    assert "This is not a diagnosis." in html
    assert "about 5 minutes" in html
    assert "Privacy:" in html
    assert "Start now" in html


@pytest.mark.parametrize(
    "name",
    [
        "nine-months-established",
        "four-months-early-signs",
        "two-years-botox",
        "full-recovery",
        "bell-2-weeks-recovering",
        "no-palsy-twitching",
        "ramsay-hunt-eye-and-ear",
    ],
)
def test_whole_journey_gives_the_engine_result(client: FlaskClient, rules: RuleSet, name: str) -> None:
    case = BY_NAME[name]
    last = walk(client, rules, case["answers"])
    assert last.headers["Location"] == "/check-answers"
    assert client.get("/check-answers").status_code == 200
    html = text_of(client.get("/result"))
    outcome = rules.outcomes[case["expect"]["outcome"]]
    assert outcome.name.replace("'", "&#39;") in html
    if case["expect"]["saq_total"] is None:
        assert "Your linked movement score" not in html  # not asked, so no score (not a score of 20)
    else:
        assert f"{case['expect']['saq_total']:.1f}" in html
    assert "This is not a diagnosis." in html
    assert "555 0100" in html  # the booking prompt carries the clinic's phone
    if case["expect"]["triage"] != "routine":
        assert f"triage--{case['expect']['triage']}" in html
        for flag in case["expect"]["red_flags"]:
            assert rules.red_flag(flag).name.replace("'", "&#39;") in html
    else:
        assert 'class="triage' not in html


def test_step_n_of_m_follows_skip_logic(client: FlaskClient) -> None:
    assert title_of(text_of(client.get("/questions/safety"))).startswith("Step 1 of 7: Safety check")
    post_page(client, "safety", BY_NAME["no-palsy-twitching"]["answers"])
    assert title_of(text_of(client.get("/questions/cause"))).startswith("Step 2 of 7")
    response = post_page(client, "cause", {"cause": "none"})
    assert response.headers["Location"] == "/questions/linked"
    assert title_of(text_of(client.get("/questions/linked"))).startswith("Step 3 of 5")  # linked, signs, notes


def test_skipped_pages_redirect_and_their_answers_are_not_used(client: FlaskClient, rules: RuleSet) -> None:
    answers = copy.deepcopy(BY_NAME["two-years-botox"]["answers"])
    walk(client, rules, answers)
    assert "Long-term management" in text_of(client.get("/result"))
    # Now say there was never any weakness: the treatment page is skipped and its answer unused.
    post_page(client, "cause", {"cause": "none"}, change="1")
    assert client.get("/questions/treatment").headers["Location"] == "/check-answers"
    check = text_of(client.get("/check-answers"))
    assert "Botulinum toxin" not in check
    assert "Synkinesis not suggested" in text_of(client.get("/result"))
    # Changing back restores the kept answers: nothing was lost.
    post_page(client, "cause", {"cause": "surgery"}, change="1")
    assert "Long-term management" in text_of(client.get("/result"))


def test_emergency_stop_after_the_safety_page(client: FlaskClient) -> None:
    response = post_page(client, "safety", BY_NAME["stroke-signs"]["answers"])
    assert response.headers["Location"] == "/emergency"
    html = text_of(client.get("/emergency"))
    assert "Call 911 now" in html
    assert 'href="tel:911"' in html
    for url in ("/questions/cause", "/check-answers", "/result"):
        assert client.get(url).headers["Location"] == "/emergency"


def test_emergency_number_is_configurable(rules: RuleSet) -> None:
    from checker import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "EMERGENCY_NUMBER": "112"})
    html = text_of(app.test_client().get("/emergency"))
    assert "Call 112 now" in html
    assert "911" not in html


def test_empty_submit_lists_every_missing_answer_with_links(client: FlaskClient, rules: RuleSet) -> None:
    page = client.get("/questions/safety")
    response = client.post("/questions/safety", data={"csrf_token": csrf_token(text_of(page))})
    assert response.status_code == 200
    html = text_of(response)
    assert title_of(html).startswith("Error: Step 1 of 7")
    assert "There is a problem" in html
    for question in rules.page("safety").questions:  # type: ignore[union-attr]
        assert f'href="#{question.id}"' in html
        assert f'id="{question.id}"' in html  # the link's target exists
        assert f'id="{question.id}-error"' in html


def test_answers_are_kept_when_a_page_has_errors(client: FlaskClient) -> None:
    page = client.get("/questions/safety")
    response = client.post("/questions/safety", data={"csrf_token": csrf_token(text_of(page)), "rf_eye": "yes"})
    html = text_of(response)
    assert re.search(r'id="rf_eye"[^>]*value="yes"\s+checked', html)
    assert 'id="rf_eye-error"' not in html


@pytest.mark.parametrize(
    ("page", "data"),
    [
        ("safety", {"rf_eye": "maybe"}),
        ("linked", {"saq_eye_smile": "9"}),
        ("treatment", {"treatments": ["botox"]}),
        ("safety", {"rf_eye": ["yes", "no"]}),
        ("notes", {"notes": ["a", "b"]}),
    ],
)
def test_tampered_codes_are_refused(client: FlaskClient, rules: RuleSet, page: str, data: dict[str, Any]) -> None:
    answers = BY_NAME["nine-months-established"]["answers"]
    walk(client, rules, answers)
    before = text_of(client.get("/check-answers"))
    token = csrf_token(text_of(client.get(f"/questions/{page}")))
    response = client.post(f"/questions/{page}", data={"csrf_token": token, **data})
    assert response.status_code == 400
    assert "We could not use that answer" in text_of(response)
    assert text_of(client.get("/check-answers")) == before  # nothing was stored


def test_none_with_other_treatments_is_a_form_error(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    response = post_page(client, "treatment", {"treatments": ["none", "surgery"]})
    assert response.status_code == 200
    assert "None of these" in text_of(response)
    assert 'id="treatments-error"' in text_of(response)


def test_notes_over_the_limit_are_kept_with_an_error(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    response = post_page(client, "notes", {"notes": "z" * 1001})
    assert response.status_code == 200
    assert "Write 1000 characters or fewer" in text_of(response)
    assert "z" * 1001 in text_of(response)


def _app_with_rules(tmp_path: Path, edit: Callable[[str], str]) -> Flask:
    from checker import create_app

    from .conftest import RULES_PATH, TEST_CONFIG

    edited = tmp_path / "rules.yaml"
    edited.write_text(edit(RULES_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    return create_app({**TEST_CONFIG, "RULES_PATH": str(edited), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_the_pages_take_required_and_lengths_from_the_rules_file(tmp_path: Path) -> None:
    """Edit rules.yaml: a choice made optional, the notes' limit changed: the pages follow the engine."""

    def edit(text: str) -> str:
        text = text.replace(
            "      - id: twitching\n        type: one_of\n",
            "      - id: twitching\n        type: one_of\n        required: false\n",
        )
        assert "required: false\n" in text
        return text.replace("max_length: 1000", "max_length: 20")

    app = _app_with_rules(tmp_path, edit)
    client = app.test_client()
    answers = next(c for c in VIGNETTES if c["name"] == "nine-months-established")["answers"]
    signs = {k: answers[k] for k in ("asymmetry", "tightness_rest", "pattern", "daily_impact")}  # no twitching
    rules = app.extensions["checker.rules"]
    walk(client, rules, {k: v for k, v in answers.items() if k not in ("twitching", "notes")})
    assert client.get("/questions/signs").status_code == 200
    sent = post_page(client, "signs", signs)
    assert sent.status_code == 302  # the engine does not need it, so neither does the page
    long_note = post_page(client, "notes", {"notes": "x" * 21})
    assert long_note.status_code == 200
    assert "Write 20 characters or fewer" in text_of(long_note)
    assert post_page(client, "notes", {"notes": "x" * 20}).status_code == 302


def test_a_text_without_a_limit_in_the_rules_has_none_on_the_page(tmp_path: Path) -> None:
    app = _app_with_rules(tmp_path, lambda text: text.replace("        max_length: 1000\n", ""))
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    client = app.test_client()
    answers = next(c for c in VIGNETTES if c["name"] == "nine-months-established")["answers"]
    page = client.get("/questions/safety")
    safety = {k: answers[k] for k in ("rf_stroke_signs", "rf_eye", "rf_ear_rash", "rf_both_sides", "rf_progressive")}
    client.post("/questions/safety", data={**safety, "action": "save", "csrf_token": csrf_token(text_of(page))})
    walk(client, app.extensions["checker.rules"], {k: v for k, v in answers.items() if k != "notes"})
    note = "a long note " * 1000  # 12,000 characters: the engine takes it, and the page (on the server) too
    assert post_page(client, "notes", {"notes": note}).headers["Location"] == "/check-answers"
    with app.app_context():
        from checker.db import db

        db.engine.dispose()


def test_lapsed_form_token_keeps_posted_answers(client: FlaskClient) -> None:
    client.get("/questions/safety")
    response = client.post("/questions/safety", data={"csrf_token": "stale", "rf_eye": "yes", "rf_both_sides": "no"})
    assert response.status_code == 200
    html = text_of(response)
    assert "Your session timed out" in html
    assert re.search(r'id="rf_eye"[^>]*value="yes"\s+checked', html)
    assert client.get("/questions/cause").headers["Location"] == "/questions/safety"  # not saved


def no_result(response: Any, continue_at: str) -> bool:
    """The page that says there is no result yet, with a way on to ``continue_at``."""
    html = text_of(response)
    return response.status_code == 200 and "There is no result yet" in html and f'href="{continue_at}"' in html


def test_cannot_jump_ahead(client: FlaskClient) -> None:
    assert client.get("/questions/linked").headers["Location"] == "/questions/safety"
    assert no_result(client.get("/result"), "/questions/safety")  # says so, rather than jumping to step 1
    assert client.get("/check-answers").headers["Location"] == "/questions/safety"


def test_back_links_follow_the_route(client: FlaskClient, rules: RuleSet) -> None:
    post_page(client, "safety", BY_NAME["no-palsy-twitching"]["answers"])
    post_page(client, "cause", {"cause": "none"})
    assert 'class="back-link" href="/questions/cause"' in text_of(client.get("/questions/linked"))
    assert 'class="back-link" href="/"' in text_of(client.get("/questions/safety"))


def test_back_shows_earlier_answers(client: FlaskClient) -> None:
    post_page(client, "safety", BY_NAME["no-palsy-twitching"]["answers"])
    post_page(client, "cause", {"cause": "injury"})
    html = text_of(client.get("/questions/cause"))
    assert re.search(r'value="injury"\s+checked', html)


def test_change_returns_to_check_answers(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    html = text_of(client.get("/check-answers"))
    assert 'href="/questions/signs?change=1#pattern"' in html
    response = post_page(
        client,
        "signs",
        {
            **{
                k: BY_NAME["nine-months-established"]["answers"][k]
                for k in ("twitching", "asymmetry", "tightness_rest", "daily_impact")
            },
            "pattern": "occasional",
        },
        change="1",
    )
    assert response.headers["Location"] == "/check-answers"
    assert "Now and then, and I can&#39;t tell when" in text_of(client.get("/check-answers"))


def test_page_addresses_are_under_the_root_each_request_came_by(client: FlaskClient, rules: RuleSet) -> None:
    """Mounted under a prefix (SCRIPT_NAME), the check sends each person on under the prefix
    they came by, however the addresses are kept between requests."""
    answers = BY_NAME["no-palsy-twitching"]["answers"]
    safety = {q.id: answers[q.id] for q in rules.pages[0].questions}
    for root in ("", "/self-check", "/other", ""):
        base = f"http://localhost{root}"
        page = client.get("/questions/safety", base_url=base)
        sent = client.post("/questions/safety", data={"csrf_token": csrf_token(text_of(page)), **safety}, base_url=base)
        assert sent.headers["Location"] == f"{root}/questions/cause"


def test_result_explains_why_and_the_score_limits(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    html = text_of(client.get("/result"))
    assert "The weakness started between 6 and 12 months ago" in html
    assert "44.4" in html
    assert "13 to 28 points" in html
    assert "botulinum toxin" in html.lower()
    assert "Book a consultation" in html


def test_start_again_needs_a_token_and_clears(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["full-recovery"]["answers"])
    client.post("/start-again", data={})
    assert client.get("/result").status_code == 200  # a forged post changed nothing
    landing = text_of(client.get("/"))
    assert "Continue where you left off" in landing
    client.post("/start-again", data={"csrf_token": csrf_token(landing)})
    assert no_result(client.get("/result"), "/questions/safety")


def test_unknown_page_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/questions/nope")
    assert response.status_code == 404
    assert "Page not found" in text_of(response)


def test_oversized_form_post_is_413(client: FlaskClient) -> None:
    response = client.post("/questions/notes", data={"notes": "x" * 70_000})
    assert response.status_code == 413
    assert "too much" in text_of(response)


def _chunked(client: FlaskClient, url: str, body: str) -> Any:
    """A form posted without a length, as a chunked request arrives from gunicorn."""
    return client.post(
        url,
        input_stream=io.BytesIO(body.encode()),
        content_type="application/x-www-form-urlencoded",
        environ_base={"wsgi.input_terminated": True},
        headers={"Transfer-Encoding": "chunked"},
    )


def test_a_chunked_form_over_the_limit_is_413_not_cut(client: FlaskClient, rules: RuleSet) -> None:
    case = BY_NAME["nine-months-established"]["answers"]
    page = {q.id: case[q.id] for q in rules.pages[0].questions if q.id in case}
    token = csrf_token(text_of(client.get(f"/questions/{rules.pages[0].id}")))
    answers = urlencode({"csrf_token": token, **page})
    response = _chunked(client, "/questions/safety", answers + "&padding=" + "x" * 70_000)
    assert response.status_code == 413  # read to the limit, it looked like a whole, valid page
    assert "too much" in text_of(response)
    assert _chunked(client, "/questions/safety", answers).status_code == 302  # the same, whole, is fine
    assert client.get("/questions/safety").status_code == 200


def test_refused_bodies_get_their_error_page_on_staff_pages_too(db_app: Flask) -> None:
    """Staff pages carry a sign-out form: rendering it must not read a refused body again."""
    make_staff(db_app)
    staff = db_app.test_client()
    sign_in(staff)
    token = csrf_token(text_of(staff.get("/staff/invitations")))
    big = urlencode({"csrf_token": token, "label": "x" * 70_000})
    for client in (staff, db_app.test_client()):
        for url in ("/staff/sign-in", "/staff/invitations"):
            by_length = client.post(url, data=big, content_type="application/x-www-form-urlencoded")
            assert by_length.status_code == 413, url
            assert "too much" in text_of(by_length)
    assert _chunked(staff, "/staff/invitations", big).status_code == 413
    missing = _chunked(staff, "/staff/cases/999/notes", big)  # refused before the body is read
    assert missing.status_code == 404
    assert "Page not found" in text_of(missing)


def test_how_this_works_cites_sources_and_limits(client: FlaskClient) -> None:
    html = text_of(client.get("/how-this-works"))
    assert "Laryngoscope" in html
    assert "not yet been reviewed by a clinician" in html
    assert "no agreed, tested way" in html


def test_every_page_has_the_print_stylesheet_and_no_inline_script(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    for url in ("/", "/questions/safety", "/check-answers", "/result", "/how-this-works", "/emergency"):
        html = text_of(client.get(url))
        assert "checker.css" in html
        assert "<script>" not in html
        assert "onclick" not in html
    with client.get("/static/checker.css") as css:
        assert "@media print" in text_of(css)


def test_answers_the_rules_no_longer_accept_are_asked_again(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    with client.session_transaction() as session:
        session["answers"] = {**session["answers"], "pattern": "retired_code", "old_question": "yes"}
    assert no_result(client.get("/result"), "/questions/signs")
    assert client.get("/check-answers").headers["Location"] == "/questions/signs"


def test_emergency_offers_a_way_back_only_after_the_stop(client: FlaskClient) -> None:
    assert "by mistake" not in text_of(client.get("/emergency"))
    post_page(client, "safety", BY_NAME["stroke-signs"]["answers"])
    html = text_of(client.get("/emergency"))
    assert "I chose that answer by mistake" in html
    post_page(client, "safety", {**BY_NAME["stroke-signs"]["answers"], "rf_stroke_signs": "no"})
    assert client.get("/questions/cause").status_code == 200


def test_long_notes_in_other_scripts_are_kept_or_refused_never_lost(client: FlaskClient, rules: RuleSet) -> None:
    import random
    import warnings

    chooser = random.Random(7)  # noqa: S311 - test data, not secrets
    chinese = "".join(chr(chooser.randint(0x4E00, 0x9FFF)) for _ in range(1000))
    answers = dict(BY_NAME["nine-months-established"]["answers"], notes=chinese)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Flask warns when a cookie is too large for browsers
        walk(client, rules, answers)
        assert chinese in text_of(client.get("/check-answers"))
        # Four-byte characters from all over the supplementary planes compress badly: too much for a cookie.
        mixed = "".join(chr(chooser.randint(0x10000, 0x10FFFF)) for _ in range(1000))
        response = post_page(client, "notes", {"notes": mixed})
    assert response.status_code == 200
    html = text_of(response)
    assert "too long to keep in your browser" in html
    assert mixed.replace("&", "&amp;").replace("<", "&lt;")[:50] in html  # what was typed is still there
    assert chinese in text_of(client.get("/check-answers"))  # the earlier note was not lost


SAFE = {"rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no", "rf_progressive": "no"}


@pytest.mark.parametrize("action", ["continue", "save"])
def test_stroke_yes_stops_whatever_else_is_blank(client: FlaskClient, action: str) -> None:
    page = client.get("/questions/safety")
    data = {"csrf_token": csrf_token(text_of(page)), "rf_stroke_signs": "yes", "action": action}
    response = client.post("/questions/safety", data=data)
    assert response.headers["Location"] == "/emergency"  # not an error summary, not the saved page
    assert "I chose that answer by mistake" in text_of(client.get("/emergency"))  # the answer was kept


def test_stroke_yes_stops_even_with_a_nul_in_it(client: FlaskClient) -> None:
    """A NUL is a field error only in typed text: in a choice it cannot keep the stop from counting."""
    page = client.get("/questions/safety")
    data = {"csrf_token": csrf_token(text_of(page)), "rf_stroke_signs": "yes\x00"}
    assert client.post("/questions/safety", data=data).headers["Location"] == "/emergency"


def test_stroke_yes_stops_even_when_the_session_lapsed(client: FlaskClient) -> None:
    response = client.post("/questions/safety", data={"csrf_token": "expired", "rf_stroke_signs": "yes"})
    assert response.headers["Location"] == "/emergency"
    assert "Call 911 now" in text_of(client.get("/emergency"))
    assert client.get("/questions/cause").headers["Location"] == "/questions/safety"  # nothing saved without a token


def test_emergency_way_back_counts_the_whole_check(client: FlaskClient) -> None:
    post_page(client, "safety", {"rf_stroke_signs": "yes"})
    html = text_of(client.get("/emergency"))
    back = re.search(r'<a href="([^"]+)">I chose that answer by mistake', html)
    assert back is not None
    assert title_of(text_of(client.get(back.group(1)))).startswith("Step 1 of 7")  # not "Step 1 of 1"


def continue_link(html: str) -> str:
    found = re.search(r'id="continue-check" href="([^"]+)">Continue the check<', html)
    assert found, html[:3000]
    return found.group(1)


@pytest.mark.parametrize("flag", ["rf_eye", "rf_ear_rash", "rf_both_sides"])
def test_urgent_advice_right_after_the_safety_page(client: FlaskClient, rules: RuleSet, flag: str) -> None:
    response = post_page(client, "safety", {**SAFE, flag: "yes"})
    assert response.headers["Location"] == "/urgent?then=cause"
    html = text_of(client.get(response.headers["Location"]))
    assert title_of(html).startswith("Get medical care today")
    shown = next(f for f in rules.red_flags if f.when.subjects() == {flag})
    assert shown.name.replace("'", "&#39;") in html
    assert 'href="tel:5550100"' in html
    assert "<strong>911</strong>" in html
    assert continue_link(html) == "/questions/cause"
    # Once seen, going back and sending the page again goes straight on.
    assert post_page(client, "safety", {**SAFE, flag: "yes"}).headers["Location"] == "/questions/cause"


def test_urgent_advice_after_the_weakness_page_for_a_recent_onset(client: FlaskClient) -> None:
    post_page(client, "safety", SAFE)
    post_page(client, "cause", {"cause": "bells_palsy"})
    weakness = {
        "time_since_onset": "lt_3d",
        "initial_severity": "complete",
        "recovery": "none_yet",
        "eye_closure": "no",
    }
    response = post_page(client, "weakness", weakness)
    assert response.headers["Location"] == "/urgent?then=notes"
    html = text_of(client.get(response.headers["Location"]))
    assert "The weakness started in the last 3 days" in html
    # Under 3 weeks: straight on to "anything else", then the answers to check.
    assert continue_link(html) == "/questions/notes"
    assert post_page(client, "notes", {}).headers["Location"] == "/check-answers"
    result = text_of(client.get("/result"))
    assert result.index("triage--urgent") < result.index("Your answers are most like")  # the box stays on top
    assert "too early for synkinesis" in result


def test_under_three_weeks_skips_the_linked_movement_pages(client: FlaskClient) -> None:
    post_page(client, "safety", SAFE)
    post_page(client, "cause", {"cause": "ramsay_hunt"})
    weakness = {"time_since_onset": "3d_3w", "initial_severity": "partial", "recovery": "some", "eye_closure": "yes"}
    assert post_page(client, "weakness", weakness).headers["Location"] == "/questions/notes"
    assert title_of(text_of(client.get("/questions/notes"))).startswith("Step 4 of 4")
    for page in ("linked", "signs", "treatment"):
        assert client.get(f"/questions/{page}").status_code == 302


def test_urgent_advice_shows_above_errors_on_the_same_page(client: FlaskClient) -> None:
    page = client.get("/questions/safety")
    response = client.post("/questions/safety", data={"csrf_token": csrf_token(text_of(page)), "rf_eye": "yes"})
    html = text_of(response)
    assert response.status_code == 200
    assert html.index("Your eye may be at risk") < html.index("There is a problem")


def test_no_urgent_page_without_an_urgent_answer(client: FlaskClient) -> None:
    assert post_page(client, "safety", {**SAFE, "rf_progressive": "yes"}).headers["Location"] == "/questions/cause"
    assert client.get("/urgent?then=cause").headers["Location"] == "/questions/cause"
    assert client.get("/urgent?then=https://evil.example").headers["Location"] == "/questions/cause"


def test_score_is_drawn_in_one_neutral_colour(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["nine-months-established"]["answers"])
    html = text_of(client.get("/result"))
    assert "<meter" not in html  # a meter's low/high/optimum colour it green, amber or red
    assert re.search(r'<rect x="0" y="0" width="24.40" height="4" class="score__fill" fill="#114f6b"/>', html)
    assert "green" not in html
    assert "amber" not in html


def test_stroke_yes_stops_even_beside_a_tampered_answer(client: FlaskClient) -> None:
    page = client.get("/questions/safety")
    data = {"csrf_token": csrf_token(text_of(page)), "rf_stroke_signs": "yes", "rf_eye": "maybe"}
    assert client.post("/questions/safety", data=data).headers["Location"] == "/emergency"
    assert post_page(client, "safety", {**SAFE, "rf_eye": "maybe"}).status_code == 400  # without the stop: refused


def test_not_suggested_with_movements_says_why_a_doctor_should_look(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, BY_NAME["no-palsy-twitching"]["answers"])
    html = text_of(client.get("/result"))
    assert "Synkinesis not suggested" in html
    assert "Why a doctor should look at these movements" in html
    assert "hemifacial spasm" in html
    assert "see your doctor anyway" not in html  # said once, not twice
    walk(client, rules, {**BY_NAME["no-palsy-twitching"]["answers"], "twitching": "never"})
    assert "Why a doctor should look" not in text_of(client.get("/result"))


@pytest.mark.parametrize(
    ("cause", "heading"),
    [("bells_palsy", "After Bell's palsy"), ("ramsay_hunt", "After Ramsay Hunt syndrome"),
     ("surgery", "After an operation"), ("injury", "After an injury"),
     ("other", "When the cause is not known"), ("unknown", "When the cause is not known")],
)  # fmt: skip
def test_stage_1_education_follows_the_cause(client: FlaskClient, rules: RuleSet, cause: str, heading: str) -> None:
    walk(client, rules, {**BY_NAME["bell-2-weeks-recovering"]["answers"], "cause": cause})
    html = text_of(client.get("/result"))
    assert heading in html
    others = {"After Bell's palsy", "After Ramsay Hunt syndrome", "After an operation", "After an injury"} - {heading}
    assert not [h for h in others if h in html]


@pytest.mark.parametrize(("closure", "shown"), [("yes", False), ("with_effort", True), ("no", True)])
def test_eye_care_on_every_result_where_the_eye_does_not_close(
    client: FlaskClient, rules: RuleSet, closure: str, shown: bool
) -> None:
    walk(client, rules, {**BY_NAME["two-years-botox"]["answers"], "eye_closure": closure})
    html = text_of(client.get("/result"))
    assert "Long-term management" in html  # whatever the stage
    assert ("Caring for your eye" in html) is shown


QUIET = {q: 1 for q in ("saq_eye_smile", "saq_eye_speak", "saq_eye_pucker", "saq_neck_smile", "saq_face_tight_eyes",
                        "saq_mouth_eyes", "saq_neck_eyes", "saq_tears_eating", "saq_chin_dimple")}  # fmt: skip
STAGE_1 = {**next(c for c in VIGNETTES if c["name"] == "nine-months-established")["answers"], **QUIET,
           "twitching": "never", "asymmetry": "none", "tightness_rest": "never", "pattern": "none",
           "daily_impact": "none", "treatments": ["none"], "eye_closure": "yes"}  # fmt: skip


def result_for(client: FlaskClient, rules: RuleSet, **answers: Any) -> str:
    walk(client, rules, {**STAGE_1, **answers})
    return " ".join(text_of(client.get("/result")).split())


def test_eye_care_says_what_the_person_answered(client: FlaskClient, rules: RuleSet) -> None:
    gap = result_for(client, rules, eye_closure="no", recovery="some")
    assert "You said a gap stays open when you close the eye on the weak side." in gap
    assert "without effort" not in gap
    squeeze = result_for(client, rules, eye_closure="with_effort", recovery="some")
    assert "closes all the way only when you squeeze it shut" in squeeze
    assert "hold the lid shut with medical tape" in squeeze


def test_stage_1_a_year_on_with_nothing_back_speaks_of_a_specialist_review(client: FlaskClient, rules: RuleSet) -> None:
    page = result_for(client, rules, time_since_onset="gt_18m", recovery="none_yet", cause="bells_palsy")
    assert "Nerve injury and recovery" in page
    assert "The facial nerve is healing" not in page  # not after 18 months with nothing back
    assert "Take this check again in a few weeks" not in page
    assert "facial reanimation" in page
    assert "Steroid tablets help most" not in page  # only where it can still apply


@pytest.mark.parametrize(
    ("since", "steroids"), [("lt_3d", True), ("3d_3w", False), ("3w_3m", False), ("6m_12m", False)]
)
def test_the_steroid_advice_only_where_it_can_still_apply(
    client: FlaskClient, rules: RuleSet, since: str, steroids: bool
) -> None:
    page = result_for(client, rules, time_since_onset=since, recovery="some", cause="bells_palsy")
    assert ("Steroid tablets help most" in page) is steroids


def test_no_surgeon_after_an_injury_without_an_operation(client: FlaskClient, rules: RuleSet) -> None:
    injury = result_for(client, rules, cause="injury", time_since_onset="3w_3m", recovery="some")
    assert "surgeon" not in injury
    assert "ask the doctors treating you whether the nerve needs an operation" in injury
    surgery = result_for(client, rules, cause="surgery", time_since_onset="3w_3m", recovery="some")
    assert "Your surgeon's team plans your recovery" in surgery


def test_one_number_of_weeks_for_no_recovery(client: FlaskClient, rules: RuleSet) -> None:
    early = result_for(client, rules, time_since_onset="3d_3w", recovery="none_yet")
    late = result_for(client, rules, time_since_onset="3w_3m", recovery="none_yet")
    for page in (early, late):
        assert "3 to 4 weeks" not in page
    assert "If no movement at all has come back 3 weeks after the start" in early
    assert "3 weeks or more after the start" in late  # the red flag and the advice agree


def test_stage_2_past_18_months_is_not_the_best_time(client: FlaskClient, rules: RuleSet) -> None:
    late = result_for(client, rules, time_since_onset="gt_18m", recovery="mostly", twitching="sometimes")
    assert "Early signs" in late
    assert "This is the best time to start" not in late
    assert "Specialist facial therapy can help at any time" in late
    sooner = result_for(client, rules, time_since_onset="6m_12m", recovery="mostly", twitching="sometimes")
    assert "This is the best time to start" in sooner


def test_without_a_past_weakness_the_score_is_not_presented_as_synkinesis(client: FlaskClient, rules: RuleSet) -> None:
    page = result_for(client, rules, cause="none", twitching="often")
    assert "Your linked movement score" not in page
    assert "Your answers about movements, as a score" in page
    assert "it does not measure synkinesis" in page


def test_ear_rash_advice_fits_someone_with_no_past_weakness(rules: RuleSet) -> None:
    advice = rules.red_flag("ear_rash").advice
    assert "together with facial weakness" not in advice
    assert "can also weaken the face" in advice


def test_how_this_works_says_which_signs_interrupt_and_which_wait(client: FlaskClient, rules: RuleSet) -> None:
    page = " ".join(text_of(client.get("/how-this-works")).split())
    at_once = page[page.index("At once, on a page of their own") : page.index("With your result, in a box")]
    with_result = page[page.index("With your result, in a box") :]
    assert "Your eye may be at risk" in at_once
    assert "The weakness started in the last 3 days" in at_once
    assert "Your eye does not close all the way" not in at_once
    assert "Your eye does not close all the way" in with_result[:600]
    assert "No movement has come back yet" in with_result[:600]
    assert "an eye that cannot close, need medical care soon, and you are told at once" not in page


def test_us_english(client: FlaskClient) -> None:
    assert "gotten worse" in text_of(client.get("/questions/safety"))
    assert "Do not drive yourself to the hospital." in text_of(client.get("/emergency"))


@pytest.mark.parametrize(
    ("words", "joined"),
    [
        (["terapia facial", "inyecciones"], "terapia facial e inyecciones"),
        (["a", "b", "hipo"], "a, b e hipo"),
        (["agua", "hielo"], "agua y hielo"),
        (["uno", "dos"], "uno y dos"),
    ],
)
def test_spanish_lists_say_e_before_an_i_sound(app: Flask, words: list[str], joined: str) -> None:
    from checker.web.i18n import join_list

    with app.test_request_context("/?lang=es"):
        assert join_list(words) == joined
    with app.test_request_context("/?lang=en"):
        assert join_list(["facial therapy", "injections"]) == "facial therapy and injections"
