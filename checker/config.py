"""Configuration: defaults in code, then ``CHECKER_*`` environment variables, then tests'.

Checked at start-up, so a wrong setting stops the app with a clear message instead of
failing later in front of a patient.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask

from .settings import DEFAULTS, SECRETS, SERVER_SETTINGS
from .settings import PROJECT_ROOT as PROJECT_ROOT  # where the app's modules look for it


class StartupError(click.ClickException, RuntimeError):
    """The app cannot start: a broken rules file or a wrong setting.

    A click exception, so ``flask`` commands print the message without a traceback, and a
    RuntimeError, which gunicorn prints as one line before it exits.
    """


# Settings that are numbers: (smallest, largest). Retention under 30 days would purge records
# the clinic has not had time to act on.
WHOLE_NUMBERS: dict[str, tuple[int, int]] = {
    "INVITATION_DAYS": (1, 365),
    "INVITE_DAYS_BEFORE": (0, 90),
    "WORKLIST_UNOPENED_DAYS": (0, 30),
    "DRAFT_DAYS": (1, 365),
    "RETENTION_DAYS": (30, 36500),
    "SIGN_IN_ATTEMPTS": (1, 100),
    "LOCKOUT_MINUTES": (1, 1440),
    "STAFF_IDLE_MINUTES": (1, 1440),
    "STAFF_SESSION_HOURS": (1, 168),
    "MAIL_PORT": (1, 65535),
    "PROXIES": (0, 10),
    "PDF_CONCURRENCY": (1, 64),
    "PDF_TIME_LIMIT": (1, 25),
}
YES_NO = ("MAIL_USE_TLS", "RATELIMIT_ENABLED", "DATABASE_TRANSACTION_POOLER", "CAMERA_CHECK")
RATE_LIMITS = ("RATE_LIMIT_API", "RATE_LIMIT_QUESTIONS", "RATE_LIMIT_SIGN_IN", "RATE_LIMIT_REQUESTS", "RATE_LIMIT_PDF")
# The rate-limit storages the limits library and the installed Redis client can use.
RATE_LIMIT_STORAGES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")
MIN_KEY_LENGTH = 43  # 32 random bytes, base64-encoded (64 as hex)
MIN_KEY_BITS = 128  # by key_strength(): random 32-byte keys score 230 or more; runs and repeats under 40
MAX_KEY_WORDS = 0.3  # of the key's characters in words of 4 letters or more (random keys: under 0.2)
KEY_SCORED = 100  # characters of a key that are judged (zxcvbn slows on long input)
KEY_CHARACTER_KINDS = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation + " ")


def check_settings(config: dict[str, Any]) -> None:
    """Every setting of a known kind, in range; one line naming the variable otherwise."""
    for name, (smallest, largest) in WHOLE_NUMBERS.items():
        value = config[name]
        if isinstance(value, str) and value.strip().isdigit():
            value = config[name] = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not smallest <= value <= largest:
            raise StartupError(f"CHECKER_{name} must be a whole number from {smallest} to {largest}, not {value!r}")
    for name in YES_NO:
        value = config[name]
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            value = config[name] = value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise StartupError(f"CHECKER_{name} must be true or false, not {value!r}")
    from limits import parse_many

    for name in RATE_LIMITS:
        try:
            parse_many(str(config[name]))
        except ValueError:
            raise StartupError(
                f"CHECKER_{name} must be a rate limit such as '10 per minute; 50 per hour', not {config[name]!r}"
            ) from None
    config["METRICS_ALLOW"] = _networks(config["METRICS_ALLOW"])
    uri = str(config["RATELIMIT_STORAGE_URI"])
    scheme, found, rest = uri.partition("://")
    if not found or scheme.lower() not in RATE_LIMIT_STORAGES:
        raise StartupError(
            f"CHECKER_RATELIMIT_STORAGE_URI must be memory:// or a storage such as redis://host:6379/0, not {uri!r}"
        )
    config["RATELIMIT_STORAGE_URI"] = f"{scheme.lower()}://{rest}"  # MEMORY:// is memory://, everywhere
    if config["DATABASE_URL"]:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(str(config["DATABASE_URL"]))
        except ArgumentError:
            raise StartupError(
                "CHECKER_DATABASE_URL is not a database URL (for example postgresql+psycopg://user:pass@host/db)"
            ) from None
    base = str(config["BASE_URL"])
    if base and (not base.startswith(("https://", "http://")) or base.rstrip("/").count("/") > 2):
        raise StartupError(f"CHECKER_BASE_URL must be the site's address, like https://selfcheck.example, not {base!r}")
    fhir_base = str(config["FHIR_BASE"])
    if fhir_base and (not fhir_base.startswith("https://") or fhir_base.endswith("/") or " " in fhir_base):
        raise StartupError(
            f"CHECKER_FHIR_BASE must be an https address without a trailing slash, like "
            f"https://selfcheck.example/api/v1/fhir, not {fhir_base!r}"
        )
    for issuer in str(config["SMART_ISSUERS"]).split():
        if not secure_address(issuer) or issuer.endswith("/"):
            raise StartupError(
                "CHECKER_SMART_ISSUERS holds the EHRs' FHIR base addresses (https, without a trailing slash), "
                f"separated by spaces, like https://ehr.example/fhir/r4, not {issuer!r}"
            )
    if config["SMART_ISSUERS"] and not config["SMART_CLIENT_ID"]:
        raise StartupError(
            "CHECKER_SMART_ISSUERS is set: CHECKER_SMART_CLIENT_ID (the id the EHR gave this app) is needed"
        )
    if config["SMART_ISSUERS"] and not config["BASE_URL"]:
        raise StartupError(
            "CHECKER_SMART_ISSUERS is set: CHECKER_BASE_URL is needed too (the EHR sends people back to its "
            "/ehr/callback, and checks filed in the EHR name this site's questionnaire)"
        )
    for origin in str(config["CORS_ORIGINS"]).split():
        if not origin.startswith(("https://", "http://")) or origin.rstrip("/").count("/") > 2 or origin.endswith("/"):
            raise StartupError(
                f"CHECKER_CORS_ORIGINS holds origins separated by spaces, like https://ehr.example, not {origin!r}"
            )


def secure_address(url: str) -> bool:
    """An https address, or http on this machine's loopback (development and tests)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname or " " in url:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"))


