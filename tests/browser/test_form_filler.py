"""LHC-Forms, the NLM's SDC form filler, as a health-IT integrator would use it with our FHIR.

The Questionnaire is fetched by the browser from the app on another origin (CORS), shown
by LHC-Forms, filled by clicking through it for every public worked case, checked with
LHC-Forms' own validity check, and exported as a QuestionnaireResponse, which $assess turns
into the case's result. The SAQ total the form computes as the person answers is the
engine's. The app's own exported QuestionnaireResponse loads back with every answer shown.
"""

from __future__ import annotations

import functools
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from checker.engine import Kind, RuleSet, assess

from ..conftest import VIGNETTES
from .conftest import LiveServer, new_context, serve

HERE = Path(__file__).resolve().parent / "lforms"
DIST = HERE / "node_modules" / "lforms" / "dist" / "lforms"


class Harness(SimpleHTTPRequestHandler):
    """The harness page at /, LHC-Forms' built files under /lforms/."""

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        if self.path in ("/", "/index.html"):
            body = (HERE / "harness.html").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/lforms/"):
            self.path = self.path.removeprefix("/lforms")
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        pass


@pytest.fixture(scope="module")
def filler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LiveServer]]:
    """The harness on one origin, and the app on another that allows it (CORS)."""
    if not (DIST / "webcomponent" / "main.js").exists():
        raise RuntimeError(f"LHC-Forms is not installed: run 'npm ci' in {HERE} (scripts/setup test does)")
    static = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Harness, directory=str(DIST)))
    threading.Thread(target=static.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{static.server_port}"
    app = serve(tmp_path_factory.mktemp("filler"), CORS_ORIGINS=origin)
    yield origin, app
    app.server.shutdown()
    app.server.server_close()
    static.shutdown()
    static.server_close()


def _post(url: str, body: Any, accept: str = "application/json") -> Any:
    request = urllib.request.Request(  # noqa: S310 - a loopback test server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", "Accept": accept}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # nosec B310
        return json.loads(response.read())


def _open(
    browser: Browser, origin: str, app: LiveServer, language: str, response: Any = None, path: str | None = None
) -> tuple[Page, Any]:
    context = new_context(browser, width=1280, locale="es-US" if language == "es" else "en-US")
    page = context.new_page()
    page.goto(origin + "/")
    page.wait_for_function("window.LForms && LForms.Util")
    page.add_script_tag(url="/lforms/fhir/R4/lformsFHIR.min.js")
    page.wait_for_function("LForms.FHIR && LForms.FHIR.R4")
    questionnaire = page.evaluate(
        "([app, lang, qr, path]) => loadForm(app, lang, qr, path || undefined)", [app.url, language, response, path]
    )
    page.wait_for_selector("input")  # the form is on the page
    return page, questionnaire


def _fill(page: Page, rules: RuleSet, questionnaire: Any, answers: dict[str, Any]) -> None:
    """Click through the form as a person would, page by page; skipped items are not shown."""
    systems = _systems(questionnaire)
    for form_page in rules.pages:
        for question in form_page.questions:
            if question.id not in answers:
                continue
            value = answers[question.id]
            if question.kind is Kind.TEXT:
                box = page.locator(f'[id="{question.id}/1/1"]')
                if box.count() and box.is_visible():
                    box.fill(str(value))
                continue
            for code in value if isinstance(value, list) else [value]:
                choice = page.locator(f'[id="{question.id}/1/1|{systems[question.id]}|{code}"]')
                if choice.count() and choice.is_visible():
                    choice.click()


def _systems(questionnaire: Any) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(items: list[Any]) -> None:
        for item in items:
            if item.get("answerOption"):
                found[item["linkId"]] = item["answerOption"][0]["valueCoding"]["system"]
            walk(item.get("item", []))

    walk(questionnaire["item"])
    return found


def _result(parameters: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"red_flags": []}
    for part in parameters["parameter"]:
        value = next(v for k, v in part.items() if k.startswith("value"))
        if part["name"] == "red-flag":
            found["red_flags"].append(value["code"])
        else:
            found[part["name"]] = value["code"] if isinstance(value, dict) else value
    return found


def _beside_the_stop(rules: RuleSet) -> list[dict[str, Any]]:
    """Stroke cases whose other safety answers were given too: they reach $assess and are reported."""
    cases = []
    for name, answers in [
        ("stroke-with-eye-at-risk", {"rf_stroke_signs": "yes", "rf_eye": "yes"}),
        (
            "stroke-with-every-safety-answer",
            {
                "rf_stroke_signs": "yes",
                "rf_eye": "yes",
                "rf_ear_rash": "yes",
                "rf_both_sides": "no",
                "rf_progressive": "yes",
            },
        ),
    ]:
        result = assess(rules, answers)
        expect = {"outcome": result.outcome, "triage": result.triage, "red_flags": list(result.red_flags)}
        assert len(result.red_flags) > 1  # more than the stop: what the form must carry to $assess
        cases.append({"name": name, "answers": answers, "expect": expect})
    return cases


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_worked_case_through_lhc_forms(
    browser: Browser, filler: tuple[str, LiveServer], rules: RuleSet, language: str
) -> None:
    origin, app = filler
    assess = app.url + "/api/v1/fhir/QuestionnaireResponse/$assess"
    problems = []
    for case in [*VIGNETTES, *_beside_the_stop(rules)]:
        page, questionnaire = _open(browser, origin, app, language)
        if language == "es":
            assert page.get_by_text("Sí").first.is_visible()  # the Spanish translations, shown
        _fill(page, rules, questionnaire, case["answers"])
        errors = page.evaluate("LForms.Util.checkValidity(document.getElementById('form'))")
        expected = case["expect"]
        score = page.locator('[id="saq_total/1/1"]')
        shown = score.input_value() if score.count() and score.is_visible() else ""
        response = page.evaluate(
            "LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', document.getElementById('form'))"
        )
        stop = page.locator('[id="label-stop.stroke_signs/1/1"]')
        stop_shown = stop.count() > 0 and stop.first.is_visible()
        page.context.close()
        got = _result(_post(assess, response, "application/fhir+json"))
        name = case["name"]
        if errors:
            problems.append(f"{name}: LHC-Forms says the form is not valid: {errors}")
        if got.get("outcome") != expected.get("outcome") or got["triage"] != expected["triage"]:
            problems.append(f"{name}: $assess gave {got}, expected {expected}")
        if got["red_flags"] != list(expected.get("red_flags", [])):
            problems.append(f"{name}: red flags {got['red_flags']}, expected {expected.get('red_flags')}")
        saq = expected.get("saq_total")
        if (saq is None and shown) or (saq is not None and shown and float(shown) != saq):
            problems.append(f"{name}: the form showed SAQ {shown!r}, the engine {saq}")
        if saq is not None and not shown:
            problems.append(f"{name}: the form showed no SAQ total, the engine {saq}")
        if got.get("stopped") != stop_shown:
            problems.append(f"{name}: the emergency notice shown={stop_shown}, stopped={got.get('stopped')}")
    assert problems == [], "\n".join(problems)


def test_an_exported_response_loads_back_with_every_answer(
    browser: Browser, filler: tuple[str, LiveServer], rules: RuleSet
) -> None:
    origin, app = filler
    case = next(c for c in VIGNETTES if c["name"] == "two-years-botox")
    bundle = _post(app.url + "/api/v1/report.fhir.json", {"answers": case["answers"]})
    exported = bundle["entry"][0]["resource"]
    page, _questionnaire = _open(browser, origin, app, "en", exported)
    again = page.evaluate("LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', document.getElementById('form'))")
    checked = page.locator("input[type=radio]:checked, input[type=checkbox]:checked").count()
    page.context.close()

    def answered(response: Any) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}

        def walk(items: list[Any]) -> None:
            for item in items:
                if "answer" in item:
                    found[item["linkId"]] = sorted(
                        str(a.get("valueCoding", {}).get("code", a.get("valueString", a.get("valueDecimal"))))
                        for a in item["answer"]
                    )
                walk(item.get("item", []))

        walk(response.get("item", []))
        found.pop("saq_total", None)  # computed by the form
        return found

    assert answered(again) == answered(exported)
    coded = sum(len(v) for k, v in answered(exported).items() if k in rules.questions and k != "notes")
    assert checked == coded


GRADED = {  # worked examples of tests/test_grading.py, with the scores computed by hand
    "sunnybrook": (
        {"rest_eye": "narrow", "rest_cheek": "more", "rest_mouth": "normal"}
        | {f"move_{k}": v for k, v in zip(("brow", "eye", "smile", "snarl", "pucker"), "35334", strict=True)}
        | {f"synk_{k}": v for k, v in zip(("brow", "eye", "smile", "snarl", "pucker"), "10322", strict=True)},
        {"resting": 10, "voluntary": 72, "synkinesis": 8, "composite": 54},
    ),
    "eface": (
        dict(
            zip(
                [
                    "brow_rest",
                    "fissure_rest",
                    "fold_depth_rest",
                    "commissure_rest",
                    "brow_elevation",
                    "gentle_eye_closure",
                    "full_eye_closure",
                    "fold_depth_smile",
                    "fold_orientation_smile",
                    "commissure_smile",
                    "lower_lip",
                    "ocular_synkinesis",
                    "midfacial_synkinesis",
                    "mentalis_synkinesis",
                    "platysmal_synkinesis",
                ],
                [80, 120, 50, 100, 60, 100, 90, 40, 50, 45, 70, 70, 40, 90, 100],
                strict=True,
            )
        ),
        {"static": 77.5, "dynamic": 65.0, "synkinesis": 75.0},
    ),  # fmt: skip
    "house-brackmann": ({"grade": "IV"}, {"grade": 4}),
}


@pytest.mark.parametrize("scale_id", list(GRADED))
def test_each_grading_questionnaire_in_lhc_forms(
    browser: Browser, filler: tuple[str, LiveServer], scale_id: str
) -> None:
    """A grading exported by the app loads into its scale's Questionnaire in LHC-Forms: valid,
    and the scores the form computes are the server's."""
    from datetime import UTC, date, datetime

    from checker.exports.fhir import Canon
    from checker.exports.fhir.grading import grading_bundle
    from checker.grading import SCALES

    origin, app = filler
    path = f"/api/v1/fhir/Questionnaire/grading-{scale_id}"
    with urllib.request.urlopen(app.url + path, timeout=10) as fetched:  # noqa: S310  # nosec B310
        questionnaire = json.loads(fetched.read())
    values, scores = GRADED[scale_id]
    _, graded = SCALES[scale_id].grade(values)
    assert graded.scores == scores
    bundle = grading_bundle(
        SCALES[scale_id], Canon(questionnaire["url"].rsplit("/Questionnaire/", 1)[0]), grading_id=1, version=1,
        side="left", visit_on=date(2026, 12, 1), saved_at=datetime(2026, 12, 1, 10, tzinfo=UTC), values=values,
        scores=graded.scores, rater="nurse@clinic.example", patient=None, translate=lambda text: text,
    )  # fmt: skip
    page, _ = _open(browser, origin, app, "en", bundle["entry"][0]["resource"], path)
    errors = page.evaluate("LForms.Util.checkValidity(document.getElementById('form'))")
    shown = {name: page.locator(f'[id="score.{name}/1/1"]').input_value() for name in scores}
    page.context.close()
    assert errors is None or errors == [], errors
    assert {name: float(value) for name, value in shown.items()} == {k: float(v) for k, v in scores.items()}
