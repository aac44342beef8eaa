"""The journeys of SPEC section 6, done in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from checker.engine import RuleSet

from ..conftest import VIGNETTES
from .conftest import STAFF, LiveServer, new_context
from .pages import SelfCheck, StaffArea, submit

BY_NAME = {case["name"]: case for case in VIGNETTES}
ONE_PER_OUTCOME = {
    "bell-2-weeks-recovering": "Nerve injury and recovery",
    "four-months-early-signs": "Early signs",
    "nine-months-established": "Established synkinesis",
    "two-years-botox": "Long-term management",
    "no-palsy-twitching": "Synkinesis not suggested",
}


@pytest.mark.parametrize("name", list(ONE_PER_OUTCOME))
def test_whole_self_check(page: Page, live: LiveServer, rules: RuleSet, name: str) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.answer_all(BY_NAME[name]["answers"])
    expect(page).to_have_title(re.compile("^Check your answers"))
    check.see_result()
    assert check.stage() == f"Your answers are most like: {ONE_PER_OUTCOME[name]}"
    expect(page.get_by_text("This is not a diagnosis.").first).to_be_visible()


def test_emergency_stop(page: Page, live: LiveServer, rules: RuleSet) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.answer_current_page(BY_NAME["stroke-signs"]["answers"])
    check.continue_()
    expect(page).to_have_url(re.compile("/emergency$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Call 911 now")
    expect(page.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")


def test_empty_submit_focuses_the_error_summary_and_its_links_reach_the_fields(
    page: Page, live: LiveServer, rules: RuleSet
) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.continue_()
    expect(page).to_have_title(re.compile("^Error: Step 1 of 7"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    summary.get_by_role("link").nth(1).click()
    expect(page.locator("#rf_eye")).to_be_focused()


def test_back_and_change_keep_answers(page: Page, live: LiveServer, rules: RuleSet) -> None:
    answers = BY_NAME["nine-months-established"]["answers"]
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.answer_current_page(answers)
    check.continue_()
    check.answer_current_page(answers)
    check.continue_()
    page.get_by_role("link", name="Back").click()
    expect(page.locator("input[name=cause][value=ramsay_hunt]")).to_be_checked()
    check.continue_()
    check.answer_all(answers)
    page.locator("a[href='/questions/signs?change=1#pattern']").click()
    page.check("input[name=pattern][value=occasional]")
    check.continue_()
    expect(page).to_have_url(re.compile("/check-answers(#pattern)?$"))
    expect(page.locator("h1")).to_be_focused()
    expect(page.get_by_text("Now and then, and I can't tell when")).to_be_visible()
    check.see_result()
    assert check.stage() == "Your answers are most like: Established synkinesis"  # daily impact still decides


def test_save_and_resume_in_another_browser(browser: Browser, page: Page, live: LiveServer, rules: RuleSet) -> None:
    answers = BY_NAME["nine-months-established"]["answers"]
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.answer_current_page(answers)
    check.continue_()
    check.answer_current_page(answers)
    check.save_for_later()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers are saved")
    link = page.input_value("#resume-link")
    other = new_context(browser, width=375)
    later = other.new_page()
    later.goto(link)
    expect(later.get_by_role("heading", level=1)).to_have_text("Continue your saved answers")
    assert "/resume/" in later.url  # the link alone takes nothing up
    submit(later, "main button[type=submit]")
    expect(later).to_have_url(re.compile("/questions/cause$"))
    expect(later.locator("input[name=cause][value=ramsay_hunt]")).to_be_checked()
    other.close()


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_a_case_over_time(browser: Browser, live: LiveServer, rules: RuleSet, locale: str) -> None:
    """A link with a reference, answered; a follow-up, answered with higher scores; the case shows both."""
    staff_context = new_context(browser, width=1280, locale=locale)
    page = staff_context.new_page()
    staff = StaffArea(page, live.url)
    staff.sign_in(*STAFF)
    reference = f"MRN-{locale}"
    link = staff.make_invitation("Fri 6 Dec, 09:15", reference=reference)
    first = BY_NAME["four-months-early-signs"]["answers"]
    higher = {**first, **{q: 5 for q in first if q.startswith("saq_")}}
    answer_link(browser, link, rules, first, locale)
    staff.open_inbox()
    submit(page, f"a:has-text('{reference}')")
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)
    submit(page, "form[action$='/follow-up'] button[type=submit]")
    follow_up = page.input_value("#invitation-link")
    patient = answer_link(browser, follow_up, rules, higher, locale, keep=True)
    # The patient sees their earlier score beside today's.
    history = patient.locator("#history + p + .trend + .table-wrap tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("26.7")
    expect(history.nth(1)).to_contain_text("100.0")
    expect(history.nth(1)).to_contain_text("+73.3")
    patient.context.close()
    staff.open_inbox()
    submit(page, f"a:has-text('{reference}')")
    rows = page.locator("#trend + p + .trend + .table-wrap tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("26.7")
    expect(rows.nth(1)).to_contain_text("+73.3")
    reading = "likely a real change" if locale == "en-US" else "probablemente un cambio real"
    expect(rows.nth(1)).to_contain_text(reading)
    expect(page.locator(".trend__point")).to_have_count(2)
    expect(page.locator(".trend__chart")).to_be_visible()
    # Printed, the case leaves out the navigation, the forms and every button; the trend stays.
    page.emulate_media(media="print")
    for selector in (".staff-nav", "button", "select", "textarea", ".back-link", "input"):
        assert all(not element.is_visible() for element in page.locator(selector).all()), selector
    expect(page.locator(".trend__chart")).to_be_visible()
    expect(rows.nth(1)).to_be_visible()
    staff_context.close()


def answer_link(browser: Browser, link: str, rules: RuleSet, answers: dict[str, object], locale: str,
                keep: bool = False) -> Page:  # fmt: skip
    """A patient opens the clinic's link on a phone, answers everything and sends."""
    context = new_context(browser, width=375, locale=locale)
    patient = context.new_page()
    patient.goto(link)
    submit(patient, "main form button[type=submit]")
    SelfCheck(patient, live_base(link), rules).answer_all(answers)
    submit(patient, "main form button[type=submit]")
    expect(patient.locator(".flash")).to_contain_text("Facial Nerve Clinic")  # "sent to the clinic"
    if not keep:
        context.close()
    return patient


