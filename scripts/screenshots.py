"""Take screenshots of every page at phone and desktop widths, to look at; or the staff guide's.

Usage: python scripts/screenshots.py BASE_URL OUT_DIR [STAFF_EMAIL STAFF_PASSWORD]
       python scripts/screenshots.py --docs [OUT_DIR]   (the guide's, default docs/clinic/img)

With --docs it fills a new database with the demo clinic ('flask --app checker demo'),
serves the app on a free port and saves the pages the staff guide shows, in English and
Spanish, as OUT_DIR/<language>/<name>.png (DOCS_SHOTS lists them).
Walks the self-check in headless Chromium (Debian's) as the worked case
'nine-months-established' with a 'prompt' red flag, requests a consultation, saves and
resumes; with a staff account it also signs in, makes an invitation, completes it as a
patient and opens the inbox. Then the camera check with a fake camera, at 375 px in both
languages (needs the test extras: scripts/setup test). Then, in English and Spanish, the safety pages and the results
that depend on timing and cause: the urgent page, the emergency stop with the other
answers blank, a result under 3 weeks, stage 1 after surgery, and "not suggested" with
movements. Saves full-page PNGs named after each page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

ANSWERS = {
    "rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no", "rf_progressive": "yes",
    "cause": "ramsay_hunt", "time_since_onset": "6m_12m", "initial_severity": "complete", "recovery": "mostly",
    "eye_closure": "with_effort",
    "saq_eye_smile": "4", "saq_eye_speak": "3", "saq_eye_pucker": "4", "saq_neck_smile": "2",
    "saq_face_tight_eyes": "1", "saq_mouth_eyes": "3", "saq_neck_eyes": "1", "saq_tears_eating": "1",
    "saq_chin_dimple": "1", "twitching": "never", "asymmetry": "slight", "tightness_rest": "sometimes",
    "pattern": "consistent", "daily_impact": "moderate", "treatments": "none",
}  # fmt: skip


class Shooter:
    def __init__(self, out: Path, width: int) -> None:
        self.out, self.width, self.count = out, width, 0

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.out / f"{self.count:02d}-{name}-{self.width}.png"), full_page=True)


def sign_in(page: Page, base: str, language: str, email: str, password: str,
            before: Callable[[Page], None] | None = None) -> None:  # fmt: skip
    """Staff sign-in in ``language``; ``before`` sees the sign-in page first (to shoot it)."""
    page.goto(f"{base}/staff/?lang={language}")
    if before:
        before(page)
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")


SAFE = {"rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no", "rf_progressive": "no"}
SCENARIOS = {
    "urgent": {**SAFE, "rf_eye": "yes"},
    "emergency-blank": {"rf_stroke_signs": "yes"},
    "early-result": {**SAFE, "cause": "bells_palsy", "time_since_onset": "3d_3w", "initial_severity": "partial",
                     "recovery": "some", "eye_closure": "yes"},
    "stage-1-after-surgery": {**ANSWERS, **SAFE, "cause": "surgery", "time_since_onset": "3w_3m", "recovery": "some",
                              "eye_closure": "no", "saq_eye_smile": "1", "saq_eye_speak": "1", "saq_eye_pucker": "1",
                              "saq_neck_smile": "1", "saq_mouth_eyes": "1", "asymmetry": "obvious",
                              "tightness_rest": "never", "pattern": "none", "daily_impact": "a_little",
                              "treatments": "surgery"},
    "not-suggested-with-movements": {**ANSWERS, **SAFE, "cause": "none", "saq_eye_smile": "1", "saq_eye_speak": "1",
                                     "saq_eye_pucker": "1", "saq_neck_smile": "1", "saq_mouth_eyes": "1",
                                     "twitching": "often", "tightness_rest": "never", "pattern": "occasional",
                                     "daily_impact": "a_little"},
}  # fmt: skip


def answer_pages(page: Page, shoot: Shooter | None, answers: dict[str, str] = ANSWERS) -> None:
    while "/questions/" in page.url or "/urgent" in page.url or page.url.split("?")[0].endswith("/camera"):
        if "/urgent" in page.url:
            page.click("#continue-check")
            continue
        if page.url.split("?")[0].endswith("/camera"):  # the camera check's offer: see camera_journey
            if shoot:
                shoot(page, "camera-offer")
            page.click("#camera-skip")
            continue
        name = page.url.rsplit("/", 1)[1].split("?")[0]
        for field in page.locator("input[type=radio], input[type=checkbox]").all():
            if answers.get(field.get_attribute("name") or "") == field.get_attribute("value"):
                field.check()
        if name == "notes":
            page.fill("#notes", "The tightness is worst in the mornings.")
        if shoot:
            shoot(page, name)
        page.click("button[value=continue]")


def patient_journey(browser: Browser, base: str, shoot: Shooter, width: int) -> None:
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    page.goto(base + "/")
    shoot(page, "landing")
    page.goto(base + "/questions/safety")
    page.click("button[value=continue]")  # an empty submit shows the error summary
    shoot(page, "safety-errors")
    answer_pages(page, shoot)
    shoot(page, "check-answers")
    page.click("text=See my result")
    shoot(page, "result")
    page.click("text=Ask the clinic to contact me")
    page.click("button[type=submit]")
    shoot(page, "consultation-errors")
    page.fill("#name", "Ada Example")
    page.fill("#phone", "555 010 9999")
    page.check("#contact_time")
    page.check("#consent")
    page.click("button[type=submit]")
    shoot(page, "consultation-sent")
    for path, name in (("/how-this-works", "how"), ("/emergency", "emergency"), ("/missing", "not-found"),
                       ("/i/not-a-real-link-at-all-000000", "link-problem")):  # fmt: skip
        page.goto(base + path)
        shoot(page, name)
    saver = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    saver.goto(base + "/questions/safety")
    saver.check("#rf_stroke_signs-2")
    saver.click("button[value=save]")
    shoot(saver, "saved")


def staff_journey(browser: Browser, base: str, shoot: Shooter, width: int, email: str, password: str) -> None:
    """The clinic's day in both languages: a link with a reference, a follow-up, the case with its trend."""
    for language in ("en", "es"):
        context = browser.new_context(viewport={"width": width, "height": 800}, locale=language)
        staff = context.new_page()
        shown = f"staff-sign-in-{language}"
        sign_in(staff, base, language, email, password, lambda page, name=shown: shoot(page, name))
        reference = f"MRN-{language}-{width}"
        staff.goto(base + "/staff/invitations")
        staff.fill("#reference", reference)
        staff.fill("#label", "Tue 3 Dec, 10:30")
        staff.click("main form button[type=submit]")
        shoot(staff, f"staff-invitation-made-{language}")
        link = staff.input_value("#invitation-link")
        staff.goto(base + "/staff/invitations")
        shoot(staff, f"staff-invitations-{language}")
        answer_link(browser, link, shoot, width, language, ANSWERS, "first")
        staff.goto(base + "/staff/")
        shoot(staff, f"staff-inbox-{language}")
        staff.click(f"a:has-text('{reference}')")
        staff.click("form[action$='/follow-up'] button[type=submit]")
        shoot(staff, f"staff-follow-up-link-{language}")
        follow_up = staff.input_value("#invitation-link")
        higher = {**ANSWERS, **{k: "5" for k in ANSWERS if k.startswith("saq_")}}
        answer_link(browser, follow_up, shoot, width, language, higher, "follow-up")
        staff.goto(base + "/staff/")
        staff.click(f"a:has-text('{reference}')")
        shoot(staff, f"staff-case-{language}")
        staff.click("a[href^='/staff/submissions/']")
        shoot(staff, f"staff-submission-{language}")
        staff.goto(staff.url + "/delete")
        shoot(staff, f"staff-delete-{language}")
        staff.goto(base + "/staff/invitations")
        staff.fill("#label", "Lost link")
        staff.click("main form button[type=submit]")
        lost = staff.input_value("#invitation-link")
        staff.reload()
        shoot(staff, f"staff-link-not-opened-{language}")
        staff.click("text=" + ("Revoke this link" if language == "en" else "Anular este enlace"))
        patient = browser.new_context(viewport={"width": width, "height": 800}, locale=language).new_page()
        patient.goto(f"{lost}?lang={language}")
        shoot(patient, f"link-revoked-{language}")
        patient.context.close()
        # A patient on a link who is told to get care today, and closes the tab: the case waits under Urgent.
        staff.goto(base + "/staff/invitations")
        staff.fill("#reference", f"EYE-{language}-{width}")
        staff.click("main form button[type=submit]")
        flagged = staff.input_value("#invitation-link")
        patient = browser.new_context(viewport={"width": width, "height": 800}, locale=language).new_page()
        patient.goto(f"{flagged}?lang={language}")
        patient.click("main button[type=submit]")
        for question, code in {**SAFE, "rf_eye": "yes"}.items():
            patient.check(f"input[name='{question}'][value='{code}']")
        patient.click("button[value=continue]")
        patient.context.close()
        staff.goto(base + "/staff/?show=urgent")
        staff.click(f"a:has-text('EYE-{language}-{width}')")
        shoot(staff, f"staff-case-told-today-{language}")
        staff.goto(base + "/staff/?show=all")
        shoot(staff, f"staff-inbox-all-{language}")
        staff.goto(base + "/staff/audit")
        shoot(staff, f"staff-audit-{language}")
        context.close()


