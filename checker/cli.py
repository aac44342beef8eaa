"""Command-line interface: ``flask --app checker assess`` and ``flask rules check``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext

from .config import DEFAULTS
from .engine import AnswerErrors, RulesError, assess, load_rules
from .payload import parse_document
from .retention import purge_command
from .rules import current_rules


def init_app(app: Flask) -> None:
    app.cli.add_command(assess_command)
    app.cli.add_command(purge_command)


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
def check_command(path: str | None) -> None:
    """Validate a rules file (default: the app's) and run its worked cases.

    Prints every problem as PATH:LINE:COLUMN: message and exits 1 if there are any.
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
