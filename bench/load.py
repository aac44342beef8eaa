"""Load benchmark: the app under gunicorn against a bare Flask app served the same way.

Usage: python bench/load.py [--seconds N] [--rounds N] [--pairs N] [--soak N]
Needs wrk (Debian: apt-get install wrk). Serves both apps with the project's gunicorn
settings and measures every route with wrk on loopback at 16 connections, in rounds: each
round measures every route once. Every worker is warmed first. Prints medians over the
rounds: requests per second, p50 and p99 latency, errors, the server's CPU time a request,
the ratio to its yardstick. Then each target alone: its route measured between two
measurements of its yardstick, again and again (Y T Y T ... Y), each time against the mean of
the yardstick just before and just after, so a slow spell on the shared machine moves both
sides of a ratio; in a round over all routes they were up to a minute apart. Then a soak at
64 connections, 500 consultation requests under load (rows counted), the PDF, the engine's
time per assessment and memory per worker. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import http.cookiejar
import json
import os
import platform
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
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CASE = next(
    c for c in yaml.safe_load((ROOT / "tests" / "vignettes.yaml").read_text()) if c["name"] == "nine-months-established"
)
# gunicorn.conf.py's defaults (2 x cores + 1 workers, 4 threads); CHECKER_WORKERS and CHECKER_THREADS try others.
WORKERS = os.environ.get("CHECKER_WORKERS", str((os.cpu_count() or 1) * 2 + 1))
THREADS = os.environ.get("CHECKER_THREADS", "4")
# The issue's targets: (route, yardstick, least ratio of requests per second).
TARGETS = (
    ("POST /api/v1/assess, limits on", "bare POST /engine (floor)", 0.9),
    ("POST /api/v1/assess, limits on", "bare GET /json", 0.65),
    ("POST /questions/safety, limits on", "bare POST /form (floor)", 0.9),
)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


START_SECONDS = 90  # a gunicorn preloading the app took 20-28 s on a busy 2-core machine
RUNNING: list[Gunicorn] = []


@atexit.register
def _stop_all() -> None:
    """Whatever ends the bench (an error, Ctrl-C), no gunicorn is left running."""
    for server in RUNNING:
        server.stop()


class Gunicorn:
    def __init__(self, target: str, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Both apps are served the same way: the project's gunicorn settings and worker count.
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", target]  # fmt: skip
        env = {**os.environ, **env, "CHECKER_WORKERS": WORKERS, "CHECKER_THREADS": THREADS}
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        RUNNING.append(self)
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn for {target} exited ({self.process.returncode}) before answering")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"gunicorn for {target} did not answer within {START_SECONDS} s")
                time.sleep(0.1)

    def workers(self) -> list[str]:
        """The process ids of the master's children: its workers."""
        return subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()

    def worker_memory_mb(self) -> list[tuple[float, float]]:
        """(RSS, PSS) of each worker: PSS splits the pages workers share with the master."""
        sizes = []
        for pid in self.workers():
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            rss, pss = (int(re.search(rf"^{k}:\s+(\d+)", rollup, re.M).group(1)) / 1024 for k in ("Rss", "Pss"))  # type: ignore[union-attr]
            sizes.append((rss, pss))
        return sizes

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the master and its workers have used so far."""
        total = 0
        for pid in [str(self.process.pid), *self.workers()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass(frozen=True)
class Script:
    """A request as wrk sends it, from a Lua file (a GET with no header when there is none)."""

    path: Path
    method: str
    body: str
    headers: tuple[tuple[str, str], ...]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the redirect itself is the answer


def status_of(url: str, script: Script | None) -> int:
    """The status one request as wrk sends it gets, redirects not followed: a form refused (for
    its token, say) answers 200 with the form again, and would be measured as the wrong work."""
    request = urllib.request.Request(url)
    if script:
        request = urllib.request.Request(url, script.body.encode() or None, dict(script.headers), method=script.method)
    try:
        return int(urllib.request.build_opener(_NoRedirect).open(request).status)
    except urllib.error.HTTPError as answer:
        return answer.code


def wrk(url: str, seconds: int, connections: int, script: Script | None = None, timeout: int = 2) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script.path)]
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
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": errors, "requests": requests}


def lua(folder: Path, name: str, method: str, body: str, headers: dict[str, str]) -> Script:
    lines = [f'wrk.method = "{method}"', f"wrk.body = {json.dumps(body)}"]
    lines += [f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return Script(path, method, body, tuple(headers.items()))


def browser_session(base: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def filled_form(html: str) -> str:
    """A question page's form body with the worked case's answers to its questions."""
    fields = set(re.findall(r'name="([a-z_]+)"', html)) - {"csrf_token", "action", "draft_token"}
    data = [("csrf_token", token(html))]
    for field in sorted(fields):
        value = CASE["answers"].get(field)
        for item in value if isinstance(value, list) else ([value] if value is not None else []):
            data.append((field, str(item)))
    return urllib.parse.urlencode(data)


def five_answers(html: str) -> str:
    """The bare app's form body: its token and yes to the five questions."""
    value = re.search(r'value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    return urllib.parse.urlencode([("csrf_token", value)] + [(f"q{n}", "yes") for n in range(5)])


def answer_everything(base: str) -> tuple[str, str]:
    """Walk the journey; the session cookie for the result page, and a question page's form body."""
    opener, jar = browser_session(base)
    url = base + "/questions/safety"
    safety_body = ""
    for _ in range(10):
        if "/questions/" not in url:
            break
        body = filled_form(opener.open(url).read().decode())
        safety_body = safety_body or body
        url = opener.open(url, body.encode()).url
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, safety_body


@dataclass(frozen=True)
class Route:
    label: str
    server: Gunicorn
    path: str
    script: Script | None = None
    yardstick: str | None = None  # the bare route it is compared with
    expect: int = 200  # the status its work ends in

    def check(self) -> None:
        status = status_of(self.server.url + self.path, self.script)
        if status != self.expect:
            raise SystemExit(f"{self.label} answered {status}, not {self.expect}: it would measure other work")

    def measure(self, seconds: int) -> dict[str, float]:
        """wrk's figures, and the server's CPU time per request (user and system, in µs)."""
        before = self.server.cpu_seconds()
        figures = wrk(self.server.url + self.path, seconds, 16, self.script)
        figures["cpu_us"] = (self.server.cpu_seconds() - before) / max(figures["requests"], 1) * 1e6
        return figures


def paired(target: Route, yardstick: Route, pairs: int, seconds: int) -> list[tuple[float, float]]:
    """``target`` measured ``pairs`` times, each between two measurements of ``yardstick``:
    (ratio of requests a second, ratio by CPU a request) to the mean of the two beside it."""
    before = yardstick.measure(seconds)
    ratios = []
    for _ in range(pairs):
        mine, after = target.measure(seconds), yardstick.measure(seconds)
        ratios.append(
            (
                mine["rps"] / ((before["rps"] + after["rps"]) / 2),
                (before["cpu_us"] + after["cpu_us"]) / 2 / mine["cpu_us"],
            )
        )
        before = after
    return ratios


def form_session(base: str, path: str = "/form") -> tuple[str, str]:
    """The bare app's form: a session cookie and a valid five-answer body."""
    opener, jar = browser_session(base)
    body = five_answers(opener.open(base + path).read().decode())
    return "; ".join(f"{c.name}={c.value}" for c in jar), body


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    cpu = model.group(1) if model else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="seconds per measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all routes (default 3)")
    parser.add_argument("--pairs", type=int, default=8, help="measurements of each target (default 8)")
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

    bare = Gunicorn("bare_app:app", {"CHECKER_SECRET_KEY": "bench-secret"}, ROOT / "bench")
    app = Gunicorn("checker:create_app()", env, ROOT)
    # The same app with rate limits on (memory storage) but too high to be reached by wrk: their cost.
    never = "1000000000 per minute"
    limited = Gunicorn("checker:create_app()", {**env, "CHECKER_RATELIMIT_ENABLED": "true",
                       "CHECKER_RATE_LIMIT_API": never, "CHECKER_RATE_LIMIT_QUESTIONS": never}, ROOT)  # fmt: skip
    json_body = json.dumps({"answers": CASE["answers"]})
    json_post = lua(folder, "assess", "POST", json_body, {"Content-Type": "application/json"})
    form_cookie, form_body = form_session(bare.url)
    form_post = lua(folder, "form", "POST", form_body,
                    {"Content-Type": "application/x-www-form-urlencoded", "Cookie": form_cookie})  # fmt: skip
    page_cookie, page_body = form_session(bare.url, "/page")
    page_post = lua(folder, "page", "POST", page_body,
                    {"Content-Type": "application/x-www-form-urlencoded", "Cookie": page_cookie})  # fmt: skip
    cookie, safety_body = answer_everything(app.url)
    question = lua(folder, "question", "POST", safety_body,
                   {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})  # fmt: skip
    with_cookie = lua(folder, "cookie", "GET", "", {"Cookie": cookie})
    limited_cookie, limited_body = answer_everything(limited.url)
    limited_question = lua(folder, "limited", "POST", limited_body,
                           {"Content-Type": "application/x-www-form-urlencoded", "Cookie": limited_cookie})  # fmt: skip
    routes = [
        Route("bare GET /json", bare, "/json"),
        Route("bare GET /template", bare, "/template"),
        Route("bare POST /engine (floor)", bare, "/engine", json_post, "bare GET /json"),
        Route("bare POST /form (floor)", bare, "/form", form_post, "bare GET /template", 302),
        Route("bare POST /page (+session, engine)", bare, "/page", page_post, "bare GET /template", 302),
        Route("GET / (landing)", app, "/", None, "bare GET /template"),
        Route("GET /questions/safety", app, "/questions/safety", with_cookie, "bare GET /template"),
        Route("POST /questions/safety", app, "/questions/safety", question, "bare GET /template", 302),
        Route(
            "POST /questions/safety, limits on",
            limited,
            "/questions/safety",
            limited_question,
            "bare GET /template",
            302,
        ),
        Route("POST /api/v1/assess", app, "/api/v1/assess", json_post, "bare GET /json"),
        Route("POST /api/v1/assess, limits on", limited, "/api/v1/assess", json_post, "bare GET /json"),
        Route("GET /result", app, "/result", with_cookie, "bare GET /template"),
    ]
    for route in routes:
        route.check()
    for route in routes:  # warm every worker first: a cold one made the first round of each route an outlier
        route.measure(2)
    runs: dict[Route, list[dict[str, float]]] = {route: [] for route in routes}
    for _ in range(args.rounds):
        for route in routes:
            runs[route].append(route.measure(args.seconds))
    by_label = {route.label: route for route in routes}
    targets = {
        (label, yardstick): paired(by_label[label], by_label[yardstick], args.pairs, args.seconds)
        for label, yardstick, _least in TARGETS
    }
    soak = wrk(app.url + "/api/v1/assess", args.soak, 64, json_post)

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
        try:
            return int(opener.open(app.url + "/request-consultation", urllib.parse.urlencode(data).encode()).status)
        except urllib.error.HTTPError as refused:  # counted and shown below, not a crash of the bench
            return refused.code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(500)))
    load.wait()
    with sqlite3.connect(database) as connection:
        stored = connection.execute("SELECT COUNT(*) FROM consultation_request").fetchone()[0]
    # Last, as renders queued by wrk go on after it stops; each takes ~0.3 s of a core, so 16 at
    # once wait longer than wrk's usual 2 s time-out: measured with a 30 s one.
    pdf = wrk(app.url + "/result.pdf", args.seconds * 2, 16, with_cookie, timeout=30)
    app_memory, bare_memory = app.worker_memory_mb(), bare.worker_memory_mb()
    for server in (app, limited, bare):
        server.stop()

    sys.path.insert(0, str(ROOT))
    from checker.engine import assess as run
    from checker.engine import load_rules

    rules = load_rules(ROOT / "rules.yaml")
    timings = []
    for _ in range(5000):
        start = time.perf_counter_ns()
        run(rules, CASE["answers"]).to_json()
        timings.append(time.perf_counter_ns() - start)

    def median(route: Route, key: str) -> float:
        return statistics.median(r[key] for r in runs[route])

    yardsticks = {route.label: route for route in routes if route.yardstick is None}
    print(f"{datetime.date.today()}; {machine()}")
    print(f"gunicorn {WORKERS} workers x {THREADS} threads (gthread), wrk -t2 -c16 on the same cores; "
          f"{args.rounds} rounds of {args.seconds} s a route, medians")  # fmt: skip
    print(f"{'route':<36} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU µs':>7}  ratio to the bare app")
    for route in routes:
        note = ""
        if route.yardstick:
            pairs = zip(runs[route], runs[yardsticks[route.yardstick]], strict=True)
            note = f"{statistics.median(a['rps'] / b['rps'] for a, b in pairs):.0%} of {route.yardstick[5:]}"
        errors = sum(r["errors"] for r in runs[route])
        print(f"{route.label:<36} {median(route, 'rps'):>7.0f} {median(route, 'p50'):>7.1f} "
              f"{median(route, 'p99'):>7.1f} {errors:>6.0f} {median(route, 'cpu_us'):>7.0f}  {note}")  # fmt: skip
    print(f"targets, each measured {args.pairs} times between two measurements of its yardstick:")
    for label, yardstick, least in TARGETS:
        ratios = sorted(rps for rps, _cpu in targets[label, yardstick])
        by_cpu = statistics.median(cpu for _rps, cpu in targets[label, yardstick])
        verdict = "met" if statistics.median(ratios) >= least else "NOT MET"
        print(f"target: {label} at >= {least:.0%} of {yardstick}: median {statistics.median(ratios):.0%} "
              f"(from {ratios[0]:.0%} to {ratios[-1]:.0%}; by CPU a request {by_cpu:.0%}): {verdict}")  # fmt: skip
    # Not a target: the question page against a floor that also does what the page cannot do without.
    rounds = list(zip(runs[by_label["POST /questions/safety, limits on"]],
                      runs[by_label["bare POST /page (+session, engine)"]], strict=True))  # fmt: skip
    print(f"for comparison: POST /questions/safety, limits on, at "
          f"{statistics.median(a['rps'] / b['rps'] for a, b in rounds):.0%} of bare POST /page "
          f"(by CPU a request {statistics.median(b['cpu_us'] / a['cpu_us'] for a, b in rounds):.0%})")  # fmt: skip
    print(f"{'GET /result.pdf':<36} {pdf['rps']:>7.1f} {pdf['p50']:>7.1f} {pdf['p99']:>7.1f} {pdf['errors']:>6.0f}")
    print(
        f"soak: POST /api/v1/assess, 64 connections, {args.soak}s: {soak['rps']:.0f} req/s, p99 {soak['p99']:.1f} ms, "
        f"{soak['errors']:.0f} errors"
    )
    others = ", ".join(f"{statuses.count(code)} answered {code}" for code in sorted(set(statuses) - {200}))
    print(f"consultation requests under load: {statuses.count(200)} of 500 answered 200"
          f"{'; ' + others if others else ''}; {stored} rows stored")  # fmt: skip
    print(f"engine per assessment: median {statistics.median(timings) / 1000:.1f} µs")

    def summary(sizes: list[tuple[float, float]]) -> str:
        rss, pss = statistics.median(s[0] for s in sizes), statistics.median(s[1] for s in sizes)
        return f"RSS {rss:.0f} MB, PSS {pss:.0f} MB"

    print(f"memory per worker (median): app {summary(app_memory)}; bare {summary(bare_memory)}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
