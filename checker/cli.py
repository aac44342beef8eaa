"""Command-line interface: ``flask --app checker assess`` and ``flask rules check``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext

from .backups import backup_command, restore_command
from .engine import AnswerErrors, RulesError, RuleSet, assess, load_rules
from .mail import outbox_group
from .payload import parse_document
from .retention import purge_command
from .rules import current_rules
from .settings import DEFAULTS


def init_app(app: Flask) -> None:
    from .clinic.accounts.cli import staff_group
    from .demo import demo_command

    app.cli.add_command(staff_group)
    app.cli.add_command(assess_command)
    app.cli.add_command(purge_command)
    app.cli.add_command(outbox_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(demo_command)


def _print_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.command("assess")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--trace", is_flag=True, help="Also print every condition that decided the result.")
@with_appcontext
def assess_command(file: str, trace: bool) -> None:
    """Assess the answers in FILE ('-' for standard input): {"answers": {...}}.

    Prints the same JSON as POST /api/v1/assess and exits 0; on invalid answers prints
    {"errors": {...}} and exits 1.
    """
    try:
        if file == "-":
            raw: bytes = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as fh:
                raw = fh.read()
    except OSError as exc:
        _print_json({"errors": {"file": f"cannot read {file}: {exc.strerror}"}})
        sys.exit(1)
    try:
        result = assess(current_rules(), parse_document(raw))
    except AnswerErrors as exc:
        _print_json({"errors": exc.errors})
        sys.exit(1)
    _print_json(result.to_json(trace=trace))


@click.group("rules")
def rules_group() -> None:
    """Check a rules file."""


@rules_group.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--against-database",
    is_flag=True,
    help="Also list the stored submissions these rules would read differently from what was shown.",
)
def check_command(path: str | None, against_database: bool) -> None:
    """Validate a rules file (default: the app's) and run its worked cases.

    Prints every problem as PATH:LINE:COLUMN: message and exits 1 if there are any. With
    --against-database, then runs the rules on every stored submission (CHECKER_DATABASE_URL)
    and lists those whose result would differ from the one stored and shown.
    """
    path = path or os.environ.get("CHECKER_RULES_PATH") or DEFAULTS["RULES_PATH"]
    try:
        rules = load_rules(path)
    except RulesError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        click.echo(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found", err=True)
        sys.exit(1)
    click.echo(
        f"{rules.path}: OK: version {rules.version}, {len(rules.pages)} pages, {len(rules.questions)} questions, "
        f"{len(rules.red_flags)} red flags, {len(rules.outcome_rules)} outcome rules, "
        f"{len(rules.cases)} worked cases agree (sha256 {rules.sha256[:12]})"
    )
    if against_database:
        for line in stored_readings(rules, _database_url()):
            click.echo(line)


def _database_url() -> str:
    """The app's database from its settings, without loading the app (its rules may be broken)."""
    from .config import PROJECT_ROOT, configure
    from .db import database_url

    settings = Flask("checker-rules-check", instance_path=str(PROJECT_ROOT / "instance"))
    configure(settings, None)
    return database_url(settings.config)


def stored_readings(rules: RuleSet, url: str) -> list[str]:
    """One line for each stored submission ``rules`` would read differently, then a summary."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.exc import SQLAlchemyError

    from .models import Submission

    query = select(Submission.id, Submission.answers, Submission.result, Submission.rules_version)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(Submission.id)).all()
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot read the stored submissions ({type(exc).__name__}): is the database there and upgraded "
            "('flask --app checker db upgrade')?"
        ) from None
    finally:
        engine.dispose()
    lines = []
    for submission_id, answers, stored, version in rows:
        where = f"submission {submission_id} (rules {version})"
        try:
            now = assess(rules, answers)
        except AnswerErrors as exc:
            lines.append(f"{where}: needs answers it does not have or does not accept: {', '.join(sorted(exc.errors))}")
            continue
        saq = stored.get("saq") or {}
        before = {"outcome": stored.get("outcome"), "triage": stored.get("triage"),
                  "red flags": stored.get("red_flags"), "SAQ": saq.get("total")}  # fmt: skip
        after = {"outcome": now.outcome, "triage": now.triage, "red flags": list(now.red_flags), "SAQ": now.saq_total}
        changes = [f"{key} {before[key]} -> {after[key]}" for key in before if before[key] != after[key]]
        if changes:
            lines.append(f"{where}: {'; '.join(changes)}")
    lines.append(f"{len(rows)} stored submissions: {len(rows) - len(lines)} read the same, {len(lines)} differently")
    return lines