def answer_link(browser: Browser, link: str, shoot: Shooter, width: int, language: str, answers: dict[str, str],
                name: str) -> None:  # fmt: skip
    patient = browser.new_context(viewport={"width": width, "height": 800}, locale=language).new_page()
    patient.goto(f"{link}?lang={language}")
    shoot(patient, f"invitation-{name}-{language}")
    patient.click("main button[type=submit]")
    answer_pages(patient, None, answers)
    patient.click("main form button[type=submit]")
    shoot(patient, f"result-sent-{name}-{language}")
    patient.context.close()


def safety_scenarios(browser: Browser, base: str, shoot: Shooter, width: int) -> None:
    """The pages that safety and timing decide, in both languages."""
    for language in ("en", "es"):
        for name, answers in SCENARIOS.items():
            page = browser.new_context(viewport={"width": width, "height": 800}, locale=language).new_page()
            page.goto(f"{base}/questions/safety?lang={language}")
            if name in ("urgent", "emergency-blank"):
                for field in page.locator("input[type=radio]").all():
                    if answers.get(field.get_attribute("name") or "") == field.get_attribute("value"):
                        field.check()
                page.click("button[value=save]" if name == "emergency-blank" else "button[value=continue]")
            else:
                answer_pages(page, None, answers)
                page.goto(base + "/result")
            shoot(page, f"{name}-{language}")
            page.context.close()


