"""The documentation: the site builds with no broken link, its examples are what the app
answers, its settings page is the settings' own definitions, its pictures are the ones the
screenshot script makes, and the README stays short and points at pages that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flask_migrate import upgrade
from werkzeug.serving import make_server

from checker import create_app
from checker.db import db
from checker.settings import SERVER, SETTINGS, settings_table
from tests.conftest import TEST_CONFIG
from tests.docs_examples import DOCS, ROOT, Example, check, examples, matches

MKDOCS = [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict"]
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (mkdocs from this environment)
        [*MKDOCS, "-f", str(config), "-d", str(site)], capture_output=True, text=True, check=False, env=QUIET
    )


def test_the_site_builds_strictly_with_its_search_index(tmp_path: Path) -> None:
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "clinic" / "index.html").exists()
    assert (tmp_path / "site" / "search" / "search_index.json").exists()  # searched in the browser


def test_a_broken_link_or_a_page_left_out_fails_the_build(tmp_path: Path) -> None:
    """--strict is what CI relies on: show it catches each kind of fault."""
    shutil.copytree(DOCS, tmp_path / "docs", ignore=shutil.ignore_patterns("*.png"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    page = tmp_path / "docs" / "rules.md"
    page.write_text(page.read_text() + "\nSee [the missing page](missing.md).\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "missing.md" in done.stderr
    page.write_text(page.read_text().replace("See [the missing page](missing.md).", ""))
    (tmp_path / "docs" / "stray.md").write_text("# Not in the navigation\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "stray.md" in done.stderr


def test_the_settings_page_is_the_settings_own_definitions() -> None:
    page = (DOCS / "operators" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_table(), "docs/operators/settings.md is out of date: run scripts/docs settings"
    for setting in SETTINGS:
        assert f"`CHECKER_{setting.name}`" in page


def test_changing_a_default_changes_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from checker import settings

    before = settings_table()
    changed = tuple(s._replace(default=45) if s.name == "INVITATION_DAYS" else s for s in settings.SETTINGS)
    monkeypatch.setattr(settings, "SETTINGS", changed)
    after = settings_table()
    assert after != before
    assert "| `CHECKER_INVITATION_DAYS` | `45` |" in after


def test_every_setting_the_guides_name_exists() -> None:
    """A setting renamed or removed in the code cannot live on in a guide."""
    known = {f"CHECKER_{s.name}" for s in (*SETTINGS, *SERVER)}
    for page in [ROOT / "README.md", *DOCS.rglob("*.md"), ROOT / "deploy" / "env.example"]:
        named = set(re.findall(r"CHECKER_[A-Z0-9_]*[A-Z0-9]", page.read_text(encoding="utf-8")))
        assert named <= known, f"{page.relative_to(ROOT)}: {sorted(named - known)}"
    assert all(s.meaning.strip() and s.group for s in (*SETTINGS, *SERVER))


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app as the integrators' guide describes it: a site address, one CORS origin, one EHR."""
    folder = tmp_path_factory.mktemp("docs-app")
    config = {**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{folder / 'checker.db'}",
              "BASE_URL": "https://selfcheck.example", "CORS_ORIGINS": "https://ehr.example",
              "SMART_ISSUERS": "https://ehr.example/fhir", "SMART_CLIENT_ID": "synkinesis-check"}  # fmt: skip
    app = create_app(config)
    app.instance_path = str(folder)
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


EXAMPLES = list(examples())


def test_the_guides_have_examples_to_check() -> None:
    pages = {example.page for example in EXAMPLES}
    assert {"docs/integrators/index.md", "docs/integrators/fhir.md", "docs/integrators/ehr.md"} <= pages
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_every_example_is_what_the_app_answers(example: Example, live_app: str) -> None:
    assert check(example, live_app) == []


def test_no_request_to_the_app_in_the_guides_escapes_the_check() -> None:
    """A curl to the app anywhere in the guides (indented in a list or a note too) is a checked
    example, or sits in a block whose title says it is not run."""
    checked = {(example.page, example.command) for example in EXAMPLES}
    fenced = re.compile(r"^( *)```\w*([^\n]*)\n(.*?)\n\1```$", re.MULTILINE | re.DOTALL)
    for page in DOCS.rglob("*.md"):
        name = str(page.relative_to(ROOT))
        for block in fenced.finditer(page.read_text(encoding="utf-8")):
            body = "\n".join(line.removeprefix(block[1]) for line in block[3].splitlines()).replace("\\\n", " ")
            to_app = re.search(r"^curl\b.*127\.0\.0\.1:5000", body, re.MULTILINE)
            if to_app and "not run" not in block[2]:
                assert (name, body) in checked, f"{name}: an unchecked request to the app: {body[:120]}"


