"""SMART App Launch and write-back against a test EHR on loopback (tests/ehr_server.py: Authlib's
server side, and a FHIR server that validates what it takes): an EHR launch and a standalone
launch end in a check on the EHR patient's case; every way a launch can go wrong ends on a clear
page with nothing half made; tokens never reach the browser; a sent check is filed once, retried
without a second copy, and a refused or expired token is given up and said on the case page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from checker import create_app
from checker.config import StartupError
from checker.db import db, utcnow
from checker.ehr.write_back import file_due, filing_bundle
from checker.engine import RuleSet
from checker.models import Case, EhrLaunch, EhrWriteBack, StaffUser, Submission
from checker.retention import purge

from .conftest import TEST_CONFIG, VIGNETTES, csrf_token, make_staff, migrated_app, sign_in, walk
from .ehr_server import CLIENT_ID, Ehr, running_ehr
from .test_clinic import text_of
from .test_fhir_validators import validate

CALLBACK = "http://localhost/ehr/callback"  # the test client's address for the app
REGISTERED = {"SMART_CLIENT_ID": "x", "BASE_URL": "https://selfcheck.example"}


@pytest.fixture
def ehr() -> Iterator[Ehr]:
    with running_ehr(CALLBACK) as found:
        yield found


@pytest.fixture
def launch_app(ehr: Ehr, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    registered = {"BASE_URL": "http://localhost", "SMART_ISSUERS": ehr.fhir, "SMART_CLIENT_ID": CLIENT_ID}
    yield from migrated_app({**TEST_CONFIG, "DATABASE_URL": database_url, **registered}, tmp_path)


def _authorize(url: str) -> str:
    """The EHR's authorization page, as the browser would follow it: where it sends the browser back."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:500]
    back = answer.headers["Location"]
    assert back.startswith(CALLBACK)
    return back[len("http://localhost") :]


def _launch(client: FlaskClient, ehr: Ehr, **context: Any) -> Any:
    started = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch(**context)})
    assert started.status_code == 302, text_of(started)[:500]
    return client.get(_authorize(started.headers["Location"]))


def _send(client: FlaskClient, rules: RuleSet, answers: dict[str, Any]) -> Any:
    walk(client, rules, answers)
    return client.post("/send", data={"csrf_token": csrf_token(text_of(client.get("/check-answers")))})


def test_an_ehr_launch_ties_the_check_to_the_patient_and_encounter(launch_app: Flask, ehr: Ehr, rules: RuleSet) -> None:
    client = launch_app.test_client()
    started = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch("pat-1", "enc-9")})
    asked = parse_qs(urlsplit(started.headers["Location"]).query)
    assert {k: v[0] for k, v in asked.items() if k not in ("state", "code_challenge")} == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "launch openid fhirUser patient/Patient.r patient/QuestionnaireResponse.c patient/Observation.c",
        "aud": ehr.fhir,
        "launch": asked["launch"][0],
        "code_challenge_method": "S256",
    }
    assert len(asked["state"][0]) >= 40
    assert len(asked["code_challenge"][0]) == 43  # base64url of a SHA-256
    landed = client.get(_authorize(started.headers["Location"]))
    assert landed.status_code == 302
    assert landed.headers["Location"] == f"/questions/{rules.pages[0].id}"  # the same pages as anyone
    assert _send(client, rules, VIGNETTES[0]["answers"]).headers["Location"] == "/result"
    with launch_app.app_context():
        launch = db.session.scalars(select(EhrLaunch)).one()
        assert (launch.kind, launch.patient, launch.encounter) == ("ehr", "pat-1", "enc-9")
        assert launch.subject() == f"{ehr.fhir}/Patient/pat-1"
        assert launch.visit() == f"{ehr.fhir}/Encounter/enc-9"
        assert launch.fhir_user == f"{ehr.fhir}/Practitioner/prac-1"  # from the checked id_token
        assert launch.code_verifier is None  # spent
        assert launch.access_token in ehr.tokens  # kept on the server, for the write-back
        submission = db.session.scalars(select(Submission)).one()
        assert submission.invitation_id == launch.invitation_id
        case = db.session.get(Case, submission.case_id)
        assert case is not None
        assert case.reference == "Patient/pat-1"
    # a second launch for the same patient answers on the same case: one person over time
    second = launch_app.test_client()
    _launch(second, ehr, patient="pat-1", encounter="enc-10")
    assert _send(second, rules, VIGNETTES[1]["answers"]).status_code == 302
    with launch_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 2


