"""Real servers for the production tests: gunicorn with gunicorn.conf.py, and Redis.

Redis comes from Debian's redis-server, started on a free loopback port in a temporary
folder, as PostgreSQL is in ``databases``. There is no fallback: if it is missing, the tests
that need it fail and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import ROOT
from .databases import free_port


class Gunicorn:
    """The app under gunicorn with the production settings file, on a free loopback port."""

    def __init__(self, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CHECKER_BIND": f"127.0.0.1:{self.port}", **settings}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "checker:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait_until_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped:\n{self.process.communicate()[0]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {seconds} s")

    def stop(self) -> str:
        self.process.terminate()
        self.output, _ = self.process.communicate(timeout=30)
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
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else "")
    if not found:
        raise RuntimeError("Redis was not found: install it (Debian: apt-get install redis-server)")
    return found


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis on loopback; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="checker-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
