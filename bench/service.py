"""What an instance costs to run: memory, start-up and the first PDF, against the goals.

Usage: python bench/service.py [--workers 5] [--requests 600]
Starts gunicorn (gunicorn.conf.py) on a temporary SQLite database, sends a mix of page, API
and PDF requests, and reads each process's proportional set size (PSS: shared pages divided
among the processes sharing them) from /proc. Start-up is create_app() in a fresh interpreter,
against the floor of a fresh interpreter that imports flask, flask_sqlalchemy, flask_wtf,
sqlalchemy and yaml and makes a bare Flask app, both measured here in the same run (nine
interleaved pairs, in CPU seconds, with compiled byte code; the median of the pairs' ratios).
Prints figures; not a test.

Goals: an instance of five workers under 250 MB after load; the outbox process under 60 MB;
start-up at most 1.5 times the floor; the first PDF after start under 1 s.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.databases import free_port  # noqa: E402

ANSWERS = next(
    case["answers"]
    for case in yaml.safe_load((ROOT / "tests" / "vignettes.yaml").read_text(encoding="utf-8"))
    if case["name"] == "nine-months-established"
)
FLOOR = "import flask, flask_sqlalchemy, flask_wtf, sqlalchemy, yaml\nflask.Flask('floor')"
APP = "from checker import create_app\ncreate_app({'DATABASE_URL': 'sqlite:///' + __import__('tempfile').mktemp()})"
TIMED = "import time\nstart = time.process_time()\n{work}\nprint(time.process_time() - start)"


def pss_kib(pid: int) -> int:
    """A process's proportional set size in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        queue.extend(int(child) for child in children)
    return found


def name_of(pid: int, master: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    if pid == master:
        return "gunicorn master"
    if "pdf_server" in command:
        return "PDF server"
    return "gunicorn worker" if "gunicorn" in command else command[:60]


def cpu_seconds(code: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", TIMED.format(work=code)], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def start_up(env: dict[str, str], rounds: int = 9) -> tuple[float, float, float]:
    """Floor and app in interleaved pairs (the host drifts less within a pair): the medians of
    each, and the median of the pairs' ratios."""
    cpu_seconds(APP, env)  # writes the byte code once
    pairs = [(cpu_seconds(FLOOR, env), cpu_seconds(APP, env)) for _ in range(rounds)]
    floor = statistics.median(pair[0] for pair in pairs)
    app = statistics.median(pair[1] for pair in pairs)
    return floor, app, statistics.median(app_cpu / floor_cpu for floor_cpu, app_cpu in pairs)


def fetch(url: str, body: dict[str, object] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as answer:
        return int(answer.code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="checker-bench-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHECKER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"PYTHONPYCACHEPREFIX": str(folder / "pycache"), "CHECKER_SECRET_KEY": "bench-secret-key"})
    floor, app, ratio = start_up(env)

    database = f"sqlite:///{folder / 'bench.db'}"
    subprocess.run([sys.executable, "-m", "flask", "--app", "checker", "db", "upgrade"], cwd=ROOT, check=True,
                   env={**env, "CHECKER_DATABASE_URL": database}, capture_output=True)  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = {**env, "CHECKER_DATABASE_URL": database, "CHECKER_BIND": f"127.0.0.1:{port}",
                  "CHECKER_WORKERS": str(args.workers), "CHECKER_RATELIMIT_ENABLED": "false",
                  "CHECKER_PDF_CONCURRENCY": "4"}  # fmt: skip
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "checker:create_app()"],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    outbox = None
    try:
        while True:
            try:
                if fetch(f"{url}/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.05)
        ready = time.monotonic() - started
        pdf_started = time.perf_counter()
        assert fetch(f"{url}/api/v1/report.pdf", {"answers": ANSWERS}) == 200
        first_pdf = time.perf_counter() - pdf_started

        paths = ["/", "/questions/safety", "/how-this-works", "/api/v1/questionnaire"]
        statuses: collections.Counter[tuple[str, int]] = collections.Counter()

        def client(count: int) -> None:
            for n in range(count):
                if n % 20 == 0:
                    answers = dict(ANSWERS, notes=f"bench {threading.get_ident()} {n}")  # a new PDF, not the cache's
                    statuses["PDF", fetch(f"{url}/api/v1/report.pdf", {"answers": answers})] += 1
                elif n % 3 == 0:
                    statuses["API", fetch(f"{url}/api/v1/assess", {"answers": ANSWERS})] += 1
                else:
                    statuses["page", fetch(url + paths[n % len(paths)])] += 1

        threads = [threading.Thread(target=client, args=(args.requests // 8,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(1)
        processes = {pid: (name_of(pid, server.pid), pss_kib(pid)) for pid in tree(server.pid)}

        outbox = subprocess.Popen(
            [sys.executable, "-m", "checker.worker", "--every", "0.5"],
            cwd=ROOT, env={**env, "CHECKER_DATABASE_URL": database, "CHECKER_MAIL_SERVER": "127.0.0.1",
                           "CHECKER_MAIL_PORT": str(free_port()), "CHECKER_BASE_URL": "https://bench.example"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(6)
        outbox_kib = sum(pss_kib(pid) for pid in tree(outbox.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if outbox is not None:
            outbox.terminate()
            outbox.wait(timeout=30)

    workers = [kib for name, kib in processes.values() if name == "gunicorn worker"]
    total = sum(kib for _, kib in processes.values())
    answered = ", ".join(f"{kind} {status} x {count}" for (kind, status), count in sorted(statuses.items()))
    print(
        f"requests: {statuses.total() + 1} ({answered}; a PDF's 503: every PDF slot busy, try again); "
        f"instance ready in {ready:.1f} s"
    )
    print(f"instance of {args.workers} workers after load: {total / 1024:.0f} MB PSS (goal < 250 MB)")
    for pid, (name, kib) in sorted(processes.items(), key=lambda item: -item[1][1]):
        print(f"  {pid:>7}  {kib / 1024:6.1f} MB  {name}")
    print(f"  workers: median {statistics.median(workers) / 1024:.1f} MB each")
    print(f"outbox process: {outbox_kib / 1024:.0f} MB PSS (goal < 60 MB)")
    print(f"start-up: create_app() {app:.2f} s CPU, floor {floor:.2f} s (medians); median of 9 paired ratios "
          f"{ratio:.2f} x (goal <= 1.5 x)")  # fmt: skip
    print(f"first PDF after start: {first_pdf * 1000:.0f} ms (goal < 1000 ms)")


if __name__ == "__main__":
    main()
