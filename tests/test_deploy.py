"""The deploy/ folder: a compose file and an nginx configuration that fit the app's settings."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.settings import DEFAULTS, SECRETS, SERVER_SETTINGS

from .conftest import ROOT

DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_two_instances_the_outbox_and_nginx_on_postgresql_and_redis() -> None:
    services = compose()["services"]
    assert {"db", "redis", "migrate", "app1", "app2", "outbox", "nginx"} <= set(services)
    for name in ("app1", "app2", "outbox", "migrate"):
        environment = services[name]["environment"]
        assert environment["CHECKER_ENV"] == "production"
        assert environment["CHECKER_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["CHECKER_RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
        assert environment["CHECKER_PROXIES"] == "1"
        assert "ports" not in services[name]  # only nginx is reachable from outside
    assert services["outbox"]["command"] == ["python", "-m", "checker.worker"]
    assert services["app1"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_sets_only_settings_the_app_knows() -> None:
    """A misspelt variable would stop the app at start-up; catch it here instead."""
    known = {f"CHECKER_{name}" for name in set(DEFAULTS) | set(SECRETS) | set(SERVER_SETTINGS)}
    for name in compose()["services"]["app1"]["environment"]:
        assert name in known, name
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    for name in re.findall(r"^(CHECKER_\w+)=", example, flags=re.MULTILINE):
        assert name in known, name


def test_nginx_buffers_times_out_and_sets_the_forwarded_headers() -> None:
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for line in [
        "server app1:8000",
        "server app2:8000",
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "client_body_timeout 10s;",
        "proxy_read_timeout 35s;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "ssl_certificate /etc/nginx/tls/fullchain.pem;",
    ]:
        assert line in conf, line
    # nginx's read time-out is longer than gunicorn's, so the app's own answer arrives first.
    gunicorn_settings = (ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    gunicorn_timeout = int(re.search(r"^timeout = (\d+)", gunicorn_settings, re.M).group(1))  # type: ignore[union-attr]
    assert gunicorn_timeout < 35
    # nginx gives up an idle upstream connection before gunicorn closes it.
    gunicorn_keepalive = int(re.search(r"^keepalive = (\d+)", gunicorn_settings, re.M).group(1))  # type: ignore[union-attr]
    upstream = re.search(r"upstream checker \{(.*?)\}", conf, re.S).group(1)  # type: ignore[union-attr]
    nginx_keepalive = int(re.search(r"keepalive_timeout (\d+)s;", upstream).group(1))  # type: ignore[union-attr]
    assert nginx_keepalive < gunicorn_keepalive


# What a clinic sets about itself and its mail: the compose file must pass each one through,
# and env.example must offer it, or a deployment silently runs on the default.
CLINIC_SETTINGS = (
    "CLINIC_NAME", "CLINIC_PHONE", "CLINIC_ADDRESS", "CLINIC_BOOKING_URL", "CLINIC_EMAIL", "CLINIC_LANGUAGE",
    "EMERGENCY_NUMBER", "TIMEZONE", "PAPER_SIZE", "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USERNAME",
    "MAIL_PASSWORD", "MAIL_FROM", "REMINDER_DAYS", "INVITE_DAYS_BEFORE", "WORKLIST_UNOPENED_DAYS", "LOG_FORMAT",
    "METRICS_ALLOW", "DATABASE_TRANSACTION_POOLER",
)  # fmt: skip


def test_compose_passes_every_clinic_setting_and_its_defaults_start_the_app() -> None:
    from checker import create_app

    environment = compose()["services"]["app1"]["environment"]
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    defaults: dict[str, str] = {}
    for name in CLINIC_SETTINGS:
        assert f"CHECKER_{name}" in environment, name
        assert re.search(rf"^CHECKER_{name}=", example, flags=re.MULTILINE), name
        found = re.fullmatch(r"\$\{CHECKER_" + name + r":-(.*)\}", str(environment[f"CHECKER_{name}"]))
        assert found, f"CHECKER_{name} should fall back to a default when deploy/.env leaves it out"
        defaults[name] = found.group(1)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        app = create_app({"SECRET_KEY": "k" * 64, "BASE_URL": "https://selfcheck.clinic.example", **defaults})
    finally:  # compose's JSON log handler stays with this app: later tests' apps log as text
        root.handlers[:] = handlers
    assert app.config["REMINDER_DAYS"] == (3, 7)
    assert app.config["MAIL_USE_TLS"] is False


def test_the_image_compiles_the_translations() -> None:
    """The .mo files are built, not committed: an image without them would serve English to
    Spanish speakers, the emergency advice included."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    install = dockerfile.index("pip install")
    compile_step = dockerfile.index("pybabel compile -d checker/translations")
    assert install < compile_step < dockerfile.index("USER checker")
    assert "test -s checker/translations/es/LC_MESSAGES/messages.mo" in dockerfile


