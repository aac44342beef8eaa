"""Load benchmark: the app under gunicorn against a bare Flask app served the same way.

Usage: python bench/load.py [--seconds N] [--soak N]
Needs wrk (Debian: apt-get install wrk). Starts both apps under gunicorn (2 workers each,
one at a time so they do not share the 2 cores), measures with wrk on loopback and prints
a table: requests per second, p50 and p99 latency, the ratio to the bare app's route, errors;
then a soak at 64 connections, 500 consultation requests under load (rows counted), the
engine's time per assessment and memory per worker. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CASE = next(
    c for c in yaml.safe_load((ROOT / "tests" / "vignettes.yaml").read_text()) if c["name"] == "nine-months-established"
)
WORKERS = str((os.cpu_count() or 1) * 2 + 1)  # gunicorn.conf.py's defaults: 2 x cores + 1 workers, 2 threads
THREADS = "2"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    def __init__(self, target: str, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Both apps are served the same way: the project's gunicorn settings and worker count.
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", target]  # fmt: skip
        env = {**os.environ, **env, "CHECKER_WORKERS": WORKERS, "CHECKER_THREADS": THREADS}
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.05)

    def worker_rss_mb(self) -> list[float]:
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]
        return sizes

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    for pattern in (
        r"Non-2xx or 3xx responses: (\d+)",
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
    ):
        match = re.search(pattern, out)
        if match:
            errors += sum(int(g) for g in match.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": errors}


def lua(folder: Path, name: str, method: str, body: str, headers: dict[str, str]) -> Path:
    lines = [f'wrk.method = "{method}"', f"wrk.body = {json.dumps(body)}"]
    lines += [f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def browser_session(base: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def answer_everything(base: str) -> tuple[str, str]:
    """Walk the journey; the session cookie for the result page, and a question page's form body."""
    opener, jar = browser_session(base)
    url = base + "/questions/safety"
    safety_body = ""
    for _ in range(10):
        if "/questions/" not in url:
            break
        html = opener.open(url).read().decode()
        fields = set(re.findall(r'name="([a-z_]+)"', html)) - {"csrf_token", "action", "draft_token"}
        data = [("csrf_token", token(html))]
        for field in sorted(fields):
            value = CASE["answers"].get(field)
            for item in value if isinstance(value, list) else ([value] if value is not None else []):
                data.append((field, str(item)))
        body = urllib.parse.urlencode(data)
        safety_body = safety_body or body
        url = opener.open(url, body.encode()).url
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, safety_body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--soak", type=int, default=60, help="seconds of the 64-connection soak (default 60)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp())
    database = folder / "bench.db"
    env = {"CHECKER_SECRET_KEY": "bench-secret", "CHECKER_DATABASE_URL": f"sqlite:///{database}",
           "CHECKER_RATELIMIT_ENABLED": "false"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "flask", "--app", "checker", "db", "upgrade"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)  # fmt: skip
    rows: list[tuple[str, dict[str, float], str]] = []

    bare = Gunicorn("bare_app:app", {}, ROOT / "bench")
    yard_json = wrk(bare.url + "/json", args.seconds, 16)
    yard_page = wrk(bare.url + "/template", args.seconds, 16)
    bare_rss = bare.worker_rss_mb()
    bare.stop()

    app = Gunicorn("checker:create_app()", env, ROOT)
    cookie, safety_body = answer_everything(app.url)
    form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    assess = lua(
        folder, "assess", "POST", json.dumps({"answers": CASE["answers"]}), {"Content-Type": "application/json"}
    )
    question = lua(folder, "question", "POST", safety_body, form_headers)
    with_cookie = lua(folder, "cookie", "GET", "", {"Cookie": cookie})
    rows.append(("GET / (landing)", wrk(app.url + "/", args.seconds, 16), "template"))
    rows.append(("POST /questions/safety", wrk(app.url + "/questions/safety", args.seconds, 16, question), "template"))
    rows.append(("POST /api/v1/assess", wrk(app.url + "/api/v1/assess", args.seconds, 16, assess), "json"))
    rows.append(("GET /result", wrk(app.url + "/result", args.seconds, 16, with_cookie), "template"))
    rows.append(("GET /result.pdf", wrk(app.url + "/result.pdf", args.seconds, 16, with_cookie), "template"))
    soak = wrk(app.url + "/api/v1/assess", args.soak, 64, assess)

    # 500 consultation requests while the landing page is under load: exactly 500 rows?
    load = subprocess.Popen(["wrk", "-t1", "-c16", "-d20s", app.url + "/"], stdout=subprocess.DEVNULL)

    def one(i: int) -> int:
        opener, _ = browser_session(app.url)
        page = opener.open(app.url + "/request-consultation").read().decode()
        data = {
            "csrf_token": token(page),
            "name": f"Load {i}",
            "phone": "555 010 9999",
            "contact_time": "any",
            "consent": "y",
        }
        return opener.open(app.url + "/request-consultation", urllib.parse.urlencode(data).encode()).status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(500)))
    load.wait()
    with sqlite3.connect(database) as connection:
        stored = connection.execute("SELECT COUNT(*) FROM consultation_request").fetchone()[0]
    app_rss = app.worker_rss_mb()
    app.stop()

    sys.path.insert(0, str(ROOT))
    from checker.engine import assess as run
    from checker.engine import load_rules

    rules = load_rules(ROOT / "rules.yaml")
    timings = []
    for _ in range(5000):
        start = time.perf_counter_ns()
        run(rules, CASE["answers"]).to_json()
        timings.append(time.perf_counter_ns() - start)

    def row(name: str, r: dict[str, float], note: str = "") -> None:
        print(f"{name:<26} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7.0f}  {note}")

    print(f"gunicorn ({WORKERS} workers x {THREADS} threads, gthread); wrk -t2 -c16, {args.seconds}s a row, same cores")
    print(f"{'route':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  ratio to the bare app")
    row("bare GET /json", yard_json)
    row("bare GET /template", yard_page)
    for name, r, kind in rows:
        base = yard_json if kind == "json" else yard_page
        row(name, r, f"{r['rps'] / base['rps']:.0%} of {kind}")
    print(
        f"soak: POST /api/v1/assess, 64 connections, {args.soak}s: {soak['rps']:.0f} req/s, p99 {soak['p99']:.1f} ms, "
        f"{soak['errors']:.0f} errors"
    )
    print(f"consultation requests under load: {statuses.count(200)} of 500 answered 200; {stored} rows stored")
    print(f"engine per assessment: median {statistics.median(timings) / 1000:.1f} µs")
    app_mb, bare_mb = ", ".join(f"{m:.0f}" for m in app_rss), ", ".join(f"{m:.0f}" for m in bare_rss)
    print(f"memory per worker (RSS): app {app_mb} MB; bare {bare_mb} MB")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
