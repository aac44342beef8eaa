"""WCAG 2.2 AA in a real browser: axe-core on every page, plus what axe cannot see."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from checker.engine import Kind, RuleSet

from ..conftest import VIGNETTES
from .conftest import STAFF, LiveServer, new_context
from .pages import SelfCheck, StaffArea, submit

BY_NAME = {case["name"]: case for case in VIGNETTES}
AXE = Axe()
TARGETS = "main a, main button, main input, main textarea, header a, footer a, nav a, nav button, .back-link"


FOLLOW_UP = {
    **BY_NAME["nine-months-established"]["answers"],
    **{q: 5 for q in BY_NAME["nine-months-established"]["answers"] if q.startswith("saq_")},
}


def every_page(
    browser: Browser, live: LiveServer, rules: RuleSet, width: int, locale: str
) -> Iterator[tuple[str, Page]]:
    """Walk the whole product, yielding at every page (and error state) a person can reach."""
    context = new_context(browser, width=width, locale=locale)
    page = context.new_page()
    check = SelfCheck(page, live.url, rules)
    answers = dict(BY_NAME["ramsay-hunt-eye-and-ear"]["answers"], notes="Tight in the mornings.")
    page.goto(live.url + "/")
    yield "landing", page
    page.goto(live.url + "/result")
    yield "no result yet", page
    page.goto(live.url + "/questions/safety")
    check.continue_()
    yield "safety with errors", page
    while check.on_question_page() or check.on_urgent_page() or check.on_camera_page():
        if check.on_urgent_page():
            yield "urgent advice", page
            check.continue_check()
            continue
        if check.on_camera_page():  # its capture, with a fake camera: tests/browser/test_camera.py
            yield "camera check offer", page
            check.skip_camera()
            continue
        yield f"question page {check.page_id}", page
        check.answer_current_page(answers)
        check.continue_()
    yield "check answers", page
    check.see_result()
    yield "result (urgent)", page
    page.goto(live.url + "/request-consultation")
    submit(page, "main button[type=submit]")
    yield "consultation request with errors", page
    page.fill("#name", "Ada Example")
    page.fill("#phone", "555 010 9999")
    page.check("#contact_time")
    page.check("#consent")
    submit(page, "main button[type=submit]")
    yield "consultation request sent", page
    for path in ("/how-this-works", "/accessibility", "/emergency", "/no-such-page", "/i/not-a-real-invitation-link"):
        page.goto(live.url + path)
        yield path, page
    page.goto(live.url + "/questions/safety")
    submit(page, "main button[value=save]")
    yield "saved", page
    page.goto(page.input_value("#resume-link"))
    yield "resume confirmation", page
    context.close()

    staff_context = new_context(browser, width=width, locale=locale)
    staff_page = staff_context.new_page()
    staff = StaffArea(staff_page, live.url)
    staff_page.goto(live.url + "/staff/sign-in")
    submit(staff_page, "main button[type=submit]")
    yield "staff sign-in with errors", staff_page
    staff.sign_in(*STAFF)
    yield "inbox", staff_page
    link = staff.make_invitation("Mon 9 Dec")
    yield "invitation made", staff_page
    staff_page.goto(live.url + "/staff/invitations")
    yield "invitations", staff_page
    patient_context = new_context(browser, width=width, locale=locale)
    patient = patient_context.new_page()
    patient.goto(link)
    yield "invitation welcome", patient
    submit(patient, "main button[type=submit]")
    SelfCheck(patient, live.url, rules).answer_all(BY_NAME["nine-months-established"]["answers"])
    yield "check answers (invited)", patient
    submit(patient, "main form button[type=submit]")
    yield "result (sent, prompt)", patient
    patient_context.close()
    staff.open_inbox()
    submit(staff_page, "a:has-text('Mon 9 Dec')")
    yield "case", staff_page
    submit(staff_page, "a[href^='/staff/submissions/']")
    yield "submission", staff_page
    staff_page.goto(staff_page.url + "/delete")
    yield "delete a submission?", staff_page
    staff_page.go_back()
    submit(staff_page, ".back-link")
    submit(staff_page, "form[action$='/follow-up'] button[type=submit]")
    yield "follow-up link made", staff_page
    follow_up = staff_page.input_value("#invitation-link")
    again_context = new_context(browser, width=width, locale=locale)
    again = again_context.new_page()
    again.goto(follow_up)
    yield "follow-up welcome", again
    submit(again, "main button[type=submit]")
    SelfCheck(again, live.url, rules).answer_all(FOLLOW_UP)
    submit(again, "main form button[type=submit]")
    yield "result (follow-up, with earlier scores)", again
    again_context.close()
    submit(staff_page, ".back-link")
    yield "case with a trend", staff_page
    case_url, other = staff_page.url, f"R-{secrets.token_hex(3)}"
    staff_page.goto(f"{case_url.split('#')[0]}/gradings/sunnybrook")
    submit(staff_page, ".grading-form button[type=submit]")
    yield "Sunnybrook grading with errors", staff_page
    staff_page.goto(f"{case_url.split('#')[0]}/gradings/eface")
    yield "eFACE grading (sliders)", staff_page
    staff_page.goto(f"{case_url.split('#')[0]}/gradings/house-brackmann")
    staff_page.click("label[for=side]")
    staff_page.fill("#visit_on", "2026-12-01")
    staff_page.click("label[for=grade-III]")
    submit(staff_page, ".grading-form button[type=submit]")
    yield "a saved grading", staff_page
    staff_page.goto(staff_page.url + "/amend")
    yield "amend a grading", staff_page
    staff_page.goto(live.url + "/staff/grading")
    yield "how grading works", staff_page
    staff.make_invitation("Wed 11 Dec", reference=other)
    staff_page.goto(case_url)
    staff_page.fill("#other", other)
    submit(staff_page, "#merge ~ form button[type=submit]")
    yield "merge two cases?", staff_page
    staff_page.goto(live.url + "/staff/worklist")
    yield "safety worklist", staff_page
    staff_page.goto(live.url + "/staff/invitations/import")
    submit(staff_page, "main form button[type=submit]")
    yield "clinic list with errors", staff_page
    staff_page.goto(live.url + "/staff/?show=all&q=nobody-matches")
    yield "inbox search without a match", staff_page
    staff.open_inbox()
    submit(staff_page, "tr:has-text('Ada Example') th a")
    submit(staff_page, "a[href^='/staff/requests/']")
    yield "consultation request (staff)", staff_page
    staff_page.goto(live.url + "/staff/audit?action=viewed")
    yield "audit log, filtered", staff_page
    staff_page.goto(live.url + "/staff/accounts")
    yield "staff accounts", staff_page
    staff_page.fill("#email", f"helper-{secrets.token_hex(4)}@clinic.example")
    submit(staff_page, "main form button[type=submit]")
    yield "account with its password link", staff_page
    setter = new_context(browser, width=width, locale=locale)
    setting = setter.new_page()
    setting.goto(staff_page.input_value("#password-link"))
    yield "set a password", setting
    setter.close()
    staff_context.close()


def problems_on(page: Page, width: int) -> list[str]:
    """Everything wrong with the page as it stands."""
    found: list[str] = []
    results = AXE.run(page)
    for violation in results.response["violations"]:
        targets = [node["target"] for node in violation["nodes"]][:3]
        found.append(f"axe {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        found.append(f"scrolls sideways by {overflow}px at {width}px")
    small = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(el => el.offsetParent !== null && !el.closest('p, li, dd, td') && el.type !== 'hidden')
            .map(el => {
              const box = (el.type === 'radio' || el.type === 'checkbox') ? el : el;
              const r = box.getBoundingClientRect();
              return [el.outerHTML.slice(0, 80), Math.round(r.width), Math.round(r.height)];
            })
            .filter(([_, w, h]) => w < 24 || h < 24)""",
        TARGETS,
    )
    found += [f"target smaller than 24x24: {html} ({w}x{h})" for html, w, h in small]
    return found


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_every_page_passes_axe_and_fits(
    browser: Browser, live: LiveServer, rules: RuleSet, width: int, locale: str
) -> None:
    report: list[str] = []
    visited = 0
    for name, page in every_page(browser, live, rules, width, locale):
        visited += 1
        report += [f"{name}: {problem}" for problem in problems_on(page, width)]
    assert visited >= 25
    assert report == [], "\n".join(report)