def test_a_standalone_launch_asks_the_patient_to_pick_themself(launch_app: Flask, ehr: Ehr, rules: RuleSet) -> None:
    client = launch_app.test_client()
    started = client.get("/ehr/start")
    asked = parse_qs(urlsplit(started.headers["Location"]).query)
    assert "launch" not in asked
    assert asked["scope"][0].split()[0] == "launch/patient"
    assert client.get(_authorize(started.headers["Location"])).status_code == 302
    assert _send(client, rules, VIGNETTES[0]["answers"]).headers["Location"] == "/result"
    with launch_app.app_context():
        launch = db.session.scalars(select(EhrLaunch)).one()
        assert (launch.kind, launch.patient, launch.encounter) == ("standalone", "pat-standalone", None)


def test_tokens_and_verifiers_never_reach_the_browser(launch_app: Flask, ehr: Ehr, rules: RuleSet) -> None:
    client = launch_app.test_client()
    landed = _launch(client, ehr)
    _send(client, rules, VIGNETTES[0]["answers"])
    with launch_app.app_context():
        launch = db.session.scalars(select(EhrLaunch)).one()
        secrets_kept = [launch.access_token, launch.refresh_token]
    cookies = " ".join(f"{c.key}={c.value}" for c in client._cookies.values())  # noqa: SLF001
    pages = text_of(landed) + text_of(client.get("/result")) + cookies
    for secret in filter(None, secrets_kept):
        assert secret not in pages


def _problem(answer: Any, status: int, words: str) -> None:
    assert answer.status_code == status
    assert words in text_of(answer)


def test_a_launch_that_goes_wrong_ends_on_a_clear_page_with_nothing_made(
    launch_app: Flask, ehr: Ehr, caplog: pytest.LogCaptureFixture
) -> None:
    client = launch_app.test_client()
    # an EHR this clinic has not registered: refused before any call to it
    _problem(client.get("/ehr/launch?iss=https://evil.example/fhir&launch=x"), 400, "health record system it knows")
    _problem(client.get(f"/ehr/launch?iss={ehr.fhir}"), 400, "health record system it knows")  # no launch id
    # the person refuses access at the EHR
    ehr.deny = True
    started = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})
    _problem(client.get(_authorize(started.headers["Location"])), 400, "did not give access")
    ehr.deny = False
    # a code past its time at the EHR
    ehr.code_seconds = 0
    started = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})
    _problem(client.get(_authorize(started.headers["Location"])), 502, "did not give access")
    ehr.code_seconds = 60
    # a callback replayed, or brought to another browser, or with a made-up state
    started = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})
    back = _authorize(started.headers["Location"])
    other = launch_app.test_client()
    _problem(other.get(back), 400, "has run out")  # another browser: refused, and nothing spent
    assert client.get(back).status_code == 302  # the browser that began it still finishes...
    _problem(client.get(back), 400, "has run out")  # ...once
    _problem(client.get("/ehr/callback?state=made-up&code=x"), 400, "has run out")
    # a launch with no patient in its context
    _problem(_launch(client, ehr, patient="", encounter=None), 502, "whose record")
    with launch_app.app_context():  # of all these, only the one finished launch made anything
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        assert db.session.scalar(select(func.count()).where(EhrLaunch.access_token.is_not(None))) == 1
    assert "code=" not in caplog.text


def test_an_ehr_that_cannot_be_reached_or_is_not_smart(launch_app: Flask, ehr: Ehr) -> None:
    client = launch_app.test_client()
    launch_app.config["SMART_ISSUERS"] = "http://127.0.0.1:9/fhir"  # nothing listens there
    _problem(client.get("/ehr/launch?iss=http://127.0.0.1:9/fhir&launch=x"), 502, "could not reach")
    launch_app.config["SMART_ISSUERS"] = f"{ehr.url}/nowhere"  # no discovery document
    _problem(client.get(f"/ehr/launch?iss={ehr.url}/nowhere&launch=x"), 502, "could not reach")
    with launch_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EhrLaunch)) == 0


def test_without_registered_ehrs_there_is_no_launch(client: FlaskClient) -> None:
    assert client.get("/ehr/launch?iss=https://ehr.example/fhir&launch=x").status_code == 404
    assert client.get("/ehr/start").status_code == 404


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"SMART_ISSUERS": "ftp://ehr.example/fhir", **REGISTERED}, "CHECKER_SMART_ISSUERS"),
        ({"SMART_ISSUERS": "http://ehr.example/fhir", **REGISTERED}, "https"),
        ({"SMART_ISSUERS": "https://ehr.example/fhir/", **REGISTERED}, "trailing slash"),
        ({"SMART_ISSUERS": "https://ehr.example/fhir"}, "CHECKER_SMART_CLIENT_ID"),
        ({"SMART_ISSUERS": "https://ehr.example/fhir", "SMART_CLIENT_ID": "x"}, "CHECKER_BASE_URL"),
    ],
)
def test_wrong_smart_settings_stop_the_start(settings: dict[str, str], words: str) -> None:
    with pytest.raises(StartupError, match=words):
        create_app({**TEST_CONFIG, **settings})


