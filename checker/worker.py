"""The outbox worker without the web stack: ``python -m checker.worker [--once] [--every SECONDS]``.

It does what ``flask --app checker outbox run`` does (scheduled follow-up links, link emails
and reminders, then the outbox), in an app made of what that needs: the settings, the rules,
the database, the translations, the log stream, and the one address it writes into emails.
No pages, forms, API, PDFs or migrations are loaded (the ``flask`` command line loads every
command's module, Alembic's among them), so it costs about half the memory.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flask import Flask

from . import made_to_last, register_rules
from .config import PROJECT_ROOT, StartupError, configure

# The page a link in an email opens. The web app routes it (questionnaire/links.py); a test
# holds the two to the same address.
LINK_ENDPOINT, LINK_RULE = "questionnaire.invitation", "/i/<token>"
FHIR_ENDPOINT, FHIR_RULE = "api.fhir_root", "/api/v1/fhir"


def create_worker_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app as the outbox worker needs it; :class:`StartupError` as ``create_app``."""
    return made_to_last(_build, test_config)


def _build(test_config: dict[str, Any] | None) -> Flask:
    """Settings, logs, rules, database, languages and the link route: what sending needs."""
    from . import db, urls
    from .web import i18n, logs

    app = Flask(
        "checker", template_folder=str(PROJECT_ROOT / "templates"), instance_path=str(PROJECT_ROOT / "instance")
    )
    configure(app, test_config)
    urls.init_app(app)
    logs.init_app(app)
    register_rules(app)
    db.init_app(app)
    i18n.init_app(app)
    app.add_url_rule(LINK_RULE, endpoint=LINK_ENDPOINT, build_only=True)
    app.add_url_rule(FHIR_RULE, endpoint=FHIR_ENDPOINT, build_only=True)  # the canonical names filed in an EHR
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m checker.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="Send what is due now, then stop.")
    parser.add_argument("--every", type=float, default=5.0, help="Seconds between rounds (default 5).")
    options = parser.parse_args(argv)
    try:
        app = create_worker_app()
    except StartupError as exc:
        sys.exit(f"Error: {exc.message}")
    from sqlalchemy.exc import DBAPIError

    from .db import database_problem
    from .mail import run_outbox

    with app.app_context():
        try:
            run_outbox(options.once, options.every)
        except DBAPIError as exc:  # --once: one line, as the flask commands say it
            sys.exit(f"Error: {database_problem(exc)}")
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