def test_no_sideways_scrolling_at_320(browser: Browser, live: LiveServer, rules: RuleSet) -> None:
    wide = []
    for name, page in every_page(browser, live, rules, 320, "en-US"):
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            wide.append(f"{name}: {overflow}px")
    assert wide == [], "\n".join(wide)


def test_focus_starts_at_the_triage_box_the_error_summary_or_the_heading(
    browser: Browser, live: LiveServer, rules: RuleSet
) -> None:
    wrong = []
    for name, page in every_page(browser, live, rules, 1280, "en-US"):
        page.wait_for_load_state("load")
        with contextlib.suppress(PlaywrightTimeout):  # a page that never moves focus is reported below
            page.wait_for_function("document.activeElement !== document.body", timeout=3000)
        focused = page.evaluate(
            "document.activeElement.matches('h1, h1 *, .error-summary, main .triage')"
            " || !!document.activeElement.closest('h1')"
        )
        # Advice that cannot wait comes first, then what to correct, then the page's heading.
        expected = next((s for s in ("main .triage", ".error-summary") if page.locator(s).count()), "h1")
        if not focused:
            wrong.append(f"{name}: focus is on {page.evaluate('document.activeElement.tagName')}, expected {expected}")
        elif expected != "h1" and not page.evaluate(f"!!document.activeElement.closest({expected!r})"):
            wrong.append(f"{name}: {expected} should have focus")
    assert wrong == [], "\n".join(wrong)


