"""deploy/nginx.conf for real: Debian's nginx, with the shipped configuration, in front of two
gunicorn instances, shows what the proxy is there for.

The test changes only what a machine decides (the addresses, the certificate's folder, where
nginx keeps its own files) and checks that each of those lines is still in the file.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade

from checker import create_app

from .conftest import ROOT, TEST_CONFIG, VIGNETTES
from .databases import free_port
from .servers import Gunicorn, NoRedirects, gunicorn, redis_server

API_LIMIT = 5
ANSWERS = next(case for case in VIGNETTES if case["name"] == "nine-months-established")["answers"]


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx was not found: install it (Debian: apt-get install nginx-light)")
    return found


@dataclass
class Proxy:
    http: str  # the plain-HTTP server (health checks and the redirect to HTTPS)
    https: str
    https_port: int
    apps: tuple[Gunicorn, ...]
    folder: Path  # where nginx writes its logs

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return _fetch(self.https + path, headers=headers)

    def post_json(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        status, _, content = _fetch(
            self.https + path, data=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
        return status, content


_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate


_OPENER = urllib.request.build_opener(urllib.request.HTTPSHandler(context=_UNVERIFIED), NoRedirects())


def _fetch(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read()


@contextmanager
def nginx_in_front(first: Gunicorn, second: Gunicorn) -> Iterator[Proxy]:
    folder = Path(tempfile.mkdtemp(prefix="checker-nginx-"))
    folder.chmod(0o755)  # nginx's workers run as another user when the tests run as root
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    http_port, https_port = free_port(), free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for shipped, here in {
        "server app1:8000": f"server 127.0.0.1:{first.port}",
        "server app2:8000": f"server 127.0.0.1:{second.port}",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/nginx/tls/": f"{folder}/",
        "access_log /dev/stdout checker;": f"access_log {folder}/access.log checker;",
        "error_log /dev/stderr crit;": f"error_log {folder}/error.log crit;",
        "http {": (
            f"pid {folder}/nginx.pid;\nhttp {{\n  client_body_temp_path {folder}/body;\n"
            f"  proxy_temp_path {folder}/proxy;\n  fastcgi_temp_path {folder}/fastcgi;\n"
            f"  uwsgi_temp_path {folder}/uwsgi;\n  scgi_temp_path {folder}/scgi;"
        ),
    }.items():
        assert shipped in conf, f"deploy/nginx.conf no longer has {shipped!r}"
        conf = conf.replace(shipped, here)
    (folder / "nginx.conf").write_text(conf, encoding="utf-8")
    command = [nginx_binary(), "-c", str(folder / "nginx.conf"), "-p", str(folder), "-e", str(folder / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = Proxy(
        f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", https_port, (first, second), folder
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if _fetch(proxy.http + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"nginx did not start:\n{(folder / 'error.log').read_text(errors='replace')}")
            time.sleep(0.05)
        yield proxy
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    folder = Path(tempfile.mkdtemp(prefix="checker-proxy-"))
    database_url = f"sqlite:///{folder / 'checker.db'}"
    with create_app({**TEST_CONFIG, "DATABASE_URL": database_url}).app_context():
        upgrade()
    with redis_server() as redis_url:
        settings = {
            "CHECKER_SECRET_KEY": "behind-nginx-this-secret-key-is-shared-0123456789",
            "CHECKER_DATABASE_URL": database_url,
            "CHECKER_RATELIMIT_STORAGE_URI": redis_url,
            "CHECKER_PROXIES": "1",
            # Few threads, so that a handful of slow clients would hold them all without the proxy.
            "CHECKER_WORKERS": "1",
            "CHECKER_THREADS": "2",
            "CHECKER_RATE_LIMIT_API": f"{API_LIMIT} per minute",
        }
        with gunicorn(**settings) as first, gunicorn(**settings) as second, nginx_in_front(first, second) as front:
            yield front
    shutil.rmtree(folder, ignore_errors=True)


def _trickle_a_body(port: int, trickling: threading.Semaphore, stop: threading.Event) -> None:
    """A client that sends a POST's headers, then its body a byte at a time."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    with _UNVERIFIED.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(
            b"POST /api/v1/assess HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        trickling.release()
        while not stop.wait(0.25):
            try:
                tls.sendall(b" ")
            except OSError:
                return  # nginx gave up on it: also fine