def _launched_and_sent(app: Flask, ehr: Ehr, rules: RuleSet, **context: Any) -> int:
    client = app.test_client()
    _launch(client, ehr, **context)
    assert _send(client, rules, VIGNETTES[0]["answers"]).headers["Location"] == "/result"
    with app.app_context():
        newest = db.session.scalars(select(Submission.case_id).order_by(Submission.id.desc())).first()
        assert newest is not None
        return newest


def _file(app: Flask, hours: float = 0) -> tuple[int, int]:
    with app.app_context():
        return file_due(utcnow() + timedelta(hours=hours))


def _held(ehr: Ehr, kind: str) -> list[dict[str, Any]]:
    return [resource for place, resource in ehr.held.items() if place.startswith(f"{kind}/")]


def _case_page(app: Flask, case_id: int) -> str:
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(StaffUser)) == 0:
            make_staff(app)
    staff = app.test_client()
    sign_in(staff)
    return text_of(staff.get(f"/staff/cases/{case_id}"))


def test_a_sent_check_is_filed_once_in_the_ehr_it_was_launched_from(
    launch_app: Flask, ehr: Ehr, rules: RuleSet
) -> None:
    case_id = _launched_and_sent(launch_app, ehr, rules, patient="pat-1", encounter="enc-9")
    assert "Waiting to be filed in the EHR" in _case_page(launch_app, case_id)
    assert _file(launch_app) == (1, 0)
    (response,) = _held(ehr, "QuestionnaireResponse")
    observations = _held(ehr, "Observation")
    assert len(observations) >= 2  # triage and outcome at least, as the export has
    assert response["subject"] == {"reference": "Patient/pat-1"}
    assert response["encounter"] == {"reference": "Encounter/enc-9"}
    place = next(p for p, r in ehr.held.items() if r is response)
    for observation in observations:
        assert observation["subject"] == {"reference": "Patient/pat-1"}
        assert observation["derivedFrom"] == [{"reference": place}]  # the EHR's own id for the response
    assert response["questionnaire"].startswith("http://localhost/api/v1/fhir/Questionnaire/synkinesis-self-check|")
    assert _file(launch_app, hours=2) == (0, 0)  # filed: never again
    assert ehr.transactions == 1
    with launch_app.app_context():  # and the tokens, needed no more, are not kept
        launch = db.session.scalars(select(EhrLaunch)).one()
        assert (launch.access_token, launch.refresh_token) == (None, None)
    assert "Filed in the EHR" in _case_page(launch_app, case_id)


def test_a_retry_after_a_lost_answer_files_no_second_copy(launch_app: Flask, ehr: Ehr, rules: RuleSet) -> None:
    _launched_and_sent(launch_app, ehr, rules)
    ehr.unavailable, ehr.lose_answers = 1, 1
    assert _file(launch_app) == (0, 1)  # 503: nothing taken, tried again later
    assert _file(launch_app) == (0, 0)  # not due yet
    assert _file(launch_app, hours=2) == (0, 1)  # taken, but the answer was lost (502)
    assert _file(launch_app, hours=4) == (1, 0)  # again: the conditional creates find what is there
    assert len(_held(ehr, "QuestionnaireResponse")) == 1
    assert ehr.transactions == 3
    with launch_app.app_context():
        item = db.session.scalars(select(EhrWriteBack)).one()
        assert item.attempts == 3
        assert item.filed[0].startswith("QuestionnaireResponse/")


def test_a_refused_or_expired_token_is_given_up_and_said_on_the_case(
    launch_app: Flask, ehr: Ehr, rules: RuleSet
) -> None:
    refused = _launched_and_sent(launch_app, ehr, rules, patient="pat-1")
    ehr.tokens.clear()  # the EHR revoked the app's tokens
    assert _file(launch_app) == (0, 1)
    assert "it refused the app's permission" in _case_page(launch_app, refused)
    assert _file(launch_app, hours=5) == (0, 0)  # given up: not tried again
    expired = _launched_and_sent(launch_app, ehr, rules, patient="pat-2")
    ehr.token_seconds = 0  # expired at the EHR
    assert _file(launch_app) == (0, 1)
    assert ehr.held == {}
    with launch_app.app_context():  # and when the app knows it has expired, it does not even try
        launch = db.session.scalars(select(EhrLaunch).where(EhrLaunch.patient == "pat-2")).one()
        item = db.session.scalars(select(EhrWriteBack).where(EhrWriteBack.launch_id == launch.id)).one()
        assert launch.access_token is None  # given up: the token is not kept
        item.given_up_at, item.attempts, item.next_attempt_at = None, 0, utcnow()
        launch.access_token, launch.token_expires_at = "still-held", utcnow() - timedelta(seconds=1)
        db.session.commit()
    tried = ehr.transactions
    assert _file(launch_app) == (0, 1)
    assert ehr.transactions == tried
    assert "its permission ran out first" in _case_page(launch_app, expired)


