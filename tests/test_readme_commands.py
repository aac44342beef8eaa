"""The README's three commands, as a newcomer copies them, on a fresh clone: they end in a
signed-in staff inbox full of the demo clinic."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.conftest import csrf_token
from tests.databases import free_port

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The commands of the README's "Try it" block, without their comments."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Try it: three commands\n.*?```sh\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "the README has no 'Try it: three commands' block"
    return [line.split("#")[0].strip() for line in block[1].splitlines() if line.strip()]


def test_the_three_commands_reach_a_signed_in_inbox_of_the_demo_clinic(tmp_path: Path) -> None:
    commands = readme_commands()
    assert commands == ["scripts/setup", ".venv/bin/flask --app checker demo", "scripts/run"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)  # noqa: S607  (what is committed)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKER_", "VIRTUAL_ENV", "FLASK_"))}
    setup = subprocess.run(commands[0], shell=True, cwd=clone, env=env, capture_output=True, text=True)  # noqa: S602
    assert setup.returncode == 0, setup.stderr[-2000:]
    demo = subprocess.run(commands[1], shell=True, cwd=clone, env=env, capture_output=True, text=True)  # noqa: S602
    assert demo.returncode == 0, demo.stderr[-2000:]
    password = re.search(r"as lead@clinic\.example with the password (\S+)", demo.stdout)
    assert password is not None, demo.stdout
    port = free_port()
    run = subprocess.Popen(  # noqa: S602  (the README's own command, with a free port for the test)
        f"{commands[2]} --port {port}", shell=True, cwd=clone, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        browser = requests.Session()
        page = browser.get(base + "/staff/sign-in", timeout=10)
        data = {"csrf_token": csrf_token(page.text), "email": "lead@clinic.example", "password": password[1]}
        inbox = browser.post(base + "/staff/sign-in", data=data, timeout=30)
        assert inbox.url.rstrip("/").endswith("/staff")
        assert "Safety worklist: 3 items to acknowledge" in inbox.text
        assert "MRN-310277" in inbox.text
        assert "Rosa Delgado" in inbox.text
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=30)
