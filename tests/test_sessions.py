"""The session cookie: plain JSON, signed, and readable after a key rotation."""

from __future__ import annotations

import random
from datetime import date

import pytest
from flask import Flask
from flask_babel import lazy_gettext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from checker import create_app
from checker.engine import RuleSet
from checker.web.sessions import PlainJSON

from .conftest import TEST_CONFIG, VIGNETTES, walk


def test_plain_json_keeps_lazy_text_and_refuses_other_objects() -> None:
    plain = PlainJSON()
    assert plain.loads(plain.dumps({"_flashes": [("info", lazy_gettext("Sign in"))]})) == {
        "_flashes": [["info", "Sign in"]]
    }
    assert plain.dumps({"note": "señal"}) == '{"note":"señal"}'  # UTF-8, compact
    assert plain.loads('{"note":"señal"}'.encode()) == {"note": "señal"}  # as bytes too
    with pytest.raises(TypeError, match="date cannot be kept"):
        plain.dumps({"when": date(2026, 1, 1)})


def test_cookies_from_flasks_tagged_json_still_read() -> None:
    """A staff member with a message waiting when the app was upgraded still gets a page."""
    legacy = '{"_flashes":[{" t":["info","Marked as reviewed."]}],"answers":{"a":[1,2]},"note":{" m":"<b>x</b>"}}'
    assert PlainJSON().loads(legacy) == {
        "_flashes": [["info", "Marked as reviewed."]],
        "answers": {"a": [1, 2]},
        "note": "<b>x</b>",
    }
    assert PlainJSON().loads('{"kept":{" t":[1],"other":2}}') == {"kept": {" t": [1], "other": 2}}


def test_answers_survive_a_key_rotation_only_with_the_old_key_as_fallback() -> None:
    case = VIGNETTES[0]
    old = create_app({**TEST_CONFIG, "SECRET_KEY": "old-key"})
    client = old.test_client()
    walk(client, old.extensions["checker.rules"], case["answers"])
    cookie = client.get_cookie("session")
    assert cookie is not None

    def result_page(secret: str, fallbacks: list[str]) -> bool:
        app = create_app({**TEST_CONFIG, "SECRET_KEY": secret, "SECRET_KEY_FALLBACKS": fallbacks})
        browser = app.test_client()
        browser.set_cookie("session", cookie.value)
        return "Your answers are most like" in browser.get("/result").get_data(as_text=True)

    assert result_page("new-key", ["old-key"])
    assert not result_page("new-key", [])  # not signed with the current key: answers are not trusted


def test_cookies_are_compressed_only_when_large_with_a_small_window_and_read_both_ways() -> None:
    """A whole questionnaire's codes stay plain (compressing them cost more than the bytes it
    saved); a long note is compressed, with a 4 KB window (zlib's default 32 KB one cost ten times
    the compressing). Both are what itsdangerous writes, so Flask's own reader takes them, and a
    cookie Flask wrote before still reads."""
    from base64 import urlsafe_b64decode

    from flask.sessions import SecureCookieSessionInterface

    case = VIGNETTES[0]
    app = create_app(TEST_CONFIG)
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flasks is not None
    for notes, compressed in (("", False), ("My eye closes when I smile, worse when tired. " * 20, True)):
        client = app.test_client()
        walk(client, app.extensions["checker.rules"], {**case["answers"], "notes": notes})
        cookie = client.get_cookie("session")
        assert cookie is not None
        assert cookie.value.startswith(".") is compressed, len(cookie.value)
        if compressed:
            stream = urlsafe_b64decode(cookie.value[1:].split(".")[0] + "==")
            assert stream[0] >> 4 == 4  # zlib's header: a 4 KB window (2 ** (4 + 8)), not 32 KB
            assert len(cookie.value) < len(notes)
        session = flasks.loads(cookie.value)
        assert len(session["answers"]) >= 10
        assert session["answers"].items() <= {**case["answers"], "notes": notes}.items()

        written_by_flask = flasks.dumps(session)
        assert written_by_flask.startswith(".")  # Flask compresses whatever the size
        assert written_by_flask != cookie.value
        browser = app.test_client()
        browser.set_cookie("session", written_by_flask)
        assert "Your answers are most like" in browser.get("/result").get_data(as_text=True)


# Text as people type it, and the characters that cost most in JSON: quotes, backslashes, control
# characters (six bytes each as escapes) and four-byte characters, which compress worst; short,
# and up to the longest note.
ASTRAL = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)
TYPED = st.tuples(st.sampled_from([0, 10, 100, 400, 700, 1000]), st.booleans()).flatmap(
    lambda size_and_astral: st.text(
        alphabet=ASTRAL if size_and_astral[1] else st.one_of(st.sampled_from('ab c"\\\n\x01\x1fñ€'), ASTRAL),
        min_size=size_and_astral[0],
        max_size=size_and_astral[0],
    )
)


_chooser = random.Random(7)  # noqa: S311 - test data, not secrets
ASTRAL_NOTE = "".join(chr(_chooser.randint(0x10000, 0x10FFFF)) for _ in range(1000))  # too much for a cookie


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kept=TYPED, typed=TYPED, language_changed=st.booleans())
@example(kept="", typed=ASTRAL_NOTE, language_changed=False)  # refused after compressing
@example(kept=ASTRAL_NOTE[:600], typed=ASTRAL_NOTE[:700], language_changed=False)  # read compressed: no short way
def test_whether_a_note_fits_in_the_cookie_is_judged_exactly(
    app: Flask, rules: RuleSet, kept: str, typed: str, language_changed: bool
) -> None:
    """The check before saving a page answers exactly whether the cookie it will write stays
    under the browser's limit, whether it takes the short way (the size the cookie was read at
    and a bound on what the page adds) or encodes the whole session again."""
    from flask import session

    from checker.questionnaire.journey import ANSWERS_KEY, COOKIE_LIMIT, answers_with, fits_in_browser

    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    stored = {"csrf_token": "a" * 40, ANSWERS_KEY: {**VIGNETTES[0]["answers"], "notes": kept}}
    cookie = signer.dumps(stored)
    page = rules.page("notes")
    assert page is not None
    with app.test_request_context("/questions/notes", method="POST", headers={"Cookie": f"session={cookie}"}):
        assert session[ANSWERS_KEY]["notes"] == kept
        if language_changed:
            session["lang"] = "es"
        saved = {**dict(session), ANSWERS_KEY: answers_with(session[ANSWERS_KEY], page, {"notes": typed})}
        assert fits_in_browser(page, {"notes": typed}) is (len(signer.dumps(saved)) <= COOKIE_LIMIT)


def test_only_a_cookie_with_a_valid_signature_gives_a_size_to_trust(app: Flask) -> None:
    """The size the cookie was read at is known only for a cookie that opened: a tampered one
    opens an empty session with no size, so it cannot make a long note look short."""
    from flask import session

    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    stored = {"csrf_token": "a" * 40, "answers": {"rf_eye": "no"}}
    cookie = signer.dumps(stored)
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
        assert session.read_size == len(PlainJSON().dumps(stored).encode())  # type: ignore[attr-defined]
    tampered = "e30" + cookie[3:]  # another payload under the same stamp and signature
    with app.test_request_context("/", headers={"Cookie": f"session={tampered}"}):
        assert dict(session) == {}
        assert session.read_size is None  # type: ignore[attr-defined]
