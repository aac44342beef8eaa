"""The camera check's numbers: the arithmetic (the same in Python and in the browser), what the
server accepts, and the pages around the capture (the capture itself: tests/browser/test_camera.py)."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checker.engine import RuleSet
from checker.measure import Frame, Measure, MeasureError, bilinear, frame_of, measure_of, summarise
from checker.measure.eyes import STEPS, lid_gap
from checker.measure.narrowing import MAX_FRAMES, narrowing

from .conftest import VIGNETTES, csrf_token, post_page, walk
from .test_reports_and_fhir import pdf_text

HERE = Path(__file__).parent
FIXTURES = json.loads((HERE / "measure" / "fixtures.json").read_text(encoding="utf-8"))
ANSWERS = next(case["answers"] for case in VIGNETTES if case["name"] == "nine-months-established")


def test_a_frames_numbers_from_landmarks_and_brightness_are_the_fixtures() -> None:
    for case in FIXTURES["landmarks"]:
        points = {int(index): point for index, point in case["landmarks"].items()}
        picture = case["picture"]
        brightness = bilinear(picture["brightness"], picture["width"], picture["height"])
        assert list(frame_of(points, brightness)) == pytest.approx(case["frame"], abs=1e-12), case["name"]


def eye_profile(gap: int, skin: float = 1.0, eye: float = 0.1) -> list[float]:
    """A lid gap's profile: skin above and below, an eye (dark) ``gap`` samples across between."""
    reach = round(STEPS * 1.5)
    return [eye if abs(i - reach) <= gap / 2 else skin for i in range(2 * reach + 1)]


def test_the_lid_margins_are_where_the_brightness_rises_from_the_eye_to_the_skin() -> None:
    # Each margin is 0.7 (the margin level) of a sample beyond the eye's outermost dark sample.
    assert lid_gap(0.5, eye_profile(STEPS)) == pytest.approx(0.5 * (STEPS + 1.4))
    assert lid_gap(1, eye_profile(24)) == pytest.approx(25.4)
    lit = eye_profile(STEPS)
    lit[len(lit) // 2 + 2] = 0.9  # a reflection in the pupil is inside the eye, not a lid
    assert lid_gap(1, lit) == lid_gap(1, eye_profile(STEPS))
    assert lid_gap(1, eye_profile(STEPS, skin=0.5, eye=0.5)) == 0  # no eye to be seen


def test_brightness_between_pixels() -> None:
    at = bilinear([0, 1, 2, 3], 2, 2)
    assert (at(0.5, 0.5), at(1, 1), at(-5, 9)) == (0, 1.5, 2)


def test_summaries_and_narrowing_are_the_fixtures() -> None:
    summaries = {pose: summarise([Frame(*frame) for frame in frames]) for pose, frames in FIXTURES["poses"].items()}
    for pose, summary in summaries.items():
        assert summary._asdict() == pytest.approx(FIXTURES["summaries"][pose], abs=1e-12)
    for pose, eyes in FIXTURES["narrowing"].items():
        for eye, value in eyes.items():
            measured = narrowing(getattr(summaries["rest"], eye), getattr(summaries[pose], eye))
            assert measured == pytest.approx(value, abs=1e-12)


def test_the_browsers_arithmetic_passes_its_own_tests_on_the_same_fixtures() -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the camera check's JavaScript tests (Debian: apt-get install nodejs)"
    run = subprocess.run([node, "--test", str(HERE / "measure")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "# fail 0" in run.stdout


def sent(**changes: Any) -> dict[str, Any]:
    """What a browser sends for a check whose left eye closes to 60% on the smile and the pucker."""
    poses = {
        "rest": [[0.30, 0.30, 0.60, 1.0, -1.0]] * 6,
        "smile": [[0.27, 0.18, 0.72, 2.0, 0.5]] * 6,
        "pucker": [[0.30, 0.18, 0.50, 0.0, 0.0]] * 6,
    }
    return {"side": "left", "poses": poses, "rejected": {"turned": 3}, **changes}


def test_a_measure_sums_up_what_was_sent() -> None:
    measure = measure_of(sent())
    assert measure.narrowing("smile", "left") == pytest.approx(0.4)
    assert measure.narrowing("smile", "right") == pytest.approx(0.1)
    assert measure.difference("smile") == pytest.approx(0.3)
    assert measure.difference("pucker") == pytest.approx(0.4)
    assert measure.rejected == {"turned": 3}
    again = Measure.from_json(json.loads(json.dumps(measure.to_json())))
    assert again == measure
    assert measure_of(sent(side="both")).difference("smile") is None


def many(count: int) -> list[list[float]]:
    return [[0.3, 0.3, 0.6, 0.0, 0.0]] * count


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([], "a JSON object"),
        ({"poses": {}}, "side"),
        (sent(side="middle"), "side"),
        (sent(poses={"rest": many(6), "smile": many(6)}), "poses"),
        (sent(poses={"rest": many(6), "smile": many(6), "pucker": many(6), "frown": many(6)}), "poses"),
        (sent(poses={"rest": many(4), "smile": many(6), "pucker": many(6)}), "rest: between"),
        (sent(poses={"rest": many(MAX_FRAMES + 1), "smile": many(6), "pucker": many(6)}), "rest: between"),
        (sent(poses={"rest": many(6), "smile": "many", "pucker": many(6)}), "smile: between"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [0.3, 0.3]], "pucker": many(6)}), "smile[5]"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [0.3, "0.3", 0.6, 0, 0]], "pucker": many(6)}), "left: not"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [0.3, True, 0.6, 0, 0]], "pucker": many(6)}), "not a number"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [math.nan, 0.3, 0.6, 0, 0]], "pucker": many(6)}), "not a"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [math.inf, 0.3, 0.6, 0, 0]], "pucker": many(6)}), "not a"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [0.3, 0.3, 0.6, 91, 0]], "pucker": many(6)}), "yaw"),
        (sent(poses={"rest": many(6), "smile": [*many(5), [2.0, 0.3, 0.6, 0, 0]], "pucker": many(6)}), "right"),
        (sent(poses={"rest": [[0.01, 0.3, 0.6, 0, 0]] * 6, "smile": many(6), "pucker": many(6)}), "closed at rest"),
        (sent(rejected={"bored": 1}), "rejected"),
        (sent(rejected={"turned": -1}), "rejected.turned"),
        (sent(rejected={"turned": True}), "rejected.turned"),
        (sent(rejected=[1]), "rejected"),
    ],
)
def test_what_cannot_be_a_measurement_is_refused_with_its_reason(data: Any, says: str) -> None:
    with pytest.raises(MeasureError, match=says.replace("[", r"\[").replace("]", r"\]")):
        measure_of(data)


