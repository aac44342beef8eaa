"""The camera check in Chromium with a fake camera playing faces whose eye narrowing is known.

The fake camera plays a video made from a real photograph (tests/camera_faces.py): a relaxed
face, then a smile and a pucker in which the person's left eye closes to 65% of its opening at
rest (their right eye to 90% on the smile). The whole capture runs as a patient's would, on a
clinic's link, and the figures the clinic gets must be near those. Every request the page makes
is watched: everything comes from the app, and what leaves the page is the form's numbers.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, Route, expect
from playwright.sync_api import Error as PlaywrightError

from checker.engine import RuleSet
from checker.measure import Measure
from checker.models import Submission

from ..camera_faces import CLOSED_TO, WEAK, fake_camera_video
from .conftest import CHROMIUM_ARGS, STAFF, LiveServer, new_context
from .pages import SelfCheck, StaffArea, submit
from .test_accessibility import active, press_until, problems_on
from .test_journeys import BY_NAME

TOLERANCE = 0.1  # the landmark model narrows the differences a little (see bench/camera.py)


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_camera_video(tmp_path_factory.mktemp("camera") / "face.y4m")


@pytest.fixture(scope="module")
def camera_browser(playwright: Playwright, camera_video: Path) -> Iterator[Browser]:
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_video}",
    ]
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=args)
    yield browser
    browser.close()


def finished(patient: Page) -> None:
    """Wait for the capture to end on its result page. The fake camera plays its video in a loop
    from wherever it is when the page opens it: when "rest" was caught during the smile, no
    smile can be seen after it, and the page offers "Try again", which is pressed once, as a
    person would."""
    tried_again = False
    for _ in range(300):
        if "/camera/result" in patient.url:
            patient.wait_for_load_state()
            return
        with contextlib.suppress(PlaywrightError):  # the page may be moving on
            if patient.locator("#camera-start").is_visible():
                said = patient.evaluate("window.said")
                assert not tried_again, f"the capture did not finish; the prompts were {said}"
                tried_again = True
                patient.click("#camera-start")
        patient.wait_for_timeout(1000)
    raise AssertionError(f"the capture did not finish; the prompts were {patient.evaluate('window.said')}")


@pytest.mark.parametrize(
    ("locale", "width", "keyboard"),
    [("en-US", 375, False), ("es-US", 1280, True)],
    ids=["en-375-mouse", "es-1280-keys"],
)
def test_the_camera_check_measures_on_the_device_and_sends_only_numbers(
    browser: Browser, camera_browser: Browser, live: LiveServer, rules: RuleSet, locale: str, width: int, keyboard: bool
) -> None:
    staff_context = new_context(browser, width=1280)
    staff = StaffArea(staff_context.new_page(), live.url)
    staff.sign_in(*STAFF)
    link = staff.make_invitation("Camera", reference=f"CAM-{locale}")
    staff_context.close()

    context = new_context(camera_browser, width=width, locale=locale)
    context.set_default_timeout(20_000)
    patient = context.new_page()
    elsewhere: list[str] = []
    sent: list[Request] = []

    def only_ours(route: Route) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    patient.on("request", lambda request: sent.append(request) if request.method != "GET" else None)
    patient.goto(link)
    submit(patient, "main form button[type=submit]")
    check = SelfCheck(patient, live.url, rules)
    answers = BY_NAME["nine-months-established"]["answers"]
    for _ in range(len(rules.pages)):
        if not check.on_question_page():
            break
        check.answer_current_page(answers)
        check.continue_()
    assert check.on_camera_page(), patient.url
    patient.evaluate(
        """() => { window.said = []; const prompt = document.getElementById('camera-prompt');
           new MutationObserver(() => window.said.push([Math.round(performance.now()), prompt.textContent]))
             .observe(prompt, {childList: true, characterData: true, subtree: true}); }"""
    )
    if keyboard:  # the side, then Start, from the keyboard alone
        press_until(patient, "Tab", lambda: active(patient, "name") == "side")
        press_until(patient, "ArrowDown", lambda: active(patient, "value") == WEAK)
        press_until(patient, "Tab", lambda: active(patient, "id") == "camera-start")
        patient.keyboard.press("Enter")
    else:
        patient.click("#camera-start")  # no side chosen: said at the question, the camera stays off
        expect(patient.locator("#side-error")).to_contain_text("Choose the side of your face that was weak")
        assert active(patient, "name") == "side"
        expect(patient.locator("#camera")).to_be_hidden()
        patient.check(f"input[name='side'][value='{WEAK}']")
        patient.click("#camera-start")
    expect(patient.locator("#camera-prompt")).not_to_be_empty()
    patient.wait_for_function("document.getElementById('camera-hold').value > 0", timeout=120_000)
    assert problems_on(patient, width) == []  # while capturing: the prompt, the picture, the progress
    finished(patient)
    figures = patient.locator(".camera-figures li")
    expect(figures).to_have_count(2)
    assert problems_on(patient, width) == []
    if keyboard:
        press_until(patient, "Tab", lambda: active(patient, "id") == "continue-check")
        with patient.expect_navigation():
            patient.keyboard.press("Enter")
    else:
        submit(patient, "#continue-check")
    check.answer_all(answers)
    submit(patient, "main form button[type=submit]")  # Send
    expect(patient.locator(".flash")).to_be_visible()
    context.close()

    assert elsewhere == []
    camera_posts = [request for request in sent if request.url.split("?")[0].endswith("/camera")]
    assert len(camera_posts) == 1
    body = camera_posts[0].post_data or ""
    fields = parse_qs(body, strict_parsing=True)
    assert set(fields) == {"csrf_token", "side", "measure"}
    numbers = json.loads(fields["measure"][0])
    assert all(
        isinstance(value, int | float) for frames in numbers["poses"].values() for frame in frames for value in frame
    )
    assert len(body) < 40_000  # numbers: a picture would not fit
    for request in sent:
        assert request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"), request.url

    with live.app.app_context():
        from checker.db import db

        kept = db.session.scalars(
            db.select(Submission).where(Submission.camera.is_not(None)).order_by(Submission.id.desc())
        ).first()
        assert kept is not None
        measure = Measure.from_json(kept.camera)
    assert measure.side == WEAK
    for pose, closed in CLOSED_TO.items():
        for eye, factor in closed.items():
            measured = measure.narrowing(pose, eye)
            assert abs(measured - (1 - factor)) <= TOLERANCE, (pose, eye, measured)
        difference = measure.difference(pose)
        assert difference is not None
        assert difference > 0.1


def test_without_a_camera_it_says_so_and_the_check_goes_on(browser: Browser, live: LiveServer, rules: RuleSet) -> None:
    """A browser with the camera API but no camera (or the person said no): a plain message,
    and "Skip this step" goes on with the check; nothing is kept."""
    context = new_context(browser, width=375)
    patient = context.new_page()
    check = SelfCheck(patient, live.url, rules)
    check.start()
    answers = BY_NAME["nine-months-established"]["answers"]
    while check.on_question_page():
        check.answer_current_page(answers)
        check.continue_()
    assert check.on_camera_page(), patient.url
    patient.check("input[name='side'][value='right']")
    patient.click("#camera-start")
    expect(patient.locator("#camera-prompt")).to_have_text(
        "The camera could not be used, so this step is skipped. Your answers are not affected.", timeout=60_000
    )
    expect(patient.locator("#camera-start")).to_be_hidden()
    submit(patient, "#camera-skip")
    assert check.page_id == "signs"
    check.answer_all(answers)
    check.see_result()
    expect(patient.locator("#camera-title")).to_have_count(0)
    context.close()