def test_titles_say_the_step_and_errors(page: Page, live: LiveServer, rules: RuleSet) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    expect(page).to_have_title(re.compile(r"^Step 1 of 7: Safety check – Synkinesis self-check$"))
    check.continue_()
    expect(page).to_have_title(re.compile(r"^Error: Step 1 of 7: "))
    check.answer_current_page({"rf_stroke_signs": "no", "rf_eye": "no", "rf_ear_rash": "no", "rf_both_sides": "no",
                               "rf_progressive": "no"})  # fmt: skip
    check.continue_()
    expect(page).to_have_title(re.compile(r"^Step 2 of 7: "))


def press_until(page: Page, key: str, done: Callable[[], bool], limit: int = 60) -> None:
    for _ in range(limit):
        if done():
            return
        page.keyboard.press(key)
    raise AssertionError(f"pressing {key} {limit} times never got there")


def active(page: Page, attribute: str) -> Any:
    return page.evaluate(f"document.activeElement && document.activeElement.{attribute}")


def test_whole_journey_with_the_keyboard_alone(page: Page, live: LiveServer, rules: RuleSet) -> None:
    answers = BY_NAME["five-months-strong-but-early"]["answers"]
    page.goto(live.url + "/")
    press_until(page, "Tab", lambda: active(page, "textContent").strip() == "Start now")
    page.keyboard.press("Enter")
    page.wait_for_url("**/questions/safety")
    for _ in range(len(rules.pages) + 1):
        if page.url.split("?")[0].endswith("/camera"):  # the optional camera check: skipped from the keyboard
            press_until(page, "Tab", lambda: active(page, "textContent").strip() == "Skip this step")
            page.keyboard.press("Enter")
            page.wait_for_url("**/questions/**")
        if "/questions/" not in page.url:
            break
        current = rules.page(page.url.rsplit("/", 1)[1])
        assert current is not None
        for question in current.questions:
            if question.id not in answers:
                continue
            wanted = answers[question.id]
            press_until(page, "Tab", lambda q=question: active(page, "name") == q.id)
            if question.kind is Kind.SEVERAL:
                for code in wanted:
                    press_until(page, "Tab", lambda c=code: active(page, "value") == c)
                    page.keyboard.press("Space")
            elif active(page, "value") == str(wanted):
                page.keyboard.press("Space")
            else:
                press_until(page, "ArrowDown", lambda w=wanted: active(page, "value") == str(w))
        press_until(page, "Tab", lambda: active(page, "textContent").strip() == "Continue")
        before = page.url
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url, before=before: url != before)
    expect(page).to_have_url(re.compile("/check-answers$"))
    press_until(page, "Tab", lambda: active(page, "textContent").strip() == "See my result")
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).to_contain_text("Early signs")


def test_focus_is_always_visible(page: Page, live: LiveServer, rules: RuleSet) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'H1'")  # the script ran
    invisible = []
    for _ in range(25):
        page.keyboard.press("Tab")
        style = page.evaluate(
            """() => { const el = document.activeElement;
                 const target = (el.type === 'radio' || el.type === 'checkbox') ? el.nextElementSibling : el;
                 const s = getComputedStyle(target), before = getComputedStyle(target, '::before');
                 return [el.outerHTML.slice(0, 60), s.outlineStyle, s.boxShadow, before.boxShadow]; }"""
        )
        html, outline, shadow, before_shadow = style
        if html.startswith("<body") or 'tabindex="-1"' in html:
            continue  # focus left the page (after the last link), or is not a Tab stop
        if outline == "none" and shadow == "none" and before_shadow == "none":
            invisible.append(html)
    assert invisible == []


def test_whole_journey_without_javascript(browser: Browser, live: LiveServer, rules: RuleSet) -> None:
    context = new_context(browser, width=375, javascript=False)
    page = context.new_page()
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.continue_()
    expect(page.locator(".error-summary")).to_be_visible()
    check.answer_all(BY_NAME["two-years-botox"]["answers"])
    assert not [url for url in visited if "/camera" in url or "/measure/" in url]  # the camera check: no trace
    check.see_result()
    assert check.stage() == "Your answers are most like: Long-term management"
    expect(page.get_by_role("button", name="Print this page")).to_be_hidden()  # needs JavaScript, so not shown
    context.close()