def test_an_eye_closing_completely_on_a_smile_is_a_measurement() -> None:
    measure = measure_of(sent(poses={"rest": many(6), "smile": [[0.3, 0.0, 0.7, 0, 0]] * 6, "pucker": many(6)}))
    assert measure.narrowing("smile", "left") == 1.0


# The pages around the capture.


def post_linked(client: FlaskClient, rules: RuleSet, offer: bool) -> Any:
    """Send the linked-movements page from a browser that can (or cannot) run the camera check:
    ``checker.js`` adds ``camera=offer`` only where it can."""
    linked = rules.page("linked")
    assert linked is not None
    page = client.get("/questions/linked").get_data(as_text=True)
    data: dict[str, Any] = {"csrf_token": csrf_token(page), **{q.id: str(ANSWERS[q.id]) for q in linked.questions}}
    if offer:
        data["camera"] = "offer"
    return client.post("/questions/linked", data=data)


def walk_to_linked(client: FlaskClient, rules: RuleSet) -> None:
    """Answer every page before the linked-movements page."""
    for page in rules.pages[: [p.id for p in rules.pages].index("linked")]:
        if client.get(f"/questions/{page.id}").status_code == 200:
            response = post_page(client, page.id, {q.id: ANSWERS[q.id] for q in page.questions if q.id in ANSWERS})
            assert response.status_code == 302, page.id


def reach_the_offer(client: FlaskClient, rules: RuleSet, offer: bool = True) -> Any:
    """Answer up to the linked-movements page and send it."""
    walk_to_linked(client, rules)
    assert "data-camera-offer" in client.get("/questions/linked").get_data(as_text=True)
    return post_linked(client, rules, offer)


