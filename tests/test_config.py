"""Configuration: defaults, environment, and refusals at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker import create_app
from checker.config import StartupError, configure
from checker.engine.evaluate import _percent


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(StartupError, match="CHECKER_SECRET_KEY must be set in production"):
        create_app({"ENV": "production", "SECRET_KEY": None})


def test_production_marks_cookies_secure() -> None:
    app = create_app({"ENV": "production", "SECRET_KEY": "a-real-secret"})
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
    with pytest.raises(StartupError, match="CHECKER_TIMEZONE is not a time zone"):
        create_app({"SECRET_KEY": "x", "TIMEZONE": "Mars/Olympus"})
    app = create_app({"SECRET_KEY": "x", "TIMEZONE": "America/Chicago"})
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "America/Chicago"