def live_base(link: str) -> str:
    return link.split("/i/")[0]


def test_consultation_request(page: Page, live: LiveServer, rules: RuleSet) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.answer_all(BY_NAME["two-years-botox"]["answers"])
    check.see_result()
    page.get_by_role("link", name="Ask the clinic to contact me").click()
    page.fill("#name", "Ada Example")
    page.fill("#email", "ada@example.org")
    page.get_by_label("Afternoon").check()
    page.get_by_label(re.compile("I agree that")).check()
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request sent")
    expect(page.locator(".reference")).to_have_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))


def test_a_request_the_database_refused_is_still_in_the_form_after_going_back(
    page: Page, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 503 page tells a person to go back, where the browser keeps what they typed (every
    page is no-store, so this is the browser's form restore, not its cache); sending again works."""
    from sqlalchemy.exc import OperationalError

    from checker.questionnaire import consultation

    kept = consultation.refresh

    def database_down(*args: object) -> None:
        raise OperationalError("UPDATE case", {}, Exception("database is locked"))

    monkeypatch.setattr(consultation, "refresh", database_down)
    page.goto(live.url + "/request-consultation")
    page.fill("#name", "Ana López")
    page.fill("#phone", "555 010 9999")
    page.get_by_label("Any time").check()
    page.fill("#message", "Se me cierra el ojo al sonreír")
    page.get_by_label(re.compile("I agree that")).check()
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sorry, we cannot save or load answers right now")
    page.go_back()
    expect(page.locator("#name")).to_have_value("Ana López")
    expect(page.locator("#message")).to_have_value("Se me cierra el ojo al sonreír")
    expect(page.get_by_label(re.compile("I agree that"))).to_be_checked()
    monkeypatch.setattr(consultation, "refresh", kept)
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request sent")


def test_pdf_download(page: Page, live: LiveServer, rules: RuleSet) -> None:
    check = SelfCheck(page, live.url, rules)
    check.start()
    check.answer_all(BY_NAME["nine-months-established"]["answers"])
    check.see_result()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a PDF summary").click()
    path = download.value.path()
    assert download.value.suggested_filename.startswith("synkinesis-self-check-")
    with open(path, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