def send_measure(client: FlaskClient, location: str, measure: Any, side: str = "left") -> Any:
    page = client.get(location).get_data(as_text=True)
    text = measure if isinstance(measure, str) else json.dumps(measure)
    return client.post(location, data={"csrf_token": csrf_token(page), "side": side, "measure": text})


def test_the_offer_comes_after_the_linked_movements_page_only_from_a_browser_that_can(
    client: FlaskClient, rules: RuleSet
) -> None:
    offered = reach_the_offer(client, rules)
    assert offered.status_code == 302
    assert offered.headers["Location"] == "/camera?then=signs"
    page = client.get(offered.headers["Location"])
    assert page.status_code == 200
    assert "camera=(self)" in page.headers["Permissions-Policy"]
    assert "'wasm-unsafe-eval'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert "The video stays on this device" in html
    assert 'href="/questions/signs"' in html  # skip: straight on
    # Every other page keeps the camera switched off.
    assert "camera=()" in client.get("/questions/signs").headers["Permissions-Policy"]


def test_without_javascript_there_is_no_trace_of_it(client: FlaskClient, rules: RuleSet) -> None:
    response = reach_the_offer(client, rules, offer=False)
    assert response.headers["Location"] == "/questions/signs"
    with client.session_transaction() as session:
        assert "camera" not in session


def test_numbers_sent_are_kept_shown_in_plain_words_and_go_with_a_request(client: FlaskClient, rules: RuleSet) -> None:
    location = reach_the_offer(client, rules).headers["Location"]
    saved = send_measure(client, location, {"poses": sent()["poses"], "rejected": {}})
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/camera/result?then=signs"
    result = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "When you smiled, the eye on your weak side narrowed by 40%. Your other eye narrowed by 10%." in result
    assert (
        "When you puckered your lips, the eye on your weak side narrowed by 40%. Your other eye did not change."
        in result
    )
    assert "not a diagnosis" in result
    assert 'href="/questions/signs"' in result
    # Not offered twice in one check.
    assert post_linked(client, rules, offer=True).headers["Location"] == "/questions/signs"
    walk(client, rules, ANSWERS)
    pdf = " ".join(pdf_text(client.get("/result.pdf").data).split())
    assert "When you smiled, the eye on your weak side narrowed by 40%." in pdf
    assert "not a diagnosis" in pdf


def test_spanish_words_for_the_figures(client: FlaskClient, rules: RuleSet) -> None:
    location = reach_the_offer(client, rules).headers["Location"]
    send_measure(client, location, {"poses": sent()["poses"]}, side="both")
    result = client.get("/camera/result?then=signs&lang=es").get_data(as_text=True)
    assert "Cuando sonrió, su ojo derecho se achicó un 10\xa0%" in result
    assert "no un diagnóstico" in result


@pytest.mark.parametrize(
    "measure",
    [
        "",
        "not json",
        "[" * 50_000 + "]" * 50_000,
        json.dumps({"poses": {"rest": [[1e400, 0, 0, 0, 0]]}}),
        json.dumps([1, 2, 3]),
        json.dumps({"poses": sent()["poses"], "side": "right", "rejected": {"far": 10**9}}),
    ],
    ids=["empty", "not-json", "deep", "huge-number", "a-list", "huge-count"],
)
def test_a_broken_or_tampered_measure_is_refused_and_nothing_is_kept(
    client: FlaskClient, rules: RuleSet, measure: str
) -> None:
    location = reach_the_offer(client, rules).headers["Location"]
    response = send_measure(client, location, measure)
    assert response.status_code in (200, 413)
    if response.status_code == 200:
        assert "The measurement did not come through" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "camera" not in session


def test_a_post_without_its_form_token_keeps_nothing(client: FlaskClient, rules: RuleSet) -> None:
    location = reach_the_offer(client, rules).headers["Location"]
    response = client.post(location, data={"side": "left", "measure": json.dumps({"poses": sent()["poses"]})})
    assert "timed out" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "camera" not in session


