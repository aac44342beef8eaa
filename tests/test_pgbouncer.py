"""The app through PgBouncer in transaction mode (Debian's pgbouncer, a throwaway one).

Each transaction may run on another server connection, so nothing may live on one between
transactions: psycopg's prepared statements would (``CHECKER_DATABASE_TRANSACTION_POOLER``
turns them off). Staff and patients work at once through a pool of two server connections,
each query repeated well past psycopg's threshold for preparing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from checker import create_app
from checker.db import db
from checker.models import Submission

from .conftest import TEST_CONFIG, VIGNETTES, at_once, make_staff, sign_in
from .databases import PostgresServer, free_port
from .test_clinic import answer_link, make_invitation

NINE_MONTHS = next(case for case in VIGNETTES if case["name"] == "nine-months-established")


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if found is None:
        raise RuntimeError("PgBouncer was not found: install it (Debian: apt-get install pgbouncer)")
    return found


@pytest.fixture
def pooled(postgres: PostgresServer) -> Iterator[str]:
    """A PgBouncer in transaction mode with two server connections; its database URL."""
    direct = postgres.new_database()
    name = direct.rsplit("/", 1)[1]
    folder = Path(tempfile.mkdtemp(prefix="checker-pgbouncer-"))
    port = free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{name} = host=127.0.0.1 port={postgres.port} dbname={name}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\npool_mode = transaction\n"
        f"default_pool_size = 2\nmax_client_conn = 100\nlogfile = {folder / 'log'}\npidfile = {folder / 'pid'}\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    as_root = os.geteuid() == 0
    if as_root:  # PgBouncer refuses to run as root
        folder.chmod(0o755)
        for path in (folder, *folder.iterdir()):
            shutil.chown(path, "postgres")
    command = [pgbouncer_binary(), str(folder / "pgbouncer.ini")]
    process = subprocess.Popen(["runuser", "-u", "postgres", "--", *command] if as_root else command,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname={name}", connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"PgBouncer did not start: {(folder / 'log').read_text(errors='replace')}") from None
            time.sleep(0.05)
    migrate = create_app({**TEST_CONFIG, "DATABASE_URL": direct})  # migrations on a direct connection
    with migrate.app_context():
        upgrade()
        db.engine.dispose()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_staff_and_patients_work_at_once_through_pgbouncer_in_transaction_mode(pooled: str) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": pooled, "DATABASE_TRANSACTION_POOLER": True})
    rules = app.extensions["checker.rules"]
    make_staff(app)
    staff = app.test_client()
    assert sign_in(staff).status_code == 302
    links = [make_invitation(staff, label=f"through the pooler {n}") for n in range(6)]

    def patient(link: str) -> int:
        return int(answer_link(app.test_client(), link, rules, NINE_MONTHS["answers"]).status_code)

    def inbox() -> int:
        return max(staff.get(path).status_code for path in ("/staff/", "/staff/invitations", "/readyz") * 4)

    answers = at_once([partial(patient, link) for link in links] + [inbox, inbox])
    assert answers == [302] * len(links) + [200, 200]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == len(links)
        db.session.remove()
        db.engine.dispose()
