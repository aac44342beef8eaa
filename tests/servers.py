"""Real servers for the production tests: gunicorn with gunicorn.conf.py, and Redis.

Redis comes from Debian's redis-server, started on a free loopback port in a temporary
folder, as PostgreSQL is in ``databases``. There is no fallback: if it is missing, the tests
that need it fail and say so.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import log_audit
from .conftest import ROOT
from .databases import free_port


class Gunicorn:
    """The app under gunicorn with the production settings file, on a free loopback port."""

    def __init__(self, **settings: str) -> None:
        bind = settings.get("CHECKER_BIND")  # a test that needs the address first (for its base URL) picks it
        self.port = int(bind.rsplit(":", 1)[1]) if bind else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CHECKER_BIND": f"127.0.0.1:{self.port}", **settings}
        # The log goes to a file: a pipe nobody reads fills up (64 KiB, some 500 access lines)
        # and then blocks the server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "checker:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.output = ""

    def wait_until_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped:\n{self.stop()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {seconds} s")

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.seek(0)
        self.output = self.log.read().decode("utf-8", "replace")
        self.log.close()
        log_audit.add(self.output)
        return self.output


@contextmanager
def gunicorn(**settings: str) -> Iterator[Gunicorn]:
    server = Gunicorn(**settings)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("Redis was not found: install it (Debian: apt-get install redis-server)")
    return found


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis on loopback; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="checker-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


class HttpResponse:
    """What the tests read of a response, named as Flask's test client names it."""

    def __init__(self, status: int, headers: Any, body: bytes, served_by: str) -> None:
        self.status_code = status
        self.headers = headers
        self.data = body
        self.served_by = served_by

    def get_data(self, as_text: bool = False) -> Any:
        return self.data.decode("utf-8") if as_text else self.data

    def get_json(self) -> Any:
        return json.loads(self.data)


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are answers the tests read, not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpClient:
    """A browser-like client over real HTTP, with the test client's get/post: one cookie jar,
    and each request sent to the next of ``servers`` in turn."""

    def __init__(self, *servers: str) -> None:
        self.servers = itertools.cycle(servers)
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects())

    def open(
        self, method: str, path: str, data: Any = None, json_body: Any = None, query_string: Any = None
    ) -> HttpResponse:
        server = next(self.servers)
        url = server + path + (f"?{urllib.parse.urlencode(query_string)}" if query_string else "")
        headers = {}
        body = None
        if json_body is not None:
            body, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                return HttpResponse(response.status, response.headers, response.read(), server)
        except urllib.error.HTTPError as answer:
            return HttpResponse(answer.code, answer.headers, answer.read(), server)

    def get(self, path: str, query_string: Any = None) -> HttpResponse:
        return self.open("GET", path, query_string=query_string)

    def post(self, path: str, data: Any = None, json: Any = None, query_string: Any = None) -> HttpResponse:
        return self.open("POST", path, data=data, json_body=json, query_string=query_string)
