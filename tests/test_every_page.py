"""Every page in both languages: every GET route, signed in or not, error pages, email and PDFs.

Each is checked for a server error, a placeholder left unfilled, and (in Spanish) English
left untranslated. A new route that this test does not know how to open fails it. Every
route also gets hostile query strings and junk forms, and none may answer a server error.
"""

from __future__ import annotations

import html as htmllib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    TooManyRequests,
)

from checker import create_app
from checker.db import db
from checker.exports import reports
from checker.grading import SCALES
from checker.models import (
    CaseEvent,
    ConsultationRequest,
    FollowUpSchedule,
    Grading,
    GradingVersion,
    Invitation,
    Submission,
)
from checker.web.errors import handle_http_error

from .conftest import ROOT, TEST_CONFIG, VIGNETTES, Inbox, csrf_token, deliver, make_staff, post_page, sign_in, walk
from .test_clinic import answer_link, make_follow_up, make_invitation
from .test_reports_and_fhir import pdf_text
from .test_requests_and_drafts import send_request

LANGUAGES = ("en", "es")
CATALOGUE = ROOT / "checker" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
LEFTOVER = re.compile(r"\{\}|%\(|%[sd]\b|\{[a-z_]+(?:\.[a-z]+)?\}")
ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "you",
        "your",
        "with",
        "this",
        "that",
        "is",
        "are",
        "of",
        "to",
        "for",
        "it",
        "not",
        "be",
        "have",
        "has",
        "was",
        "can",
        "will",
        "what",
        "when",
        "how",
    ]
)
VOID = frozenset(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"])
FOLLOW_UP_CASE = dict(
    next(c for c in VIGNETTES if c["name"] == "four-months-eye-gap")["answers"],
    rf_eye="yes",
    saq_eye_smile=4,
    saq_eye_speak=3,
    saq_mouth_eyes=4,
)
URGENT_CASE = dict(
    next(c for c in VIGNETTES if c["name"] == "four-months-eye-gap")["answers"],
    rf_eye="yes",
    notes="Sees double sometimes.",
)


class VisibleText(HTMLParser):
    """The text a person sees or hears: no script or style, nothing marked as another language."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.stack: list[tuple[str, bool]] = []  # (tag, hidden from this check)
        self.parts: list[str] = []

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        other = values.get("lang") not in (None, self.language) and tag != "html"
        if not self._hidden() and not other:
            for name in ("aria-label", "alt", "title", "placeholder"):
                if values.get(name):
                    self.parts.append(str(values[name]))
        if tag not in VOID:
            self.stack.append((tag, tag in ("script", "style") or other))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.parts.append(data)


def visible_text(page: str, language: str) -> str:
    parser = VisibleText(language)
    parser.feed(page)
    return "\n".join(" ".join(p.split()) for p in parser.parts)


def _english_phrases() -> list[str]:
    """English from the catalogue, four words or more, whose Spanish says something else."""
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh, locale="es")
    phrases = set()
    for message in catalogue:
        if not message.id or not message.string or message.string == message.id:
            continue
        for piece in re.split(r"%\(\w+\)[sd]|\{[^}]*\}|<[^>]+>", str(message.id)):
            piece = " ".join(piece.split()).strip(" .,:;")
            if len(piece.split()) >= 4:
                phrases.add(piece)
    return sorted(phrases)


ENGLISH = _english_phrases()


def problems_in(text: str, language: str) -> list[str]:
    found = [f"leftover placeholder {m.group(0)!r}" for m in LEFTOVER.finditer(text)]
    if language == "es":
        flat = " ".join(text.split())
        found += [f"English: {p!r}" for p in ENGLISH if p in flat]
        for line in text.splitlines():
            words = set(re.findall(r"[a-z']+", line.lower()))
            if len(words & ENGLISH_WORDS) >= 3:
                found.append(f"English sentence: {line!r}")
    return found


@dataclass
class Site:
    app: Flask
    clients: dict[str, FlaskClient]
    args: dict[str, str]
    inbox: Inbox


@pytest.fixture(params=LANGUAGES)
def site(request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[Site]:
    language = request.param
    inbox, port = smtp
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'pages.db'}",
            "MAIL_SERVER": "127.0.0.1",
            "BASE_URL": "https://selfcheck.clinic.example",
            "MAIL_PORT": port,
            "CLINIC_EMAIL": "desk@clinic.example",
            "CLINIC_LANGUAGE": language,  # the clinic's email is checked in its language
            "CLINIC_ADDRESS": "1 Main Street",
            "CLINIC_BOOKING_URL": "https://clinic.example/book",
        }
    )
    app.instance_path = str(tmp_path)
    with app.app_context():
        upgrade()
    make_staff(app)
    rules = app.extensions["checker.rules"]
    names = ("staff", "patient", "again", "walker", "saver", "stopped", "fresh", "enrolling")
    clients = {name: app.test_client() for name in names}
    for client in clients.values():
        client.get(f"/?lang={language}")
    staff = clients["staff"]
    sign_in(staff)
    app.config["TWO_FACTOR"] = "required"  # someone between the password and the code, setting up the app
    assert sign_in(clients["enrolling"]).headers["Location"] == "/staff/sign-in/code"
    app.config["TWO_FACTOR"] = "optional"
    # An invited patient with an urgent flag who sends the answers, then asks to be contacted.
    patient = clients["patient"]
    link = make_invitation(staff)
    welcome = patient.get(link).get_data(as_text=True)
    patient.post(link, data={"csrf_token": csrf_token(welcome)})
    walk(patient, rules, URGENT_CASE)
    check = patient.get("/check-answers").get_data(as_text=True)
    assert patient.post("/send", data={"csrf_token": csrf_token(check)}).status_code == 302
    assert send_request(patient).status_code == 302
    # Someone partway through with the same answers, someone who saved, someone who stopped.
    walk(clients["walker"], rules, URGENT_CASE)
    saved = post_page(clients["saver"], "safety", {**URGENT_CASE, "action": "save"})
    assert saved.headers["Location"] == "/saved"
    resume = re.search(r"/resume/[A-Za-z0-9_-]+", clients["saver"].get("/saved").get_data(as_text=True))
    assert resume is not None
    # The patient's clinic asks them to answer again: their case then has a trend.
    with app.app_context():
        case_id = db.session.scalar(select(Submission.case_id))
    follow_up = make_follow_up(staff, case_id)
    assert answer_link(clients["again"], follow_up, rules, FOLLOW_UP_CASE).status_code == 302
    # Someone on a clinic's link who stops at the emergency page.
    stop_link = make_invitation(staff, label="Mon 9 Dec")
    stopped = clients["stopped"]
    stopped.post(stop_link, data={"csrf_token": csrf_token(stopped.get(stop_link).get_data(as_text=True))})
    assert post_page(stopped, "safety", {"rf_stroke_signs": "yes"}).headers["Location"] == "/emergency"
    assert stopped.get("/emergency").status_code == 200
    unused = make_invitation(staff, label="Fri 6 Dec")
    assert deliver(app) == (4, 0)
    with app.app_context():
        from checker.clinic.accounts.staff import create_staff, password_link
        from checker.shown_once import take_token

        newcomer = create_staff("newcomer@clinic.example", "quiet lantern meadow fox", "staff")
        newcomer_id, password_token = newcomer.id, take_token(password_link(newcomer, None))
        submission = db.session.scalar(select(Submission.id))
        consultation = db.session.scalar(select(ConsultationRequest.id))
        invitation = db.session.scalar(select(Invitation.id))
        event = CaseEvent(case_id=case_id, kind="toxin", on=date(2026, 3, 2), note="30 units")
        schedule = FollowUpSchedule(case_id=case_id, starts_on=date(2026, 3, 2), after_event="toxin", offsets_weeks=[2])
        # A Sunnybrook grading amended once: both versions on its page.
        grading = Grading(case_id=case_id, scale="sunnybrook")
        for number, synkinesis in ((1, "3"), (2, "1")):
            values = {"rest_eye": "narrow", "rest_cheek": "more", "rest_mouth": "normal"}
            values |= {f"move_{k}": "4" for k in ("brow", "eye", "smile", "snarl", "pucker")}
            values |= {f"synk_{k}": synkinesis for k in ("brow", "eye", "smile", "snarl", "pucker")}
            _, graded = SCALES["sunnybrook"].grade(values)
            grading.versions.append(
                GradingVersion(number=number, side="right", visit_on=date(2026, 3, 9), item_values=values,
                               scores=graded.scores, reason="Re-graded." if number > 1 else "")
            )  # fmt: skip
        db.session.add_all([event, schedule, grading])
        db.session.commit()
        event_id, schedule_id, grading_id = event.id, schedule.id, grading.id
    args = {
        "event_id": str(event_id),
        "grading_id": str(grading_id),
        "scale_id": "eface",  # junk posts: the scale with number fields (every page opens all three)
        "schedule_id": str(schedule_id),
        "kind": "unopened",
        "target_id": str(invitation),
        "other_id": str(case_id),
        "submission_id": str(submission),
        "case_id": str(case_id),
        "request_id": str(consultation),
        "invitation_id": str(invitation),
        "invitation_token": unused.split("/")[-1],
        "resume_token": resume.group(0).split("/")[-1],
        "filename": "checker.css",
        "staff_id": str(newcomer_id),
        "password_token": password_token,
    }
    yield Site(app, clients, args, inbox)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _who(endpoint: str) -> str:
    if endpoint == "clinic.second_step":
        return "enrolling"
    if endpoint.startswith("clinic.") and endpoint != "clinic.set_password":
        return "staff"
    return {
        "questionnaire.emergency": "stopped",
        "questionnaire.saved": "saver",
        "questionnaire.request_sent": "patient",
        "questionnaire.result": "again",  # a follow-up: the earlier score is shown too
        "questionnaire.invitation": "fresh",
        "questionnaire.resume": "fresh",
        "clinic.set_password": "fresh",
    }.get(endpoint, "walker")


FHIR_READS = [
    ("Questionnaire", "synkinesis-self-check"),
    ("Questionnaire", "synkinesis-self-check-2026.1"),
    *(("Questionnaire", f"grading-{scale}") for scale in SCALES),
    *(("CodeSystem", name) for name in ["result", "cause", "saq_eye_smile", "saq-eye-smile"]),
    *(("ValueSet", name) for name in ["cause", "treatments"]),
    ("OperationDefinition", "QuestionnaireResponse-assess"),
    ("NamingSystem", "submission"),
]


def _urls(site: Site) -> list[tuple[str, str]]:
    """(endpoint, URL) for every GET route, each page id of the question pages."""
    rules = site.app.extensions["checker.rules"]
    urls = []
    for rule in site.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint == "clinic.sign_in":
            urls.append((rule.endpoint, "/staff/sign-in"))  # for a person not signed in
            continue
        if rule.endpoint == "api.fhir_read":  # each definition at its id and its canonical address
            urls += [(rule.endpoint, rule.build({"kind": k, "name": n})[1]) for k, n in FHIR_READS]  # type: ignore[index]
            continue
        choices: dict[str, list[str]] = {}
        for name in rule.arguments:
            if name == "page_id":
                choices[name] = [p.id for p in rules.pages]
            elif name == "kind":  # FHIR searches of definitions
                choices[name] = ["Questionnaire", "CodeSystem", "ValueSet", "OperationDefinition", "NamingSystem"]
            elif name == "scale_id":
                choices[name] = list(SCALES)
            elif name == "token":
                key = {"questionnaire.resume": "resume_token", "clinic.set_password": "password_token"}.get(
                    rule.endpoint, "invitation_token"
                )
                choices[name] = [site.args[key]]
            else:
                assert name in site.args, f"{rule.endpoint}: the test does not know how to open <{name}>"
                choices[name] = [site.args[name]]
        if not choices:
            urls.append((rule.endpoint, rule.build({})[1]))  # type: ignore[index]
        for name, values in choices.items():
            for value in values:
                others = {k: v[0] for k, v in choices.items() if k != name}
                urls.append((rule.endpoint, rule.build({**others, name: value})[1]))  # type: ignore[index]
    return urls


def _text_of(response: Any, language: str) -> str:
    if response.mimetype == "application/pdf":
        return pdf_text(response.data)
    if response.is_json:
        data = json.loads(response.data)
        if isinstance(data, dict) and data.get("resourceType") in DEVELOPER_RESOURCES:
            return ""  # definitions for integrators, in English like the API's own documentation
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":  # a search: the same, found
            entries = data.get("entry", [])
            data["entry"] = [e for e in entries if e.get("resource", {}).get("resourceType") not in DEVELOPER_RESOURCES]
        return "\n".join(_strings(data, language))
    if response.mimetype == "text/html":
        return visible_text(response.get_data(as_text=True), language)
    return ""


DEVELOPER_RESOURCES = ("OperationDefinition", "CapabilityStatement", "NamingSystem")
NOT_WORDS = {"code", "system", "url", "valueCode", "linkId", "expression", "reference", "fullUrl", "id", "value"}
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def _translation(element: Any, language: str) -> str | None:
    """The text a FHIR translation extension (or a CodeSystem designation) gives for ``language``."""
    for extension in (element or {}).get("extension", []) if isinstance(element, dict) else []:
        if extension.get("url") == TRANSLATION:
            parts = {e["url"]: e for e in extension.get("extension", [])}
            if parts.get("lang", {}).get("valueCode") == language:
                return str(parts["content"]["valueString"])
    return None


def _strings(value: Any, language: str = "en") -> Iterator[str]:
    """The words in JSON, as a reader of ``language`` sees them (FHIR translations taken up)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("_") or key in NOT_WORDS:
                continue
            if language != "en" and isinstance(item, str) and f"_{key}" in value:
                yield _translation(value[f"_{key}"], language) or item
            elif language != "en" and key == "display" and "designation" in value:
                yield next((d["value"] for d in value["designation"] if d.get("language") == language), item)
            elif key != "designation":
                yield from _strings(item, language)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, language)