def camera_journey(playwright: Playwright, base: str, out: Path, staff: tuple[str, str] | None = None) -> None:
    """The camera check with Chromium's fake camera playing tests/camera_faces.py's video, at
    375 px in both languages: the offer, each pose as it is captured, the figures, the result.
    With a staff account, on a clinic's link, then the case and the check as staff see them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.camera_faces import fake_camera_video

    video = fake_camera_video(out / "face.y4m")
    fake = [*ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]  # fmt: skip
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=fake)
    for language in ("en", "es"):
        shoot = Shooter(out, 375)
        page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
        clinic = None
        if staff:
            clinic = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            sign_in(clinic, base, language, *staff)
            clinic.goto(base + "/staff/invitations")
            clinic.fill("#reference", f"CAM-{language}")
            clinic.fill("#label", "Camera")
            clinic.click("main form button[type=submit]")
            page.goto(clinic.input_value("#invitation-link") + f"?lang={language}")
            page.click("main form button[type=submit]")
        else:
            page.goto(f"{base}/questions/safety?lang={language}")
        while "/questions/" in page.url or "/urgent" in page.url:
            if "/urgent" in page.url:
                page.click("#continue-check")
                continue
            for field in page.locator("input[type=radio], input[type=checkbox]").all():
                if ANSWERS.get(field.get_attribute("name") or "") == field.get_attribute("value"):
                    field.check()
            page.click("button[value=continue]")
        shoot(page, f"camera-offer-{language}")
        page.click("#camera-start")
        shoot(page, f"camera-side-missing-{language}")
        page.check("input[name='side'][value='left']")
        page.click("#camera-start")
        page.wait_for_function("document.getElementById('camera-hold').value > 0.3", timeout=120_000)
        shoot(page, f"camera-rest-{language}")
        page.wait_for_function("document.getElementById('camera-step').textContent.includes('2')", timeout=120_000)
        page.wait_for_timeout(300)
        shoot(page, f"camera-smile-{language}")
        for _ in range(240):  # the fake camera's loop may start mid-smile: then "Try again" once
            if "/camera/result" in page.url:
                break
            if page.locator("#camera-start").is_visible():
                page.click("#camera-start")
            page.wait_for_timeout(1000)
        shoot(page, f"camera-figures-{language}")
        page.click("#continue-check")
        answer_pages(page, None)
        if clinic:
            page.click("main form button[type=submit]")  # send to the clinic
        page.goto(base + "/result")
        shoot(page, f"result-with-camera-{language}")
        page.context.close()
        if clinic:
            clinic.goto(base + "/staff/")
            clinic.click(f"a:has-text('CAM-{language}')")
            Shooter(out, 1280)(clinic, f"staff-case-with-camera-{language}")
            clinic.click("table a[href*='/staff/submissions/']")
            Shooter(out, 1280)(clinic, f"staff-check-with-camera-{language}")
            clinic.context.close()
    browser.close()
    video.unlink()


ROOT = Path(__file__).resolve().parent.parent
DOCS_PASSWORD = "correct horse battery staple"  # noqa: S105  (the demo account on a throwaway database)
# The staff guide's pictures: name -> what each shows (tests/test_docs.py holds the guide to this list).
DOCS_SHOTS = {
    "sign-in": "the sign-in page",
    "inbox": "the inbox with the demo clinic's waiting cases",
    "worklist": "the safety worklist",
    "make-link": "the form to make a link",
    "link-made": "a new link, shown once",
    "import": "invitations for a clinic list",
    "case-stop": "a case stopped at the emergency page",
    "case-trend": "a case's checks and its trend with gradings and toxin sessions",
    "case-links": "a case's links and follow-up schedule",
    "grade": "the Sunnybrook grading form",
    "check": "one self-check as staff read it",
}


def between(page: Page, path: Path, start: str, end: str | None = None) -> None:
    """A picture of the page from the element ``start`` to ``end`` (or the end of main)."""
    top = page.locator(start).first.bounding_box()
    bottom = page.locator(end).first.bounding_box() if end else page.locator("main").bounding_box()
    if top is None or bottom is None:
        raise SystemExit(f"screenshots: {start} or {end} is not on {page.url}")
    y = max(0.0, top["y"] - 16)
    height = (bottom["y"] - 8 if end else bottom["y"] + bottom["height"]) - y
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": y, "width": 1280, "height": height})


def docs_shots(browser: Browser, base: str, out: Path) -> None:
    """The staff guide's screenshots of the demo clinic at 1280 px, in English and Spanish: first
    what only reads, in both languages, then making a link (which adds a case to the inbox)."""
    pages = {}
    for language in ("en", "es"):
        page = pages[language] = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        folder = out / language
        folder.mkdir(parents=True, exist_ok=True)
        sign_in(page, base, language, "lead@clinic.example", DOCS_PASSWORD,
                lambda page, folder=folder: page.screenshot(path=str(folder / "sign-in.png")))  # fmt: skip
        page.screenshot(path=str(folder / "inbox.png"), full_page=True)
        page.goto(base + "/staff/worklist")
        page.screenshot(path=str(folder / "worklist.png"), full_page=True)
        page.goto(base + "/staff/invitations/import")
        page.screenshot(path=str(folder / "import.png"))
        for reference in ("MRN-310277", "MRN-204815"):  # stopped at the emergency page; a year of follow-up
            page.goto(f"{base}/staff/?show=all&q={reference}")
            page.click(f"main a:has-text('{reference}')")
            if reference == "MRN-310277":
                between(page, folder / "case-stop.png", "main h1", "#checks")
        between(page, folder / "case-trend.png", "#checks", "#gradings")
        between(page, folder / "case-links.png", "#links", "#notes")
        case_url = page.url
        page.goto(case_url + "/gradings/sunnybrook")
        page.screenshot(path=str(folder / "grade.png"))
        page.goto(case_url)
        page.click("table a[href*='/staff/submissions/']")
        page.screenshot(path=str(folder / "check.png"))
    for language, page in pages.items():
        page.goto(base + "/staff/invitations")
        page.fill("#reference", "MRN-500100")
        page.fill("#label", "New patient, Wed 9:15")
        page.screenshot(path=str(out / language / "make-link.png"))
        page.click("main form button[type=submit]")
        page.locator("#invitation-link").wait_for()  # the new link's page, loaded, before its picture
        page.screenshot(path=str(out / language / "link-made.png"))
        page.context.close()
    made = {path.stem for path in out.glob("*/*.png")}
    if not made >= set(DOCS_SHOTS):
        raise SystemExit(f"screenshots: not made: {', '.join(sorted(set(DOCS_SHOTS) - made))}")


def docs_main(out: Path) -> None:
    """The demo clinic in a new database, served here while the guide's pictures are taken."""
    from werkzeug.serving import make_server

    sys.path.insert(0, str(ROOT))
    from checker import create_app

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKER_")} | {"CHECKER_DATABASE_URL": url}
        demo = [str(ROOT / ".venv/bin/flask"), "--app", "checker", "demo", "--password", DOCS_PASSWORD]
        subprocess.run(demo, check=True, env=env, cwd=ROOT, capture_output=True)  # noqa: S603  (our own command)
        app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
        app.instance_path = folder
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
                docs_shots(browser, f"http://127.0.0.1:{server.server_port}", out)
                browser.close()
        finally:
            server.shutdown()


def main() -> None:
    if sys.argv[1:2] == ["--docs"]:
        docs_main(Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "clinic" / "img")
        return
    base, out = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for width in (375, 1280):
            shoot = Shooter(out, width)
            patient_journey(browser, base, shoot, width)
            safety_scenarios(browser, base, shoot, width)
            if len(sys.argv) > 4:
                staff_journey(browser, base, shoot, width, sys.argv[3], sys.argv[4])
        browser.close()
        camera_journey(p, base, out, (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None)


if __name__ == "__main__":
    main()
