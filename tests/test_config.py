"""Configuration: defaults, environment, and refusals at start-up."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from checker import create_app
from checker.config import StartupError, configure
from checker.engine.evaluate import _percent


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(StartupError, match="CHECKER_SECRET_KEY must be set in production"):
        create_app({"ENV": "production", "SECRET_KEY": None})


STRONG_KEY = "5f1c0e9a7b3d28c64e0f9a1b7c3d5e2f8a6b4c0d9e1f3a5b7c9d0e2f4a6b8c1d"


def test_production_marks_cookies_secure() -> None:
    app = create_app({"ENV": "production", "SECRET_KEY": STRONG_KEY, "BASE_URL": "https://selfcheck.clinic.example"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"EMERGENCY_NUMBER": " "}, "CHECKER_EMERGENCY_NUMBER cannot be empty"),
        ({"CLINIC_BOOKING_URL": "javascript:alert(1)"}, "must start with https:// or http://"),
        ({"ENV": "staging"}, "CHECKER_ENV must be 'development' or 'production'"),
    ],
)
def test_wrong_settings_stop_the_app(setting: dict[str, str], message: str) -> None:
    with pytest.raises(StartupError, match=message):
        create_app({"SECRET_KEY": "x", **setting})


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECKER_CLINIC_NAME", "Harbour Facial Therapy")
    monkeypatch.setenv("CHECKER_EMERGENCY_NUMBER", "999")
    app = create_app({"SECRET_KEY": "x"})
    html = app.test_client().get("/").get_data(as_text=True)
    assert "Harbour Facial Therapy" in html
    assert "<strong>999</strong>" in html


def test_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    from flask import Flask

    first, second = Flask("a", instance_path=str(tmp_path)), Flask("b", instance_path=str(tmp_path))
    configure(first, None)
    configure(second, None)
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("part", "whole", "decimals", "expected"),
    [(12, 45, 1, 26.7), (9, 45, 1, 20.0), (45, 45, 1, 100.0), (1, 8, 1, 12.5), (1, 16, 1, 6.3), (1, 3, 2, 33.33)],
)
def test_percent_rounds_half_up(part: int, whole: int, decimals: int, expected: float) -> None:
    assert _percent(part, whole, decimals) == expected


def test_time_zone_is_checked_and_used() -> None:
    from datetime import UTC, datetime

    from checker.web.i18n import staff_time

    with pytest.raises(StartupError, match="CHECKER_TIMEZONE is not a time zone"):
        create_app({"SECRET_KEY": "x", "TIMEZONE": "Mars/Olympus"})
    app = create_app({"SECRET_KEY": "x", "TIMEZONE": "America/Chicago"})
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "America/Chicago"
    with app.test_request_context("/"):
        assert staff_time(datetime(2026, 12, 3, 16, 30, tzinfo=UTC)) == "3 Dec 2026, 10:30 CST"  # the zone is named
    with app.test_request_context("/?lang=es"):
        summer = datetime(2026, 7, 3, 16, 30, tzinfo=UTC)
        assert staff_time(summer) == "3 jul 2026, 11:30 CDT"  # as written in the US, not "-0500"


def test_paper_size_is_checked() -> None:
    assert create_app({"SECRET_KEY": "x"}).config["PAPER_SIZE"] == "letter"
    assert create_app({"SECRET_KEY": "x", "PAPER_SIZE": " A4 "}).config["PAPER_SIZE"] == "a4"
    with pytest.raises(StartupError, match="CHECKER_PAPER_SIZE must be 'letter' or 'a4', not 'legal'"):
        create_app({"SECRET_KEY": "x", "PAPER_SIZE": "legal"})


@pytest.mark.parametrize(
    "key",
    ["...", "a-real-secret", "change-me-to-something-long-and-random-please-xx", "a" * 64, "0123456789" * 3,
     "my-secret-key-for-the-clinic-0123456789abcdefghijkl", "<paste 32 random bytes here, base64 please!!>",
     "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", "qwertyuiopasdfghjklzxcvbnm1234567890QWERTYUIOP",
     "0123456789abcdef" * 4, "aB3$" * 12, "correct horse battery staple and some more words here",
     "my-production-signing-key-for-the-facial-nerve-clinic-2026!"],
)  # fmt: skip
def test_production_refuses_weak_or_placeholder_keys(key: str) -> None:
    with pytest.raises(StartupError, match="CHECKER_SECRET_KEY is too short, or not random enough"):
        create_app({"ENV": "production", "SECRET_KEY": key, "BASE_URL": "https://selfcheck.clinic.example"})


@pytest.mark.parametrize(
    "make", [lambda: secrets.token_hex(32), lambda: secrets.token_urlsafe(32), lambda: base64.b64encode(os.urandom(32))]
)
def test_production_takes_every_random_key_its_generators_make(make: Callable[[], Any]) -> None:
    """The strength check must never refuse what the guide's command gives: 300 keys of each kind."""
    from checker.config import check_secret_key

    for _ in range(300):
        key = make()
        check_secret_key(key.decode() if isinstance(key, bytes) else key)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SIGN_IN_ATTEMPTS", "abc", "CHECKER_SIGN_IN_ATTEMPTS must be a whole number from 1 to 100, not 'abc'"),
        ("MAIL_PORT", "abc", "CHECKER_MAIL_PORT must be a whole number from 1 to 65535"),
        ("RETENTION_DAYS", "abc", "CHECKER_RETENTION_DAYS must be a whole number from 30"),
        ("RETENTION_DAYS", "0", "CHECKER_RETENTION_DAYS must be a whole number from 30 to 36500, not 0"),
        ("PROXIES", "abc", "CHECKER_PROXIES must be a whole number from 0 to 10"),
        ("MAIL_USE_TLS", "maybe", "CHECKER_MAIL_USE_TLS must be true or false"),
        ("RATE_LIMIT_API", "lots", "CHECKER_RATE_LIMIT_API must be a rate limit"),
        ("DATABASE_URL", "not a url", "CHECKER_DATABASE_URL is not a database URL"),
        ("BASE_URL", "selfcheck.example", "CHECKER_BASE_URL must be the site's address"),
        ("CLINIC_LANGUAGE", "fr", "CHECKER_CLINIC_LANGUAGE must be one of en, es, not 'fr'"),
        ("SIGN_IN_ATEMPTS", "5", "CHECKER_SIGN_IN_ATEMPTS is not a setting \\(did you mean 'CHECKER_SIGN_IN_ATTEMPTS'"),
    ],
)  # fmt: skip
def test_each_bad_setting_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"CHECKER_{variable}", value)
    with pytest.raises(StartupError, match=message) as caught:
        create_app({"SECRET_KEY": "x"})
    assert "\n" not in caught.value.message


