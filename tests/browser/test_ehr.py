"""The whole EHR launch in Chromium: a clinician opens the app from a patient's chart in the test
EHR, the browser goes through the EHR's authorization and back, the check is answered on the
same pages as anyone's and sent, the outbox worker files it into the EHR, and the case page
says so. No token reaches the browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from checker.db import db
from checker.ehr.write_back import file_due
from checker.engine import RuleSet
from checker.models import EhrLaunch

from ..conftest import VIGNETTES
from ..ehr_server import CLIENT_ID, Ehr, running_ehr
from .conftest import STAFF, LiveServer, new_context, serve
from .pages import SelfCheck, StaffArea, submit


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[Ehr, LiveServer]]:
    with running_ehr("http://placeholder.invalid/ehr/callback") as ehr:
        app = serve(tmp_path, BASE_URL="http://127.0.0.1", SMART_ISSUERS=ehr.fhir, SMART_CLIENT_ID=CLIENT_ID)
        app.app.config["BASE_URL"] = app.url  # the port is known once it listens
        ehr.redirect_uris.append(f"{app.url}/ehr/callback")
        ehr.app_launch_url = f"{app.url}/ehr/launch"
        yield ehr, app
        app.server.shutdown()
        app.server.server_close()


def test_an_ehr_launch_in_the_browser_ends_filed_in_the_chart(
    browser: Browser, launched: tuple[Ehr, LiveServer], rules: RuleSet
) -> None:
    ehr, app = launched
    context = new_context(browser)
    page = context.new_page()
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(f"{ehr.url}/chart/pat-7")
    submit(page, "a")  # the app, from the chart: to the EHR's authorization and straight back
    assert page.url.startswith(f"{app.url}/questions/"), page.url
    assert any(u.startswith(f"{ehr.url}/authorize?") for u in seen)
    SelfCheck(page, app.url, rules).answer_all(VIGNETTES[0]["answers"])
    submit(page, "main form button[type=submit]")  # send
    expect(page.locator(".flash")).to_contain_text("Facial Nerve Clinic")
    with app.app.app_context():
        launch = db.session.scalars(select(EhrLaunch)).one()
        assert (launch.patient, launch.encounter) == ("pat-7", "enc-visit")
        token = launch.access_token
        assert token
        assert file_due() == (1, 0)
        case_id = launch.invitation.case_id if launch.invitation else None
    cookies = " ".join(c["value"] for c in context.cookies())
    assert token not in cookies
    assert not any(token in u for u in seen)
    assert [r["subject"]["reference"] for r in ehr.held.values()] == ["Patient/pat-7"] * len(ehr.held)
    staff = StaffArea(context.new_page(), app.url)
    staff.sign_in(*STAFF)
    staff.page.goto(f"{app.url}/staff/cases/{case_id}")
    expect(staff.page.locator("#checks + .table-wrap")).to_contain_text("Filed in the EHR")
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_the_launch_problem_and_the_filing_line_pass_axe(
    browser: Browser, launched: tuple[Ehr, LiveServer], rules: RuleSet, width: int, locale: str
) -> None:
    from .test_accessibility import problems_on

    ehr, app = launched
    context = new_context(browser, width=width, locale=locale)
    page = context.new_page()
    ehr.deny = True
    page.goto(f"{ehr.url}/chart/pat-8")
    submit(page, "a")
    expect(page.locator("h1")).to_contain_text("did not give access" if locale == "en-US" else "no dio acceso")
    report = [f"refused: {p}" for p in problems_on(page, width)]
    ehr.deny = False
    page.goto(f"{ehr.url}/chart/pat-8")
    submit(page, "a")
    SelfCheck(page, app.url, rules).answer_all(VIGNETTES[0]["answers"])
    submit(page, "main form button[type=submit]")
    with app.app.app_context():
        assert file_due() == (1, 0)
    staff = StaffArea(context.new_page(), app.url)
    staff.sign_in(*STAFF)
    staff.page.goto(f"{app.url}/staff/")
    submit(staff.page, "main a[href^='/staff/cases/']")
    expect(staff.page.locator("#checks + .table-wrap")).to_contain_text(
        "Filed in the EHR" if locale == "en-US" else "Guardada en el expediente médico electrónico"
    )
    report += [f"case: {p}" for p in problems_on(staff.page, width)]
    context.close()
    assert report == [], "\n".join(report)