def unknown_settings(environ: Mapping[str, str], known: set[str]) -> list[str]:
    """``CHECKER_*`` variables that no part of the app reads: a typo stays unnoticed otherwise."""
    from .engine.problems import did_you_mean

    names = {f"CHECKER_{k}" for k in known | set(SERVER_SETTINGS)}
    return [
        f"{name} is not a setting{did_you_mean(name, sorted(names))}"
        for name in sorted(environ)
        if name.startswith("CHECKER_") and name not in names
    ]


def key_strength(key: str) -> tuple[float, float]:
    """An estimate of a key's entropy in bits, and the share of it that is words.

    zxcvbn splits the key into what it recognises (words, runs such as "abcdef", keyboard rows,
    repeats, dates), each worth the guesses it would take, and the rest, worth its characters'
    kinds. 32 random bytes come to 230 bits or more as hex or base64; a sentence about a key is
    mostly words.
    """
    from zxcvbn import zxcvbn

    bits, in_words = 0.0, 0
    for match in zxcvbn(key[:KEY_SCORED])["sequence"]:
        token = match["token"]
        if match["pattern"] == "bruteforce":
            kinds = sum(len(kind) for kind in KEY_CHARACTER_KINDS if any(c in kind for c in token))
            bits += len(token) * math.log2(kinds or 95)
        else:
            bits += math.log2(max(float(match["guesses"]), 1.0))
            in_words += len(token) if match["pattern"] == "dictionary" and len(token) >= 4 else 0
    return bits, in_words / min(len(key), KEY_SCORED)