def test_mail_needs_a_base_url_for_its_links() -> None:
    with pytest.raises(StartupError, match="CHECKER_BASE_URL must be set when mail is configured"):
        create_app({"SECRET_KEY": "x", "MAIL_SERVER": "127.0.0.1", "CLINIC_EMAIL": "desk@clinic.example"})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("SIGN_IN_ATTEMPTS", "abc", "CHECKER_SIGN_IN_ATTEMPTS must be a whole number"),
     ("RULES_PATH", "BROKEN", "the rules file has problems; the app cannot start"),
     ("WORKERS", "four", "CHECKER_WORKERS must be a whole number from 1 to 256, not 'four'"),
     ("THREADS", "0", "CHECKER_THREADS must be a whole number from 1 to 64, not '0'"),
     ("MAX_REQUESTS", "-1", "CHECKER_MAX_REQUESTS must be a whole number from 0 to 10000000, not '-1'")],
)  # fmt: skip
def test_gunicorn_reports_a_bad_start_without_a_traceback(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    if value == "BROKEN":
        broken = tmp_path / "rules.yaml"
        broken.write_text((root / "rules.yaml").read_text(encoding="utf-8").replace("at_least: 4", "at_least: four"))
        value = str(broken)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    env = {**os.environ, "CHECKER_BIND": "127.0.0.1:0", "CHECKER_WORKERS": "1", f"CHECKER_{variable}": value}
    done = subprocess.run(
        [str(gunicorn), "-c", "gunicorn.conf.py", "checker:create_app()"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert message in done.stderr


def test_production_needs_the_base_url_even_without_mail() -> None:
    """Without it, links to copy would follow the Host header a request claims."""
    with pytest.raises(StartupError, match="CHECKER_BASE_URL must be set in production"):
        create_app({"ENV": "production", "SECRET_KEY": STRONG_KEY})


@pytest.mark.parametrize("uri", ["MEMORY://", "Memory://"])
def test_rate_limit_storage_schemes_are_read_in_any_case(uri: str) -> None:
    app = create_app({"SECRET_KEY": "x", "RATELIMIT_STORAGE_URI": uri})
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize("uri", ["memcache://host", "redis:/localhost", "localhost:6379", "async+redis://h"])
def test_an_unsupported_rate_limit_storage_stops_start_up_in_one_line(uri: str) -> None:
    with pytest.raises(StartupError, match="CHECKER_RATELIMIT_STORAGE_URI must be memory:// or a storage"):
        create_app({"SECRET_KEY": "x", "RATELIMIT_STORAGE_URI": uri})