def test_the_camera_page_is_not_a_way_around_the_questions_or_the_stop(client: FlaskClient, rules: RuleSet) -> None:
    early = client.get("/camera")
    assert early.status_code == 302
    assert early.headers["Location"].startswith("/questions/")
    stroke = next(case["answers"] for case in VIGNETTES if case["name"].startswith("stroke"))
    walk(client, rules, stroke)
    assert client.get("/camera").headers["Location"] == "/emergency"
    assert client.get("/camera/result").headers["Location"] == "/emergency"


def test_switched_off_it_is_not_there(tmp_path: Path, rules: RuleSet) -> None:
    from checker import create_app

    from .conftest import TEST_CONFIG

    app: Flask = create_app({**TEST_CONFIG, "CAMERA_CHECK": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    client = app.test_client()
    assert client.get("/camera").status_code == 404
    assert client.get("/camera/result").status_code == 404
    walk_to_linked(client, rules)
    assert "data-camera-offer" not in client.get("/questions/linked").get_data(as_text=True)
    assert post_linked(client, rules, offer=True).headers["Location"] == "/questions/signs"


def test_on_a_clinic_link_the_figures_reach_the_clinic_as_the_patient_saw_them(
    db_app: Flask, db_client: FlaskClient, rules: RuleSet
) -> None:
    """Kept in the link's draft (PostgreSQL and SQLite), sent with the answers, shown on the case,
    the check and its PDF; the draft keeps no copy."""
    from sqlalchemy import select

    from checker.db import db
    from checker.models import Draft, Submission

    from .conftest import make_staff, sign_in
    from .test_clinic import make_invitation

    make_staff(db_app)
    sign_in(db_client)
    link = make_invitation(db_client)
    patient = db_app.test_client()
    patient.post(link, data={"csrf_token": csrf_token(patient.get(link).get_data(as_text=True))})
    location = reach_the_offer(patient, rules).headers["Location"]
    page = patient.get(location).get_data(as_text=True)
    assert "They are sent to Facial Nerve Clinic with your answers." in page
    send_measure(patient, location, {"poses": sent()["poses"], "rejected": {"moving": 2}})
    with db_app.app_context():
        assert db.session.scalar(select(Draft.camera)) is not None
    walk(patient, rules, ANSWERS)
    check = patient.get("/check-answers").get_data(as_text=True)
    assert patient.post("/send", data={"csrf_token": csrf_token(check)}).headers["Location"] == "/result"
    result = patient.get("/result").get_data(as_text=True)
    assert "When you smiled, the eye on your weak side narrowed by 40%." in result
    with db_app.app_context():
        record = db.session.scalar(select(Submission))
        assert record is not None
        assert record.measure is not None
        assert record.measure.narrowing("pucker", "left") == pytest.approx(0.4)
        assert db.session.scalar(select(Draft.camera)) is None
        case_id, submission_id = record.case_id, record.id
    case = db_client.get(f"/staff/cases/{case_id}").get_data(as_text=True)
    assert "Eye narrowing (camera)" in case
    assert "Smile: affected 40%, other 10%" in case
    detail = db_client.get(f"/staff/submissions/{submission_id}").get_data(as_text=True)
    assert "Camera check: palpebral fissure narrowing" in detail
    assert "+30 points" in detail
    assert "+40 points" in detail
    assert "Frames left out: 0 turned, 2 moving" in detail
    rows = list(csv.DictReader(io.StringIO(db_client.get("/staff/inbox.csv?show=all").get_data(as_text=True))))
    row = next(row for row in rows if row["row"] == "check")
    assert row["camera_affected_side"] == "left"
    assert row["camera_smile_narrowing_left"] == "40.0"
    assert row["camera_pucker_narrowing_difference"] == "40.0"
    assert row["camera_rest_opening_right"] == "0.3"
    pdf = db_client.get(f"/staff/submissions/{submission_id}.pdf")
    assert pdf.status_code == 200
    assert "Smile: affected 40%, other 10%" in " ".join(pdf_text(pdf.data).split())
    spanish = db_client.get(f"/staff/submissions/{submission_id}?lang=es").get_data(as_text=True)
    assert "Prueba con la cámara: estrechamiento de la hendidura palpebral" in spanish


def test_the_figures_as_fhir_observations_pass_three_validators(
    client: FlaskClient, rules: RuleSet, tmp_path: Path
) -> None:
    from .test_fhir_validators import validate

    location = reach_the_offer(client, rules).headers["Location"]
    send_measure(client, location, {"poses": sent()["poses"], "rejected": {}})
    walk(client, rules, ANSWERS)
    bundle = json.loads(client.get("/result.fhir.json").data)
    observations = {
        entry["resource"]["code"]["coding"][0]["code"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    }
    smile = observations["eye-narrowing-smile"]
    assert smile["category"][0]["coding"][0]["code"] == "exam"
    assert smile["device"]["display"].startswith("synkinesis-checker ")
    assert "MediaPipe Face Mesh" in smile["device"]["display"]
    assert "Not validated against clinician grading" in smile["method"]["text"]
    parts = {part["code"]["coding"][0]["code"]: part for part in smile["component"]}
    assert parts["narrowing-left"]["valueQuantity"] == {
        "value": 40.0,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert parts["narrowing-difference"]["valueQuantity"]["value"] == 30.0
    assert parts["affected-side"]["valueString"] == "Left"
    assert parts["frames"]["valueInteger"] == 6
    assert "eye-opening-rest" in observations
    assert "eye-narrowing-pucker" in observations
    assert validate([bundle], tmp_path) == {}


def test_the_model_named_in_the_records_is_the_one_installed() -> None:
    from checker.measure.narrowing import MODEL

    root = HERE.parent / "checker" / "static" / "measure"
    lock = json.loads((root / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"]["node_modules/@mediapipe/face_mesh"]["version"]
    assert locked in MODEL
    installed = root / "node_modules" / "@mediapipe" / "face_mesh" / "package.json"
    assert installed.exists(), "the camera check's model is not installed: run scripts/setup test"
    assert json.loads(installed.read_text(encoding="utf-8"))["version"] == locked


def test_when_the_cookie_is_full_the_measurement_is_refused_and_the_answers_kept(
    client: FlaskClient, rules: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers as long as the browser's cookie can hold (a lower limit stands in for long notes):
    adding the figures would overflow it, and the browser would drop every answer, so they are
    refused with a way round."""
    from checker.questionnaire import journey

    reach_the_offer(client, rules, offer=False)
    walk(client, rules, ANSWERS)
    with client.session_transaction() as session:
        answers = dict(session["answers"])
    app = client.application
    signed = len(app.session_interface.get_signing_serializer(app).dumps(dict(session)))  # type: ignore[attr-defined]
    monkeypatch.setattr(journey, "COOKIE_LIMIT", signed + 20)  # full, but for a little
    response = send_measure(client, "/camera?then=notes", {"poses": sent()["poses"]})
    assert response.status_code == 200
    assert "Your answers fill what this browser can keep" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "camera" not in session
        assert session["answers"] == answers
    monkeypatch.setattr(journey, "COOKIE_LIMIT", 4000)
    assert send_measure(client, "/camera?then=notes", {"poses": sent()["poses"]}).status_code == 302


def test_saving_for_later_takes_the_figures_to_the_server_and_starting_again_clears_them(
    db_app: Flask, db_client: FlaskClient, rules: RuleSet
) -> None:
    from sqlalchemy import select

    from checker.db import db
    from checker.models import Draft

    location = reach_the_offer(db_client, rules).headers["Location"]
    send_measure(db_client, location, {"poses": sent()["poses"]})
    page = db_client.get("/questions/signs").get_data(as_text=True)
    saved = db_client.post("/questions/signs", data={"csrf_token": csrf_token(page), "action": "save"})
    assert saved.headers["Location"] == "/saved"
    with db_client.session_transaction() as session:
        assert "camera" not in session  # on the server now, with the answers
    with db_app.app_context():
        kept = db.session.scalar(select(Draft.camera))
    assert kept is not None
    assert Measure.from_json(kept).narrowing("smile", "left") == pytest.approx(0.4)
    assert "narrowed by 40%" in db_client.get("/camera/result").get_data(as_text=True)
    landing = db_client.get("/").get_data(as_text=True)
    db_client.post("/start-again", data={"csrf_token": csrf_token(landing)})
    with db_app.app_context():
        assert db.session.scalar(select(Draft.camera)) is None
    assert db_client.get("/camera/result").status_code == 302  # nothing to show