def test_every_get_route_in_both_languages(site: Site) -> None:
    language = _language(site)
    failures: list[str] = []
    seen = set()
    for endpoint, url in _urls(site):
        client = site.clients["fresh"] if endpoint == "clinic.sign_in" else site.clients[_who(endpoint)]
        with client.get(url, headers={"Accept-Language": language}, follow_redirects=True) as response:
            seen.add(endpoint)
            if response.status_code >= 500:
                failures.append(f"{url}: {response.status_code}")
                continue
            failures += [f"{url}: {problem}" for problem in problems_in(_text_of(response, language), language)]
    assert {"questionnaire.urgent", "clinic.submission_pdf", "questionnaire.result_pdf", "clinic.second_step"} <= seen
    assert not failures, "\n".join(failures)


def _language(site: Site) -> str:
    page = site.clients["walker"].get("/").get_data(as_text=True)
    found = re.search(r'<html lang="(\w+)"', page)
    assert found
    return found.group(1)


def test_every_error_page_in_both_languages(site: Site) -> None:
    language = _language(site)
    failures = []
    errors = [BadRequest(), Forbidden(), NotFound(), MethodNotAllowed(), RequestEntityTooLarge(), TooManyRequests()]
    errors += [ServiceUnavailable(), InternalServerError(), reports.BUSY, reports.TOO_SLOW, reports.NOT_SET_UP]
    for error in errors:
        for path in ("/questions/safety", "/staff/", "/api/v1/assess"):
            with site.app.test_request_context(path, headers={"Accept-Language": language}):
                # A PDF refused: its words are made in the request's language.
                shown_error = error if isinstance(error, HTTPException) else reports.PdfUnavailable(str(error))
                body, code = handle_http_error(shown_error)
                text = body if isinstance(body, str) else body.get_data(as_text=True)
                shown = (
                    "\n".join(_strings(json.loads(text))) if path.startswith("/api/") else visible_text(text, language)
                )
                assert code == shown_error.code
                failures += [f"{shown_error.code} at {path}: {p}" for p in problems_in(shown, language)]
    # And the real thing for the commonest one.
    missing = site.clients["walker"].get("/no-such-page", headers={"Accept-Language": language})
    assert missing.status_code == 404
    failures += problems_in(visible_text(missing.get_data(as_text=True), language), language)
    assert not failures, "\n".join(failures)