def check_secret_key(key: str) -> None:
    """Production keys: long and random, judged by their entropy, not by a list of words."""
    bits, in_words = key_strength(key) if len(key) >= MIN_KEY_LENGTH else (0.0, 0.0)
    if bits < MIN_KEY_BITS or in_words > MAX_KEY_WORDS:
        raise StartupError(
            "CHECKER_SECRET_KEY is too short, or not random enough (words, runs or repeats): use 32 random "
            "bytes, for example the output of 'python -c \"import secrets; print(secrets.token_hex(32))\"'"
        )


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Layer the configuration onto ``app`` and check it."""
    app.config.from_mapping(DEFAULTS)
    for key in SECRETS:
        app.config[key] = None
    unknown = unknown_settings(os.environ, set(DEFAULTS) | set(SECRETS))
    if unknown:
        raise StartupError("; ".join(unknown))
    app.config.from_prefixed_env("CHECKER")
    if test_config:
        app.config.from_mapping(test_config)
    check_settings(app.config)
    if app.config["ENV"] not in ("development", "production"):
        raise StartupError(f"CHECKER_ENV must be 'development' or 'production', not {app.config['ENV']!r}")
    if not app.config["SECRET_KEY"]:
        if app.config["ENV"] == "production":
            raise StartupError(
                "CHECKER_SECRET_KEY must be set in production (for example to the output of "
                "'python -c \"import secrets; print(secrets.token_hex(32))\"')"
            )
        app.config["SECRET_KEY"] = _development_key(Path(app.instance_path))
    elif app.config["ENV"] == "production":
        check_secret_key(str(app.config["SECRET_KEY"]))
    if app.config["ENV"] == "production" and not app.config["BASE_URL"]:
        raise StartupError(
            "CHECKER_BASE_URL must be set in production, like https://selfcheck.clinic.example: links to copy "
            "and emails start there, never at the address a request claims (its Host header)"
        )
    if app.config["MAIL_SERVER"] and not app.config["BASE_URL"]:
        raise StartupError(
            "CHECKER_BASE_URL must be set when mail is configured: links in emails to the clinic start there, "
            "never at the address a request claims"
        )
    if app.config["TWO_FACTOR"] is None:
        app.config["TWO_FACTOR"] = "required" if app.config["ENV"] == "production" else "optional"
    if app.config["TWO_FACTOR"] not in ("required", "optional"):
        raise StartupError(f"CHECKER_TWO_FACTOR must be 'required' or 'optional', not {app.config['TWO_FACTOR']!r}")
    if app.config["CLINIC_LANGUAGE"] not in app.config["LANGUAGES"]:
        raise StartupError(
            f"CHECKER_CLINIC_LANGUAGE must be one of {', '.join(app.config['LANGUAGES'])}, "
            f"not {app.config['CLINIC_LANGUAGE']!r}"
        )
    app.config["REMINDER_DAYS"] = _reminder_days(app.config["REMINDER_DAYS"])
    app.config["PAPER_SIZE"] = str(app.config["PAPER_SIZE"]).strip().lower()
    if app.config["PAPER_SIZE"] not in ("letter", "a4"):
        raise StartupError(f"CHECKER_PAPER_SIZE must be 'letter' or 'a4', not {app.config['PAPER_SIZE']!r}")
    if app.config["LOG_FORMAT"] not in ("text", "json"):
        raise StartupError(f"CHECKER_LOG_FORMAT must be 'text' or 'json', not {app.config['LOG_FORMAT']!r}")
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    try:
        ZoneInfo(str(app.config["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise StartupError(f"CHECKER_TIMEZONE is not a time zone: {app.config['TIMEZONE']!r}") from None
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    if not str(app.config["EMERGENCY_NUMBER"]).strip():
        raise StartupError("CHECKER_EMERGENCY_NUMBER cannot be empty")
    booking = str(app.config["CLINIC_BOOKING_URL"])
    if booking and not booking.startswith(("https://", "http://")):
        raise StartupError(f"CHECKER_CLINIC_BOOKING_URL must start with https:// or http://, not {booking!r}")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> tuple[Network, ...]:
    """CHECKER_METRICS_ALLOW: addresses or networks separated by spaces (none: nobody)."""
    if isinstance(value, tuple):  # checked already
        return value
    networks = []
    for part in str(value).split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise StartupError(
                f"CHECKER_METRICS_ALLOW holds addresses or networks separated by spaces: {part!r} is not an "
                "address or a network such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


def _reminder_days(value: Any) -> tuple[int, ...]:
    """CHECKER_REMINDER_DAYS: up to two whole numbers of days, rising ("3,7"); empty for none."""
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        days = tuple(int(part) for part in parts)
    except ValueError:
        days = ()
        parts.append("?")
    rising = list(days) == sorted(set(days))
    if len(parts) != len(days) or len(days) > 2 or any(not 1 <= d <= 90 for d in days) or not rising:
        raise StartupError(
            "CHECKER_REMINDER_DAYS must be up to two rising numbers of days from 1 to 90, "
            f"like 3,7 (or empty), not {text!r}"
        )
    return days


def _development_key(instance: Path) -> str:
    """A random key kept in the instance folder, so sessions survive a restart."""
    path = instance / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        instance.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
            fh.write(key)
        return key
