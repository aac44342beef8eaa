"""Page objects: what a person sees and does on each kind of page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from checker.engine import Kind, RuleSet


def submit(page: Page, selector: str) -> None:
    """Click something that loads a new page, and wait until that page has loaded."""
    with page.expect_navigation():
        page.locator(selector).first.click()


class SelfCheck:
    """The patient's journey: question pages, check your answers, result."""

    def __init__(self, page: Page, base: str, rules: RuleSet) -> None:
        self.page, self.base, self.rules = page, base, rules

    def start(self) -> None:
        self.page.goto(self.base + "/")
        submit(self.page, ".button--start")

    @property
    def page_id(self) -> str:
        return self.page.url.split("/questions/", 1)[1].split("?")[0].split("#")[0]

    def on_question_page(self) -> bool:
        return "/questions/" in self.page.url

    def answer_current_page(self, answers: dict[str, Any]) -> None:
        page = self.rules.page(self.page_id)
        assert page is not None
        for question in page.questions:
            if question.id not in answers:
                continue
            value = answers[question.id]
            if question.kind is Kind.TEXT:
                self.page.fill(f"#{question.id}", value)
                continue
            for code in value if isinstance(value, list) else [value]:
                self.page.check(f"input[name='{question.id}'][value='{code}']")

    def continue_(self) -> None:
        submit(self.page, "button[value=continue]")

    def save_for_later(self) -> None:
        submit(self.page, "button[value=save]")

    def on_urgent_page(self) -> bool:
        return "/urgent" in self.page.url

    def continue_check(self) -> None:
        """From the urgent page: 'Continue the check'."""
        submit(self.page, "#continue-check")

    def on_camera_page(self) -> bool:
        return self.page.url.split("?")[0].endswith("/camera")

    def skip_camera(self) -> None:
        """The optional camera check, offered after the linked-movements page: skipped."""
        submit(self.page, "#camera-skip")

    def answer_all(self, answers: dict[str, Any]) -> None:
        for _ in range(2 * len(self.rules.pages) + 1):
            if self.on_urgent_page():
                self.continue_check()
            if self.on_camera_page():
                self.skip_camera()
            if not self.on_question_page():
                return
            self.answer_current_page(answers)
            self.continue_()

    def see_result(self) -> None:
        submit(self.page, "main a[href='/result']")

    def heading(self) -> str:
        return " ".join(self.page.locator("h1").first.inner_text().split())

    def stage(self) -> str:
        """The result's stage heading."""
        return " ".join(self.page.locator("#stage").inner_text().split())

    def in_view(self, selector: str) -> bool:
        """Whether the top of the first element ``selector`` finds is inside the viewport."""
        return bool(
            self.page.eval_on_selector(
                selector, "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight - 40; }"
            )
        )

    def focused(self) -> str:
        return str(self.page.evaluate("document.activeElement.outerHTML.slice(0, 120)"))


class StaffArea:
    """The clinic's pages."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto(self.base + "/staff/")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        submit(self.page, "main button[type=submit]")

    def make_invitation(self, label: str, reference: str = "") -> str:
        self.page.goto(self.base + "/staff/invitations")
        self.page.fill("#reference", reference)
        self.page.fill("#label", label)
        submit(self.page, "main form button[type=submit]")
        return self.page.input_value("#invitation-link")

    def open_inbox(self) -> None:
        self.page.goto(self.base + "/staff/")
