"""Every setting the app and its server read: its name, default and what it means.

The one place a setting is defined: :mod:`checker.config` takes the defaults from here,
``gunicorn.conf.py`` its own, and the operators' guide's table of settings is generated from
these definitions (``scripts/docs``), so the documentation cannot drift from the code.
Pure Python: importing it loads nothing else of the app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Setting(NamedTuple):
    """One ``CHECKER_<name>`` environment variable."""

    name: str
    default: Any
    meaning: str  # Markdown, for the operators' guide
    group: str
    shown: str = ""  # the default as the guide words it, when it depends on the machine or other settings


SETTINGS: tuple[Setting, ...] = (
    # The site
    Setting("ENV", "development", "`production` requires a strong secret key and `CHECKER_BASE_URL`, and marks "
            "cookies `Secure`", "site"),
    Setting("SECRET_KEY", None, "signs sessions and form tokens, and makes emailed links; in production 32 random "
            "bytes or more (43+ characters), judged by their entropy: words, runs and repeats are refused", "site",
            "made once and kept in `instance/secret_key` (development only)"),
    Setting("SECRET_KEY_FALLBACKS", None, "earlier secret keys still accepted for sessions while a new one takes "
            "over, as a JSON list (`[\"the old key\"]`)", "site", "none"),
    Setting("BASE_URL", "", "the site's address, e.g. `https://selfcheck.clinic.example`: links in emails and links "
            "to copy start here (required in production, with mail, and with SMART launch)", "site"),
    Setting("TIMEZONE", "UTC", "the clinic's time zone for dates shown, e.g. `America/Chicago`; staff pages name "
            "it (\"10:30 CST\")", "site"),
    Setting("RULES_PATH", str(PROJECT_ROOT / "rules.yaml"), "the rules file to load (checked at start-up)", "site",
            "`rules.yaml` in the project folder"),
    Setting("CAMERA_CHECK", True, "offer the optional camera check after the linked-movements page (when "
            "`scripts/setup` installed its model)", "site"),
    Setting("LANGUAGES", ["en", "es"], "the languages offered (each needs a compiled catalogue)", "site"),
    Setting("BABEL_DEFAULT_LOCALE", "en", "the language when the browser asks for none of those offered", "site"),
    # The clinic
    Setting("CLINIC_NAME", "Facial Nerve Clinic", "shown in the header, the booking prompt, emails and exports",
            "clinic"),
    Setting("CLINIC_PHONE", "", "shown as a tap-to-call link on the result and in emails", "clinic"),
    Setting("CLINIC_ADDRESS", "", "shown on the result", "clinic"),
    Setting("CLINIC_BOOKING_URL", "", "a \"Book online\" button on the result; must start with `https://` or "
            "`http://`", "clinic"),
    Setting("EMERGENCY_NUMBER", "911", "the number on the emergency page and in every footer (cannot be empty)",
            "clinic"),
    Setting("ACCESSIBILITY_CONTACT", "", "where people report access problems (the accessibility statement)",
            "clinic", "the clinic's email or phone"),
    Setting("CLINIC_EMAIL", "", "where the clinic's notices go: a new consultation request, a stop at the "
            "emergency page or advice for today on a link, an urgent result (needs `CHECKER_MAIL_SERVER`)", "clinic"),
    Setting("CLINIC_LANGUAGE", "en", "the language of the clinic's emails and of checks filed in an EHR (`en` or "
            "`es`), whatever the patient's", "clinic"),
    Setting("PAPER_SIZE", "letter", "the paper of every PDF: `letter` or `a4`", "clinic"),
    # Links, reminders and records
    Setting("INVITATION_DAYS", 30, "how long a new clinic link stays valid (staff can change it per link; 1 to 365)",
            "links"),
    Setting("REMINDER_DAYS", "3,7", "days after a link's email that reminders go (at most two, rising; empty for "
            "none)", "links"),
    Setting("INVITE_DAYS_BEFORE", 7, "a clinic list's invitations are emailed this many days before each "
            "appointment (0 to 90; the upload form can change it)", "links"),
    Setting("WORKLIST_UNOPENED_DAYS", 2, "a link not opened this many days before its appointment goes on the "
            "safety worklist (0 to 30)", "links"),
    Setting("DRAFT_DAYS", 30, "how long saved answers are kept for resuming (1 to 365)", "links"),
    Setting("RETENTION_DAYS", 365, "submissions, requests and gradings older than this are purged (30 to 36500)",
            "links"),
    # Staff sign-in
    Setting("SIGN_IN_ATTEMPTS", 5, "refused staff sign-ins (one account, one address) before sign-in waits",
            "staff"),
    Setting("LOCKOUT_MINUTES", 15, "the longest wait, doubling from a minute", "staff"),
    Setting("STAFF_IDLE_MINUTES", 30, "a staff session ends after this long without a request", "staff"),
    Setting("STAFF_SESSION_HOURS", 12, "and this long after sign-in, whatever happens", "staff"),
    Setting("TWO_FACTOR", None, "`required`: every staff account signs in with a code from an authenticator app; "
            "`optional`: only accounts that set one up", "staff", "`required` in production, `optional` in "
            "development"),
    # Storage
    Setting("DATABASE_URL", None, "any SQLAlchemy URL, e.g. `postgresql+psycopg://user:pass@host/db`", "storage",
            "SQLite in `instance/checker.db`"),
    Setting("DATABASE_TRANSACTION_POOLER", False, "`true` when that URL is PgBouncer in transaction mode: no "
            "prepared statements", "storage"),
    # Email
    Setting("MAIL_SERVER", "", "the SMTP server for links, reminders and the clinic's notices; empty: nothing is "
            "sent and nothing breaks", "mail"),
    Setting("MAIL_PORT", 25, "its port", "mail"),
    Setting("MAIL_USE_TLS", False, "STARTTLS to it", "mail"),
    Setting("MAIL_USERNAME", "", "the user to sign in to it as", "mail"),
    Setting("MAIL_PASSWORD", None, "and its password", "mail", "none"),
    Setting("MAIL_FROM", "", "the sender's address", "mail"),
    # EHR and API
    Setting("FHIR_BASE", "", "the `https` base of the FHIR canonical URLs, no trailing slash", "ehr",
            "`CHECKER_BASE_URL` + `/api/v1/fhir`"),
    Setting("CORS_ORIGINS", "", "browser apps on other origins that may call `/api/v1/`, space-separated, e.g. "
            "`https://ehr.example`", "ehr"),
    Setting("SMART_ISSUERS", "", "the FHIR bases of the EHRs the app may be launched from (SMART App Launch), "
            "space-separated; empty: no launch", "ehr"),
    Setting("SMART_CLIENT_ID", "", "the client id the EHR registered this app under (needed with "
            "`CHECKER_SMART_ISSUERS`)", "ehr"),
    Setting("SMART_CLIENT_SECRET", None, "for a confidential client (`client_secret_basic`); none: a public client, "
            "PKCE only", "ehr", "none"),
    Setting("SMART_SCOPES", "launch openid fhirUser patient/Patient.r patient/QuestionnaireResponse.c "
            "patient/Observation.c", "what the app asks the EHR for (a standalone launch asks `launch/patient` "
            "instead of `launch`)", "ehr"),
    # Limits
    Setting("MAX_CONTENT_LENGTH", 64 * 1024, "the largest request body in bytes; larger ones get a 413", "limits"),
    Setting("RATELIMIT_ENABLED", True, "`false` turns every rate limit off (for a load test)", "limits"),
    Setting("RATELIMIT_STORAGE_URI", "memory://", "where rate-limit counts are kept: `memory://`, or e.g. "
            "`redis://host:6379/0` to share them between workers and instances", "limits"),
    Setting("RATE_LIMIT_API", "120 per minute", "each client's calls to `/api/`", "limits"),
    Setting("RATE_LIMIT_QUESTIONS", "120 per minute", "each client's question-page posts", "limits"),
    Setting("RATE_LIMIT_SIGN_IN", "10 per minute; 50 per hour", "each client's staff sign-in posts", "limits"),
    Setting("RATE_LIMIT_REQUESTS", "5 per minute; 30 per hour", "each client's consultation requests (only those "
            "about to be stored count)", "limits"),
    Setting("RATE_LIMIT_PDF", "6 per minute; 60 per hour", "each client's PDFs, on every PDF route: rendering is "
            "the costliest work", "limits"),
    Setting("PDF_CONCURRENCY", max(1, (os.cpu_count() or 2) // 2), "PDFs rendered at once on this machine "
            "(1 to 64); one asked for while all are busy gets a 503 at once", "limits", "half the cores, at least 1"),
    Setting("PDF_TIME_LIMIT", 15, "seconds of CPU and of wall time for one PDF (1 to 25: under gunicorn's 30 s)",
            "limits"),
    # Operations
    Setting("LOG_FORMAT", "text", "`json`: one JSON object a line, for log collectors", "operations"),
    Setting("METRICS_ALLOW", "127.0.0.1 ::1", "addresses or networks that may read `/metrics`, space-separated "
            "(empty: nobody)", "operations"),
    Setting("PROXIES", 0, "reverse proxies in front of the app whose `X-Forwarded-*` headers to trust (0 to 10)",
            "operations"),
    # Framework settings kept fixed here
    Setting("SESSION_COOKIE_HTTPONLY", True, "the session cookie is hidden from scripts", "framework"),
    Setting("SESSION_COOKIE_SAMESITE", "Lax", "the session cookie is not sent on other sites' posts", "framework"),
    Setting("WTF_CSRF_TIME_LIMIT", None, "form tokens live as long as the session", "framework", "none"),
)  # fmt: skip

# Read by gunicorn.conf.py, not by the app.
SERVER: tuple[Setting, ...] = (
    Setting("BIND", "127.0.0.1:8000", "the address and port gunicorn listens on", "server"),
    Setting("WORKERS", (os.cpu_count() or 1) * 2 + 1, "worker processes (1 to 256)", "server",
            "2 × cores + 1"),
    Setting("THREADS", 4, "threads a worker (1 to 64): a request waiting on a PDF or the database holds up no "
            "other", "server"),
    Setting("PRELOAD", "1", "`0`: each worker loads the app itself instead of being forked from a loaded master",
            "server"),
    Setting("MAX_REQUESTS", 0, "recycle a worker after this many requests (0: never; recycling closes its "
            "keep-alive connections)", "server"),
    Setting("FORWARDED_ALLOW_IPS", "127.0.0.1", "the reverse proxy's address, whose forwarded headers gunicorn "
            "trusts", "server"),
)  # fmt: skip

GROUPS = {
    "site": "The site",
    "clinic": "The clinic",
    "links": "Links, reminders and records",
    "staff": "Staff sign-in",
    "storage": "Storage",
    "mail": "Email",
    "ehr": "EHR, FHIR and the API",
    "limits": "Limits",
    "operations": "Logs, metrics and proxies",
    "server": "The server (gunicorn.conf.py)",
    "framework": "Fixed framework settings",
}

# Never defaulted: set through the environment (development makes its own secret key).
SECRETS = ("SECRET_KEY", "MAIL_PASSWORD", "SMART_CLIENT_SECRET")
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS if s.name not in SECRETS}
SERVER_SETTINGS = tuple(s.name for s in SERVER)


def server_default(name: str) -> Any:
    """A gunicorn setting's default."""
    return next(s.default for s in SERVER if s.name == name)


def shown_default(setting: Setting) -> str:
    """The default as the guide shows it."""
    if setting.shown:
        return setting.shown
    value = setting.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "empty"
    if isinstance(value, list):
        return f"`{','.join(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    """The operators' guide's page of settings, in Markdown, grouped as above."""
    lines = [
        "# Every setting",
        "",
        "<!-- Generated from checker/settings.py by 'scripts/docs settings': edit the definitions there, not this "
        "page. -->",
        "",
        "Every setting is an environment variable starting with `CHECKER_`; the defaults need none. Each is "
        "checked at start-up, and a wrong one stops the app with one line naming the variable; so does any "
        '`CHECKER_` name the app does not know (with a "did you mean").',
    ]
    for group, title in GROUPS.items():
        lines += ["", f"## {title}", "", "| variable | default | meaning |", "|---|---|---|"]
        for setting in (*SETTINGS, *SERVER):
            if setting.group == group:
                meaning = setting.meaning.replace("|", "\\|")
                lines.append(f"| `CHECKER_{setting.name}` | {shown_default(setting)} | {meaning} |")
    return "\n".join(lines) + "\n"
