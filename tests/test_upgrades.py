"""Upgrades without downtime: the previous release's code runs on this release's schema.

The previous release is the code just before the newest migration was added (git knows it: the
parent of the commit that added the head migration, or this checkout's last commit while the
migration is not committed yet). Its own code and its own test helpers, from git, run in a
subprocess against a database migrated to this release's head: a link made by staff, answered
and sent by a patient, a consultation request, the inbox. This release's code then reads what
the old one wrote. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from checker.db import MIGRATIONS, db
from checker.models import ConsultationRequest, Invitation, Submission

from .conftest import ROOT, make_staff, sign_in

OLD_CODE_RUNS = textwrap.dedent(
    """
    import sys
    from tests.conftest import TEST_CONFIG, VIGNETTES, make_staff, sign_in, csrf_token
    from tests.test_clinic import answer_link, make_invitation
    from checker import create_app
    from checker.engine import load_rules

    app = create_app({**TEST_CONFIG, "DATABASE_URL": sys.argv[1]})
    rules = load_rules("rules.yaml")
    answers = next(case for case in VIGNETTES if case["name"] == "nine-months-established")["answers"]
    make_staff(app, email="old.release@clinic.example")
    staff = app.test_client()
    assert sign_in(staff, email="old.release@clinic.example").status_code == 302
    link = make_invitation(staff, label="made by the previous release")
    patient = app.test_client()
    sent = answer_link(patient, link, rules, answers)
    assert sent.status_code == 302, sent.status_code
    walker = app.test_client()
    form = walker.get("/request-consultation").get_data(as_text=True)
    request = {"csrf_token": csrf_token(form), "name": "Old Release", "phone": "555 010 0000",
               "contact_time": "any", "consent": "y"}
    assert walker.post("/request-consultation", data=request).status_code == 302
    inbox = staff.get("/staff/")
    assert inbox.status_code == 200, inbox.status_code
    assert "made by the previous release" in staff.get("/staff/invitations").get_data(as_text=True)
    print("the previous release read and wrote")
    """
)


def git(*args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr.decode(errors='replace')}"
    return done.stdout


def previous_release() -> str:
    """The commit of the code that ran before the newest migration."""
    head = sorted(MIGRATIONS.glob("versions/*.py"))[-1].relative_to(ROOT)
    added = git("log", "--diff-filter=A", "--format=%H", "-1", "--", str(head)).decode().strip()
    if not added:  # not committed yet: the last commit is the previous release
        return git("rev-parse", "HEAD").decode().strip()
    shallow = git("rev-parse", "--is-shallow-repository").decode().strip() == "true"
    assert not shallow or subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{added}^"]).returncode == 0, (
        "this clone is shallow: the previous release's code is not in it (git fetch --unshallow)"
    )
    return git("rev-parse", f"{added}^").decode().strip()


def test_the_previous_release_reads_and_writes_on_the_new_schema(
    db_app: Flask, database_url: str, tmp_path: Path
) -> None:
    release = previous_release()
    with tarfile.open(fileobj=io.BytesIO(git("archive", "--format=tar", release))) as archive:
        archive.extractall(tmp_path / "previous", filter="data")
    old = tmp_path / "previous"
    assert (old / "checker").is_dir()
    pybabel = Path(sys.executable).with_name("pybabel")  # its catalogues, compiled as its setup does
    subprocess.run([str(pybabel), "compile", "-d", "checker/translations"], cwd=old, check=True, capture_output=True)
    with db_app.app_context():
        db.engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(old)}
    env = {key: value for key, value in env.items() if not key.startswith("CHECKER_")}
    ran = subprocess.run(
        [sys.executable, "-c", OLD_CODE_RUNS, database_url], cwd=old, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, f"the previous release ({release[:12]}) failed on the new schema:\n{ran.stderr[-4000:]}"
    assert "the previous release read and wrote" in ran.stdout
    with db_app.app_context():  # and this release reads what it wrote
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 1
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 1
        assert db.session.scalar(select(Invitation.label)) == "made by the previous release"
        db.session.remove()
        db.engine.dispose()
    make_staff(db_app)
    staff = db_app.test_client()
    assert sign_in(staff).status_code == 302
    assert "made by the previous release" in staff.get("/staff/invitations").get_data(as_text=True)
