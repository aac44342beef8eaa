"""The command line of SPEC section 5, run as a person or a script would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from .conftest import ROOT, RULES_PATH, VIGNETTES

FLASK = [sys.executable, "-m", "flask", "--app", "checker"]


def run(args: list[str], stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        FLASK + args,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_assess_from_standard_input() -> None:
    case = VIGNETTES[4]
    done = run(["assess", "-"], json.dumps({"answers": case["answers"]}))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing else said: no library announcing its plugins, no warning
    body = json.loads(done.stdout)
    assert body["outcome"] == "stage-3"
    assert body["saq"] == {"total": 44.4}


def test_assess_from_a_file(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"answers": VIGNETTES[2]["answers"]}))
    result = app.test_cli_runner().invoke(args=["assess", str(path)])
    assert result.exit_code == 0
    assert json.loads(result.output)["triage"] == "emergency"


def test_assess_with_trace(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"answers": VIGNETTES[0]["answers"]}))
    result = app.test_cli_runner().invoke(args=["assess", "--trace", str(path)])
    assert json.loads(result.output)["trace"]["outcome_rules"][-1] == {
        **json.loads(result.output)["trace"]["outcome_rules"][-1],
        "outcome": "stage-1",
        "result": True,
    }


@pytest.mark.parametrize(
    ("stdin", "errors"),
    [
        ("not json", {"body": "not valid JSON"}),
        ('{"answers": {"rf_eye": "maybe"}}', None),
        ("", {"body": "not valid JSON"}),
    ],
)
def test_assess_invalid_input_prints_errors_and_exits_1(app: Flask, stdin: str, errors: Any) -> None:
    result = app.test_cli_runner().invoke(args=["assess", "-"], input=stdin)
    assert result.exit_code == 1
    body = json.loads(result.output)
    if errors is not None:
        assert body == {"errors": errors}
    else:
        assert body["errors"]["rf_eye"] == "'maybe' is not one of: yes, no"
        assert body["errors"]["cause"] == "an answer is required"


def test_assess_missing_file(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["assess", str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert "cannot read" in json.loads(result.output)["errors"]["file"]


def test_rules_check_default_file() -> None:
    done = run(["rules", "check"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("rules.yaml: OK: version 2026.2")


def test_rules_check_works_while_the_apps_rules_are_broken(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(RULES_PATH.read_text().replace("is: consistent", "is: consistant"))
    env = {"CHECKER_RULES_PATH": str(broken)}
    checked = run(["rules", "check"], env=env)
    assert checked.returncode == 1
    assert "(did you mean 'consistent'?)" in checked.stdout
    assert checked.stdout.startswith(f"{broken}:")
    good = run(["rules", "check", str(RULES_PATH)], env=env)
    assert good.returncode == 0
    # The app itself refuses to start, with the problem and no traceback.
    refused = run(["assess", "-"], "{}", env=env)
    assert refused.returncode == 1
    assert "(did you mean 'consistent'?)" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout


MAIL = {"CHECKER_MAIL_SERVER": "127.0.0.1", "CHECKER_CLINIC_EMAIL": "desk@clinic.example",
        "CHECKER_BASE_URL": "https://selfcheck.clinic.example"}  # fmt: skip


@pytest.mark.parametrize(
    "command", [["staff", "list"], ["staff", "create", "lead@clinic.example"], ["purge"], ["outbox", "run", "--once"]]
)
def test_database_commands_explain_a_missing_or_empty_database_in_one_line(tmp_path: Path, command: list[str]) -> None:
    """Before anything is asked: an operator does not type a new password twice to learn this."""
    missing, empty = tmp_path / "no-such-folder" / "x.db", tmp_path / "empty.db"
    for url, message in [
        (f"sqlite:///{missing}", "Error: the database cannot be reached (OperationalError)"),
        (f"sqlite:///{empty}", "Error: the database has no tables yet: run 'flask --app checker db upgrade'"),
    ]:
        done = run(command, env={**MAIL, "CHECKER_DATABASE_URL": url})
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        assert message in done.stderr


def test_the_outbox_worker_outlives_a_database_outage(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A round the database fails is logged, and the next round goes on sending."""
    from sqlalchemy.exc import OperationalError

    from checker import mail, outreach

    rounds = iter([OperationalError("SELECT", {}, Exception("server closed the connection")), (1, 0)])

    def send_due() -> tuple[int, int]:
        outcome = next(rounds)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    class Stop(Exception):
        pass

    def sleep(seconds: float) -> None:
        if next(pauses) == 1:  # after the round that sent
            raise Stop

    pauses = iter(range(10))
    monkeypatch.setattr(mail, "send_due", send_due)
    monkeypatch.setattr(mail, "patient_mail_configured", lambda: True)
    monkeypatch.setattr(outreach, "run_due", lambda: (0, 0))
    monkeypatch.setattr(mail.time, "sleep", sleep)
    result = app.test_cli_runner().invoke(args=["outbox", "run"])
    assert isinstance(result.exception, Stop)  # still running after the failed round, until stopped
    assert result.output.strip().endswith("checker: sent 1, failed 0"), result.output  # a time-stamped log line


def test_db_upgrade_explains_a_database_it_cannot_reach(tmp_path: Path) -> None:
    done = run(["db", "upgrade"], env={"CHECKER_DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Error: the database cannot be reached (OperationalError): check CHECKER_DATABASE_URL" in done.stderr
