"""Shared fixtures: the app with CSRF left on, a client that fills forms like a browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from checker import create_app
from checker.engine import RuleSet, load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES_PATH = ROOT / "rules.yaml"
VIGNETTES = yaml.safe_load((Path(__file__).parent / "vignettes.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules(RULES_PATH)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "CLINIC_PHONE": "555 0100"})
    app.instance_path = str(tmp_path)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_page(client: FlaskClient, page_id: str, answers: dict[str, Any], **query: str) -> Any:
    """Open a question page and send it, the way a browser does, with the page's CSRF token."""
    url = f"/questions/{page_id}"
    page = client.get(url, query_string=query)
    assert page.status_code == 200, f"{url} answered {page.status_code} ({page.headers.get('Location')})"
    data: dict[str, Any] = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    for key, value in answers.items():
        data[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return client.post(url, data=data, query_string=query)


def walk(client: FlaskClient, rules: RuleSet, answers: dict[str, Any]) -> Any:
    """Answer page after page, following redirects as a person would; the last response."""
    response = client.get("/questions/" + rules.pages[0].id)
    location = "/questions/" + rules.pages[0].id
    for _ in range(len(rules.pages) + 1):
        if not location.startswith("/questions/"):
            break
        page = rules.page(location.split("/")[2].split("?")[0])
        assert page is not None
        response = post_page(client, page.id, {q.id: answers[q.id] for q in page.questions if q.id in answers})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        location = response.headers["Location"]
    return response
