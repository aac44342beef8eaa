"""The deploy/ folder: a compose file and an nginx configuration that fit the app's settings."""

from __future__ import annotations

import re
from typing import Any

import yaml

from checker.config import DEFAULTS, SECRETS, SERVER_SETTINGS

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
    assert services["outbox"]["command"] == ["flask", "--app", "checker", "outbox", "run"]
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
