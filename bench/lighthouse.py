"""Lighthouse scores for the landing page, a question page and a result page.

Usage: python bench/lighthouse.py
Installs npm's lighthouse into bench/.lighthouse (once), serves the app on loopback,
answers the worked case 'nine-months-established' to get a session for the result page,
and runs Lighthouse with Debian's Chromium. Prints performance, accessibility and best
practices per page. Targets: accessibility 100; performance and best practices 95 or more.
Not a test: scores depend on the machine.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from flask_migrate import upgrade
from werkzeug.serving import make_server

from checker import create_app
from checker.db import register_migrations

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "bench" / ".lighthouse"
FLAGS = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking " \
        "--disable-component-update --disable-sync"  # fmt: skip
CASE = next(
    c for c in yaml.safe_load((ROOT / "tests" / "vignettes.yaml").read_text()) if c["name"] == "nine-months-established"
)


def lighthouse() -> Path:
    binary = TOOL / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        TOOL.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(TOOL), "lighthouse@13"], check=True)
    return binary


def session_cookie(base: str) -> str:
    """Answer every page as a person would and return the session cookie for the result page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = base + "/questions/safety"
    for _ in range(10):
        html = opener.open(url).read().decode()
        if "/questions/" not in url:
            break
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        fields = set(re.findall(r'name="([a-z_]+)"', html)) - {"csrf_token", "action", "draft_token"}
        data = [("csrf_token", token)]
        for field in fields:
            value = CASE["answers"].get(field)
            for item in value if isinstance(value, list) else ([value] if value is not None else []):
                data.append((field, str(item)))
        response = opener.open(url, urllib.parse.urlencode(data).encode())
        url = response.url
    cookie = next(c for c in jar if c.name == "session")
    return f"session={cookie.value}"


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's Chromium is needed: apt-get install chromium")
    binary = lighthouse()
    folder = Path(tempfile.mkdtemp())
    app = create_app({"SECRET_KEY": "lighthouse", "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite'}"})
    register_migrations(app)  # a script, not the command line: Flask-Migrate is not registered
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    cookie = session_cookie(base)
    pages = {"landing": "/", "question page": "/questions/linked", "result page": "/result"}
    print(f"{'page':<16} {'performance':>12} {'accessibility':>14} {'best practices':>15}")
    try:
        for name, path in pages.items():
            report = folder / f"{name}.json"
            subprocess.run(
                [
                    str(binary),
                    base + path,
                    "--quiet",
                    "--output=json",
                    f"--output-path={report}",
                    "--only-categories=performance,accessibility,best-practices",
                    f"--chrome-flags={FLAGS}",
                    f"--extra-headers={json.dumps({'Cookie': cookie})}",
                ],  # fmt: skip
                check=True,
                env={**os.environ, "CHROME_PATH": chromium},
                timeout=300,
            )
            scores = {k: round(v["score"] * 100) for k, v in json.loads(report.read_text())["categories"].items()}
            print(
                f"{name:<16} {scores['performance']:>12} {scores['accessibility']:>14} {scores['best-practices']:>15}"
            )
    finally:
        server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