def test_the_clinic_emails_in_both_languages(site: Site) -> None:
    language = _language(site)
    subjects = [mail["Subject"] for mail in site.inbox.messages]
    # An urgent check through a link, a consultation request, the follow-up (urgent too), a stop.
    assert len(subjects) == 4, subjects
    for mail in site.inbox.messages:
        text = htmllib.unescape(f"{mail['Subject']}\n{mail.get_payload(decode=True).decode()}")
        assert problems_in(text, language) == []


def test_the_checks_find_what_they_look_for() -> None:
    """The detectors themselves: each catches what it is for, and passes clean Spanish."""
    assert problems_in("Paso {step} de 7", "es")
    assert problems_in("400{}nd", "en")
    assert problems_in("Llame al %(number)s", "es")
    assert problems_in("Deal with this first. The rest of this page can wait.", "es")
    assert problems_in("You can see your answers and the result of this check.", "es")
    assert problems_in("Sus respuestas se parecen más a: Sincinesia establecida", "es") == []
    page = '<html lang="es"><p>Hola</p><ul lang="en"><li>The title of the paper</li></ul><input type="text"></html>'
    assert visible_text(page, "es") == "Hola"


HOSTILE_QUERIES = [
    "page=-1", "after=abc", "after=-5", "after=9" * 30, "show=%ff", "show=../../etc", "show=%ED%A0%80",
    "q=%ff%fe", "q=%E2%80%AE", "q=%ED%A0%80", "q=" + "x" * 5000, "lang=xx", "lang=es&lang=en", "lang=",
    "then=//evil.example", "then=" + "a" * 3000, "change=1&change=2", "next=//evil.example", "next=http://evil",
    "trace=1", "_format=bundle", "_format=xml", "%ff=%ff", "a[]=1", "page_id=x&endpoint=y&_method=DELETE",
]  # fmt: skip


