"""The session cookie: plain JSON, signed, and readable after a key rotation."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import lazy_gettext

from checker import create_app
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


def test_cookies_are_compressed_with_a_small_window_and_read_both_ways() -> None:
    """zlib's default window cost ten times the compressing; the cookie is the same standard
    stream, so Flask's own reader takes it, and a cookie Flask wrote before still reads."""
    from base64 import urlsafe_b64decode

    from flask.sessions import SecureCookieSessionInterface

    case = VIGNETTES[0]
    app = create_app(TEST_CONFIG)
    client = app.test_client()
    walk(client, app.extensions["checker.rules"], case["answers"])
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.value.startswith(".")
    stream = urlsafe_b64decode(cookie.value[1:].split(".")[0] + "==")
    assert stream[0] >> 4 == 4  # zlib's header: a 4 KB window (2 ** (4 + 8)), not 32 KB
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flasks is not None
    session = flasks.loads(cookie.value)
    assert len(session["answers"]) >= 10
    assert session["answers"].items() <= case["answers"].items()

    written_by_flask = flasks.dumps(session)
    assert written_by_flask.startswith(".")
    assert written_by_flask != cookie.value
    browser = app.test_client()
    browser.set_cookie("session", written_by_flask)
    assert "Your answers are most like" in browser.get("/result").get_data(as_text=True)