def test_slow_clients_are_held_by_nginx_not_by_the_app(proxy: Proxy) -> None:
    """Eight clients sending a body a byte at a time, twice the app's threads, and the site still
    answers at once: nginx reads each body whole before it passes the request on."""
    stop, trickling = threading.Event(), threading.Semaphore(0)
    slow = [threading.Thread(target=_trickle_a_body, args=(proxy.https_port, trickling, stop)) for _ in range(8)]
    alone = []
    for _ in range(20):  # the same requests with no slow client: what this machine does now
        start = time.monotonic()
        assert proxy.get("/healthz")[0] == 200
        alone.append(time.monotonic() - start)
    for client in slow:
        client.start()
    try:
        for _ in slow:  # every slow client is connected and trickling
            assert trickling.acquire(timeout=30)
        timings = []
        for _ in range(20):
            start = time.monotonic()
            status, _, _ = proxy.get("/healthz")
            timings.append(time.monotonic() - start)
            assert status == 200
        assert proxy.get("/questions/safety")[0] == 200  # and a page, not only the health check
    finally:
        stop.set()
        for client in slow:
            client.join(timeout=10)
    # Held by the slow clients, the app would keep these waiting until the clients gave up (the
    # test's 30 s): measured against the same requests without them, in the same run.
    assert statistics.median(timings) < 10 * statistics.median(alone) + 0.05, (alone, timings)
    assert max(timings) < 10 * max(alone) + 0.5, (alone, timings)


def test_the_client_cannot_choose_its_address(proxy: Proxy) -> None:
    """The app trusts one proxy's X-Forwarded-For, and nginx sets it: a client that sends its own
    header is still one client, counted once for rate limits across both instances."""
    body = json.dumps({"answers": ANSWERS}).encode()
    statuses = [
        proxy.post_json("/api/v1/assess", body, headers={"X-Forwarded-For": f"203.0.113.{n}"})[0]
        for n in range(API_LIMIT + 1)
    ]
    assert statuses.count(200) <= API_LIMIT  # none of the made-up addresses got a count of its own
    assert statuses[-1] == 429


def test_https_is_what_the_app_sees_and_plain_http_is_sent_there(proxy: Proxy) -> None:
    status, headers, _ = proxy.get("/")
    assert status == 200
    assert "max-age" in headers["Strict-Transport-Security"]  # the app knows the visit is HTTPS
    status, headers, _ = _fetch(proxy.http + "/questions/safety")
    assert status == 301
    assert headers["Location"].startswith("https://")
    assert _fetch(proxy.http + "/healthz")[0] == 200  # health checks stay on plain HTTP


def test_bodies_too_large_are_refused_by_the_app_or_by_nginx(proxy: Proxy) -> None:
    status, content = proxy.post_json("/api/v1/assess", b" " * 100_000)
    assert status == 413
    assert b"errors" in content  # the app's own clear answer: over its 64 KiB
    status, _ = proxy.post_json("/api/v1/assess", b" " * 2_000_000)
    assert status == 413  # past nginx's 1 MB, it never reaches the app


