"""The question page post and the API against their floors in one process, with no server.

Usage: python bench/in_process.py [--batches N]
Calls each WSGI app directly (the app with rate limits on but out of reach, and the bare
app of bench/bare_app.py) with the same requests bench/load.py sends, in interleaved
batches of 100, and prints the CPU time a request of each: the fastest batch and the median.
With no server, network or load generator in the way, this is the steadier measure for an
A/B of a change to the request path on a shared machine; bench/load.py gives the figures
under gunicorn. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bare_app import app as bare  # noqa: E402
from load import CASE, filled_form, five_answers  # noqa: E402

from checker import create_app  # noqa: E402
from checker.db import register_migrations  # noqa: E402

BATCH = 100


def environ(method: str, path: str, body: bytes, content_type: str, cookie: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type, "HTTP_COOKIE": cookie,
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }  # fmt: skip


def request(
    app: Callable[..., Iterable[bytes]], path: str, body: str, content_type: str, cookie: str = "", expect: str = "200"
) -> None:
    """One request through the whole WSGI app, its body read as a server would; stops unless
    it answers with status ``expect`` (a form refused, e.g. for its token, is cheaper work)."""
    statuses: list[str] = []
    answer = app(environ("POST", path, body.encode(), content_type, cookie), lambda s, h, e=None: statuses.append(s))
    b"".join(answer)
    getattr(answer, "close", lambda: None)()
    if not statuses[0].startswith(expect):
        raise SystemExit(f"{path} answered {statuses[0]}")


def cookie_of(client: FlaskClient) -> str:
    return "; ".join(f"{c.key}={c.value}" for c in (client._cookies or {}).values())


def question_post(app: Flask) -> tuple[str, str]:
    """Walk the journey with the worked case's answers; the session cookie and the safety page's form body."""
    client = app.test_client()
    url, safety = "/questions/safety", ""
    while url.startswith("/questions/"):
        body = filled_form(client.get(url).get_data(as_text=True))
        safety = safety or body
        url = client.post(url, data=body, content_type="application/x-www-form-urlencoded").headers["Location"]
    return cookie_of(client), safety


def bare_form() -> tuple[str, str]:
    client = bare.test_client()
    body = five_answers(client.get("/form").get_data(as_text=True))
    return cookie_of(client), body  # the cookie the form's page set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="batches of 100 requests a route (default 40)")
    args = parser.parse_args()
    never = "1000000000 per minute"
    folder = tempfile.mkdtemp()
    app = create_app({
        "SECRET_KEY": "bench-secret", "DATABASE_URL": f"sqlite:///{folder}/bench.db", "RATELIMIT_ENABLED": True,
        "RATE_LIMIT_API": never, "RATE_LIMIT_QUESTIONS": never,
    })  # fmt: skip
    register_migrations(app)  # a script, not the command line: Flask-Migrate is not registered
    with app.app_context():
        upgrade()
    form = "application/x-www-form-urlencoded"
    answers = json.dumps({"answers": CASE["answers"]})
    cookie, safety = question_post(app)
    bare_cookie, bare_body = bare_form()
    routes: dict[str, Callable[[], None]] = {
        "POST /questions/safety, limits on": lambda: request(app, "/questions/safety", safety, form, cookie, "302"),
        "bare POST /form (floor)": lambda: request(bare, "/form", bare_body, form, bare_cookie, "302"),
        "POST /api/v1/assess, limits on": lambda: request(app, "/api/v1/assess", answers, "application/json"),
        "bare POST /engine (floor)": lambda: request(bare, "/engine", answers, "application/json"),
    }
    gc.collect()
    gc.freeze()  # as gunicorn.conf.py does before forking workers
    for run in routes.values():  # warm up
        for _ in range(BATCH):
            run()
    cpu: dict[str, list[float]] = {label: [] for label in routes}
    for _ in range(args.batches):
        for label, run in routes.items():
            start = time.process_time()
            for _ in range(BATCH):
                run()
            cpu[label].append((time.process_time() - start) / BATCH * 1e6)
    print(f"CPU µs a request, {args.batches} interleaved batches of {BATCH}: fastest batch, median")
    for label, times in cpu.items():
        print(f"{label:<36} {min(times):>7.0f} {statistics.median(times):>7.0f}")
    for label, floor in (("POST /questions/safety, limits on", "bare POST /form (floor)"),
                         ("POST /api/v1/assess, limits on", "bare POST /engine (floor)")):  # fmt: skip
        print(f"{label} costs {min(cpu[label]) / min(cpu[floor]):.2f} times {floor} (fastest batches)")


if __name__ == "__main__":
    main()