def test_the_image_serves_the_camera_checks_model_from_its_lock_file() -> None:
    """The model is installed from npm at the locked version in a build stage, and only its
    node_modules reach the app's image, where the app serves them."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stage = dockerfile[: dockerfile.index("FROM python:")]
    assert "COPY checker/static/measure/package.json checker/static/measure/package-lock.json ./" in stage
    assert "RUN npm ci" in stage
    assert "COPY --from=camera-model /model/node_modules ./checker/static/measure/node_modules" in dockerfile
    lock = json.loads((ROOT / "checker/static/measure/package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/@mediapipe/face_mesh"]["version"] == "0.4.1633559619"


def test_a_missing_catalogue_stops_start_up_with_one_line(tmp_path: Path) -> None:
    from checker import create_app
    from checker.config import StartupError

    with pytest.raises(StartupError, match=r"the 'es' translations are not compiled .*pybabel compile"):
        create_app({"SECRET_KEY": "k" * 64, "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path)})


def test_the_dockerfiles_steps_in_a_clean_virtual_environment_compile_the_catalogues(tmp_path: Path) -> None:
    """No image can be built on these machines: the Dockerfile's own steps run here instead, in a
    new virtual environment on a copy of exactly what the image copies."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    app_stage = dockerfile[dockerfile.index("FROM python:") :]
    for line in re.findall(r"^COPY (?!--from)(.+) \S+$", app_stage, flags=re.MULTILINE):
        for name in line.split():
            source = ROOT / name
            if source.is_dir():
                ignored = shutil.ignore_patterns("*.mo", "__pycache__", "node_modules")
                shutil.copytree(source, tmp_path / name, ignore=ignored)
            else:
                shutil.copy(source, tmp_path / name)
    assert not list(tmp_path.glob("checker/translations/*/LC_MESSAGES/*.mo"))
    run = re.search(r"^RUN pip install .*?(?=^\S)", dockerfile, flags=re.MULTILINE | re.DOTALL)
    assert run, "the Dockerfile installs the app with pip"
    steps = run.group(0).removeprefix("RUN ").replace("\\\n", " ").split("&&")
    steps = [
        step.strip().replace("--no-cache-dir ", "")
        for step in steps
        if not step.strip().startswith(("useradd", "chown"))
    ]  # the user is the image's
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    for step in steps:
        done = subprocess.run(step, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)  # noqa: S602
        assert done.returncode == 0, f"{step}: {done.stderr[-2000:]}"
    assert (tmp_path / "checker/translations/es/LC_MESSAGES/messages.mo").stat().st_size > 10_000


def test_the_systemd_units_are_valid_and_run_the_apps_commands(tmp_path: Path) -> None:
    """The alternative to compose: supervised app instances and outbox, daily backup and purge."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian: apt-get install systemd)"
    units = {path.name: path.read_text(encoding="utf-8") for path in (DEPLOY / "systemd").iterdir()}
    assert {"checker@.service", "checker-outbox.service", "checker-backup.timer", "checker-purge.timer"} <= set(units)
    for name in ("checker@.service", "checker-outbox.service"):
        assert "Restart=always" in units[name], name
    commands = " ".join(re.findall(r"^ExecStart=(.*)$", "\n".join(units.values()), flags=re.MULTILINE))
    for command in ("gunicorn -c gunicorn.conf.py", "python -m checker.worker", "flask --app checker backup",
                    "flask --app checker purge"):  # fmt: skip
        assert command in commands, command
    here = sys.executable.rsplit("/", 1)[0] + "/"
    for name, text in units.items():  # the shipped paths, pointed at this checkout
        text = text.replace("/opt/checker/.venv/bin/", here).replace("/etc/checker/checker.env", "/dev/null")
        (tmp_path / name.replace("@.", "@8001.")).write_text(text, encoding="utf-8")
    checked = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True, text=True, check=False, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stderr.strip() == "", checked.stderr