def nginx_log(proxy: Proxy, *wanted: str) -> list[dict[str, Any]]:
    """nginx's access log, once each of ``wanted`` is in it (a line is written after its
    response, and other tests' lines arrive meanwhile)."""
    log, deadline = proxy.folder / "access.log", time.monotonic() + 10
    while not all(text in log.read_text(encoding="utf-8") for text in wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_nginx_logs_json_lines_without_a_link_token(proxy: Proxy) -> None:
    tokens = {"/i/": "InvitationTokenSecret0123456789ab", "/resume/": "ResumeTokenSecret0123456789abcdef",
              "/staff/set-password/": "PasswordTokenSecret0123456789abc"}  # fmt: skip
    for prefix, token in tokens.items():
        proxy.get(f"{prefix}{token}?x=1")
    logged = nginx_log(proxy, *(f"{prefix}[token]?x=1" for prefix in tokens))
    paths = {line["path"] for line in logged}
    for prefix, token in tokens.items():
        assert f"{prefix}[token]?x=1" in paths, logged
        assert token not in json.dumps(logged)


def test_nginx_gives_each_request_an_id_the_app_returns_and_keeps_metrics_inside(proxy: Proxy) -> None:
    status, headers, _ = proxy.get("/healthz", headers={"X-Request-ID": "chosen-by-the-client-0001"})
    assert status == 200
    line = next(line for line in nginx_log(proxy, headers["X-Request-ID"]) if line["path"] == "/healthz"
                and line["request_id"] == headers["X-Request-ID"])  # fmt: skip
    assert headers["X-Request-ID"] == line["request_id"]  # nginx's own id, not the client's
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert proxy.get("/metrics")[0] == 404  # from the internet: never
    assert _fetch(proxy.http + "/metrics")[0] == 404


def test_every_route_with_a_token_has_its_prefix_blanked_in_every_log() -> None:
    from checker.web.logs import TOKEN_PREFIXES

    app = create_app({**TEST_CONFIG})
    with_token = sorted(r.rule for r in app.url_map.iter_rules() if "token" in r.arguments)
    assert with_token == sorted(f"{prefix}<token>" for prefix in TOKEN_PREFIXES)
    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    blanked = re.search(r"\(\?:([^)]*)\)/\)\[\^/\?\]\+", conf)
    assert blanked, "deploy/nginx.conf blanks no token"
    assert sorted(f"/{p}/" for p in blanked.group(1).split("|")) == sorted(TOKEN_PREFIXES)


def test_a_rolling_restart_behind_nginx_fails_no_request(tmp_path: Path) -> None:
    """The operators' guide's procedure under load (docs/operators/data.md): for each instance in
    turn, take it out of nginx (``down``, reload), stop it gracefully, start it again (the new release), wait for
    /readyz, put it back. Clients sending GETs and POSTs all the while get no error."""
    database_url = f"sqlite:///{tmp_path / 'rolling.db'}"
    with create_app({**TEST_CONFIG, "DATABASE_URL": database_url}).app_context():
        upgrade()
    settings = {"CHECKER_SECRET_KEY": "rolling-restart-secret-key-0123456789abcdef", "CHECKER_PROXIES": "1",
                "CHECKER_DATABASE_URL": database_url, "CHECKER_WORKERS": "2",
                "CHECKER_RATELIMIT_ENABLED": "false"}  # fmt: skip
    body = json.dumps({"answers": ANSWERS}).encode()
    outcomes: list[int | str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                outcomes.append(proxy.get("/")[0])
                outcomes.append(proxy.post_json("/api/v1/assess", body)[0])
            except OSError as exc:
                outcomes.append(type(exc).__name__)

    apps = [Gunicorn(**settings), Gunicorn(**settings)]
    for app in apps:
        app.wait_until_ready()
    try:
        with nginx_in_front(apps[0], apps[1]) as proxy:
            conf = proxy.folder / "nginx.conf"
            command = [nginx_binary(), "-c", str(conf), "-p", str(proxy.folder)]

            def route(port: int, down: bool) -> None:
                text = conf.read_text(encoding="utf-8")
                plain, drained = f"server 127.0.0.1:{port} ", f"server 127.0.0.1:{port} down "
                conf.write_text(text.replace(plain, drained) if down else text.replace(drained, plain))
                subprocess.run([*command, "-s", "reload"], check=True, capture_output=True)
                time.sleep(1)  # nginx's old workers finish what they hold, then leave

            clients = [threading.Thread(target=client) for _ in range(4)]
            for thread in clients:
                thread.start()
            time.sleep(1)
            for number, app in enumerate(list(apps)):
                route(app.port, down=True)
                app.stop()  # SIGTERM: gunicorn finishes its requests, then stops
                apps[number] = Gunicorn(**settings, CHECKER_BIND=f"127.0.0.1:{app.port}")
                apps[number].wait_until_ready()
                assert _fetch(f"{apps[number].url}/readyz")[0] == 200
                route(app.port, down=False)
            time.sleep(1)
            stop.set()
            for thread in clients:
                thread.join(timeout=60)
    finally:
        stop.set()
        for app in apps:
            if app.process.poll() is None:
                app.stop()
    failed = [outcome for outcome in outcomes if outcome != 200]
    assert len(outcomes) > 100, "the clients kept sending through both restarts"
    assert failed == [], f"{len(failed)} of {len(outcomes)} requests failed: {failed[:20]}"