def test_the_staff_export_names_the_patient_and_encounter_on_the_ehr(
    launch_app: Flask, ehr: Ehr, rules: RuleSet
) -> None:
    _launched_and_sent(launch_app, ehr, rules, patient="pat-1", encounter="enc-9")
    make_staff(launch_app)
    staff = launch_app.test_client()
    sign_in(staff)
    with launch_app.app_context():
        check = db.session.scalars(select(Submission.id)).one()
    bundle = staff.get(f"/staff/submissions/{check}.fhir.json").get_json()
    for entry in bundle["entry"]:
        assert entry["resource"]["subject"] == {"reference": f"{ehr.fhir}/Patient/pat-1"}
        assert entry["resource"]["encounter"] == {"reference": f"{ehr.fhir}/Encounter/enc-9"}


def test_the_filed_transaction_passes_three_validators(
    launch_app: Flask, ehr: Ehr, rules: RuleSet, tmp_path: Path
) -> None:
    _launched_and_sent(launch_app, ehr, rules)
    with launch_app.app_context():
        item = db.session.scalars(select(EhrWriteBack)).one()
        assert item.launch is not None
        bundle = filing_bundle(item.submission, item.launch)
    assert validate([bundle], tmp_path) == {}


def test_purge_clears_tokens_no_one_will_use_and_launches_never_authorized(
    launch_app: Flask, ehr: Ehr, rules: RuleSet
) -> None:
    sent = launch_app.test_client()
    _launch(sent, ehr, patient="pat-1")
    _send(sent, rules, VIGNETTES[0]["answers"])  # a write-back waits: its token stays
    abandoned = launch_app.test_client()
    _launch(abandoned, ehr, patient="pat-2")  # authorized, then left before sending
    launch_app.test_client().get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})  # never back
    with launch_app.app_context():
        counts = purge(utcnow() + timedelta(days=TEST_CONFIG.get("INVITATION_DAYS", 30) + 1))
        assert counts["EHR launches never authorized"] == 1
        assert counts["EHR tokens"] == 1
        kept = {launch.patient: launch.access_token for launch in db.session.scalars(select(EhrLaunch))}
    assert kept["pat-2"] is None
    assert kept["pat-1"] is not None  # still needed: its check is not filed yet


def test_strange_and_oversized_launch_input_gets_a_clear_page(launch_app: Flask, ehr: Ehr) -> None:
    client = launch_app.test_client()
    for iss, launch in [
        (ehr.fhir + "\x00", "x"),
        (ehr.fhir + "/../../evil", "x"),
        ("🙂" * 100, "x"),
        (ehr.fhir, "x" * 501),
        (ehr.fhir.upper(), "x"),
    ]:
        answer = client.get("/ehr/launch", query_string={"iss": iss, "launch": launch})
        assert answer.status_code == 400, iss[:40]
    started = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    answer = client.get("/ehr/callback", query_string={"state": state, "code": "c" * 2001})
    assert answer.status_code == 400  # not sent on to the EHR
    assert "did not give access" in text_of(answer)
    ehr.discovery_padding = 300 * 1024  # a discovery document far larger than any real one
    answer = client.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})
    assert answer.status_code == 502
    with launch_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_two_callbacks_at_once_make_one_check(launch_app: Flask, ehr: Ehr) -> None:
    """A double click on the EHR's last page: the same state twice at the same moment."""
    import threading

    first = launch_app.test_client()
    started = first.get("/ehr/launch", query_string={"iss": ehr.fhir, "launch": ehr.launch()})
    back = _authorize(started.headers["Location"])
    second = launch_app.test_client()
    cookie = first.get_cookie("session")
    assert cookie is not None
    second.set_cookie(cookie.key, cookie.value)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def call(client: FlaskClient) -> None:
        barrier.wait()
        statuses.append(client.get(back).status_code)

    threads = [threading.Thread(target=call, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 400]
    with launch_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        assert db.session.scalar(select(func.count()).where(EhrLaunch.invitation_id.is_not(None))) == 1
