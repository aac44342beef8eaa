"""Benchmark the summaries: PDF rendering and FHIR conversion for the worked cases.

Usage: python bench/reports.py [--rounds N]
Prints figures; the target is under 1 s to render a PDF. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from checker import create_app
from checker.engine import assess
from checker.exports import reports
from checker.exports.fhir import Canon, questionnaire, read_response, result_bundle
from checker.exports.pdf_render import render as render_here
from checker.rules import current_rules

ROOT = Path(__file__).resolve().parent.parent
CASES = {c["name"]: c for c in yaml.safe_load((ROOT / "tests" / "vignettes.yaml").read_text(encoding="utf-8"))}


def median_ms(work: object, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    app = create_app({"SECRET_KEY": "bench", "TESTING": True})
    with app.test_request_context():
        from flask import render_template

        rules = current_rules()
        result = assess(rules, CASES["nine-months-established"]["answers"])
        now = datetime.now(UTC)

        def render() -> bytes:
            html = render_template("pdf/result.html", result=result, rules=rules, when=now, pdf=True)
            return render_here(html)

        def render_isolated() -> bytes:
            html = render_template("pdf/result.html", result=result, rules=rules, when=now, pdf=True)
            reports._cache.clear()
            return reports.pdf_bytes(html)

        start = time.perf_counter()
        render()
        first = (time.perf_counter() - start) * 1000
        pdf = median_ms(render, args.rounds)
        reports.start_renderer()
        render_isolated()  # the PDF server's own start is not a request's cost
        isolated = median_ms(render_isolated, args.rounds)
        canon = Canon("https://selfcheck.example/api/v1/fhir")
        bundle = result_bundle(result, now, canon)
        to_fhir = median_ms(lambda: result_bundle(result, now, canon), args.rounds * 10)
        response = bundle["entry"][0]["resource"]
        known = {rules.version: rules}
        from_fhir = median_ms(lambda: read_response(response, canon, known), args.rounds * 10)
        catalogue = median_ms(lambda: questionnaire(rules, canon), args.rounds * 5)
        size = len(render())
    print(f"PDF of the nine-month case ({size} bytes): first {first:.0f} ms, then median {pdf:.0f} ms"
          "  (target < 1000 ms)")  # fmt: skip
    print(f"the same in a child process of the PDF server, as requests get it: median {isolated:.0f} ms")
    print(f"FHIR Bundle (QuestionnaireResponse + Observations) from a result: median {to_fhir:.1f} ms")
    print(f"answers read back from a QuestionnaireResponse: median {from_fhir:.1f} ms")
    print(f"FHIR Questionnaire from the rules: median {catalogue:.1f} ms")


if __name__ == "__main__":
    main()