def test_the_examples_check_catches_an_untrue_example(live_app: str) -> None:
    example = EXAMPLES[0]
    assert check(example, live_app) == []
    wrong_status = Example(example.page, example.line, example.command, 418, example.kind, example.expected)
    assert "status" in check(wrong_status, live_app)[0]
    assert matches({"outcome": "stage-2", "...": "..."}, {"outcome": "stage-3", "triage": "routine"}) == [
        "$.outcome: the guide says 'stage-2', the app 'stage-3'"
    ]
    assert matches({"a": 1}, {"a": 1, "b": 2}) == ["$.b: not in the guide"]
    assert matches([1, "..."], [1, 2, 3]) == []
    assert matches([1, 2], [1]) == ["$: 1 items, the guide shows 2"]


# The rules guide's examples: the edits each makes to a copy of rules.yaml, in the guide's order.
RULES_EDITS = [
    [('{answer: rf_eye, is: "yes"}', '{answer: rf_eyes, is: "yes"}'),
     ("is: consistent\n              reason:", "is: consistant\n              reason:")],
    [('{answer: rf_ear_rash, is: "yes"}', "{answer: rf_ear_rash, is: yes}")],
    [("when: {answer: time_since_onset, at_least: 6m_12m}", "when: {answer: time_since_onset, at_least: 3m_6m}"),
     ("expect: {outcome: stage-2, triage: routine, red_flags: [], saq_total: 35.6}",
      "expect: {outcome: stage-3, triage: routine, red_flags: [], saq_total: 35.6}")],
]  # fmt: skip


def masked(text: str) -> str:
    """Output with its line and column numbers and digests left out, which move with any edit."""
    return re.sub(r"sha256 [0-9a-f]+", "sha256 X", re.sub(r":\d+:\d+:", ":L:C:", text)).strip()


def test_the_rules_guide_shows_each_check_as_it_is_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from checker.cli import rules_group

    guide = (DOCS / "rules.md").read_text(encoding="utf-8")
    command = r"```sh\n(\.venv/bin/flask --app checker rules check [^\n]+)\n```\n\n"
    shown = re.findall(command + r'```text title="exit (\d)"\n(.*?)\n```', guide, re.DOTALL)
    assert len(shown) == len(RULES_EDITS)
    demo = f"sqlite:///{tmp_path / 'demo.db'}"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": demo})
    app.instance_path = str(tmp_path)
    assert app.test_cli_runner().invoke(args=["demo", "--password", "correct horse battery staple"]).exit_code == 0
    original = (ROOT / "rules.yaml").read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the guide names the copy as it would be typed: my-rules.yaml
    for (command, code, expected), edits in zip(shown, RULES_EDITS, strict=True):
        text = original
        for old, new in edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        (tmp_path / "my-rules.yaml").write_text(text, encoding="utf-8")
        args = command.split()[4:]
        result = CliRunner().invoke(rules_group, args, env={"CHECKER_DATABASE_URL": demo})
        assert result.exit_code == int(code), result.output
        assert masked(result.output) == masked(expected)


def test_the_staff_guide_shows_every_screenshot_in_both_languages() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from screenshots import DOCS_SHOTS

    guide = (DOCS / "clinic" / "index.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\(img/(en|es)/([\w-]+)\.png\)", guide))
    assert shown == {(language, name) for language in ("en", "es") for name in DOCS_SHOTS}
    for language, name in shown:
        assert (DOCS / "clinic" / "img" / language / f"{name}.png").stat().st_size > 10_000


def test_the_screenshot_script_makes_every_picture_of_the_guide(tmp_path: Path) -> None:
    """The pictures are made from the demo clinic by the script: it must still reach each page."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "scripts" / "screenshots.py"), "--docs", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    made = {p.relative_to(tmp_path) for p in tmp_path.glob("*/*.png")}
    assert made == {p.relative_to(DOCS / "clinic" / "img") for p in (DOCS / "clinic" / "img").glob("*/*.png")}


def test_every_alert_is_explained() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())["groups"][0]["rules"]
    page = (DOCS / "operators" / "monitoring.md").read_text(encoding="utf-8")
    for rule in rules:
        assert f"`{rule['alert']}`" in page


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 160
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (ROOT / link).exists(), link
    for command in ("scripts/setup", "flask --app checker demo", "scripts/run", "scripts/test"):
        assert command in readme