def test_no_get_route_fails_on_a_hostile_query_string(site: Site) -> None:
    failures = []
    for (endpoint, url), query in itertools.product(_urls(site), HOSTILE_QUERIES):
        client = site.clients["fresh"] if endpoint == "clinic.sign_in" else site.clients[_who(endpoint)]
        address = f"{url}{'&' if '?' in url else '?'}{query}"
        with client.get(address, follow_redirects=True) as response:
            response.get_data()
            if response.status_code >= 500:
                failures.append(f"{address[:120]}: {response.status_code}")
    assert not failures, "\n".join(failures)


JUNK_FORMS = [
    {}, {"action": "save"}, {"action": "%ff"}, {"email": "a" * 5000}, {"email": "a@b.example\r\nBcc: x@y.example"},
    {"email": "x@y.example", "role": "owner"}, {"role": ["staff", "admin"]}, {"label": "\u202e" * 300},
    {"note": "a" * 70_000}, {"assignee": "999999"}, {"assignee": "abc"}, {"code": "1" * 100}, {"password": "x"},
    {"days": "-1"}, {"days": "9" * 20}, {"language": ["en", "es"]}, {"name": "\x00"}, {"then": "//evil.example"},
]  # fmt: skip


def _form_token(client: FlaskClient) -> str:
    """A valid form token of this client's session, from the first page that shows a form."""
    for url in ("/staff/", "/questions/safety", "/check-answers"):
        with client.get(url, follow_redirects=True) as page:
            html = page.get_data(as_text=True)
        if 'name="csrf_token"' in html:
            return csrf_token(html)
    raise AssertionError("no page shows this client a form")


def test_no_post_route_fails_on_a_junk_form(site: Site) -> None:
    """Every POST route, with a valid form token and fields missing, oversized, doubled or strange."""
    failures = []
    for rule in site.app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        values = {**site.args, "page_id": "safety", "token": site.args["invitation_token"], "action": "disable"}
        url = rule.build({name: values[name] for name in rule.arguments})[1]  # type: ignore[index]
        client = site.clients[_who(rule.endpoint)]
        token = _form_token(client)
        for form in JUNK_FORMS:
            with client.post(url, data={"csrf_token": token, **form}) as response:
                response.get_data()
                if response.status_code >= 500:
                    failures.append(f"{url} {str(form)[:60]}: {response.status_code}")
    assert not failures, "\n".join(failures)
