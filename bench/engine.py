"""Benchmark the rule engine: rules load time and time per assessment.

Usage: python bench/engine.py [--rounds N]
Prints figures; targets are under 150 ms to load and under 50 µs per assessment.
Not a test: timings depend on the machine and what else it is doing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from checker.engine import assess, load_rules

ROOT = Path(__file__).resolve().parent.parent
CASES = yaml.safe_load((ROOT / "tests" / "vignettes.yaml").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="assessments per worked case (default 2000)")
    args = parser.parse_args()

    loads = []
    for _ in range(20):
        start = time.perf_counter()
        rules = load_rules(ROOT / "rules.yaml")
        loads.append(time.perf_counter() - start)

    per_case: dict[str, float] = {}
    for case in CASES:
        answers = case["answers"]
        timings = []
        for _ in range(args.rounds):
            start = time.perf_counter_ns()
            assess(rules, answers).to_json()
            timings.append(time.perf_counter_ns() - start)
        per_case[case["name"]] = statistics.median(timings) / 1000

    overall = statistics.median(per_case.values())
    print(
        f"rules load (parse, check, compile, run {len(rules.cases)} worked cases), median of 20: "
        f"{statistics.median(loads) * 1000:.1f} ms  (target < 150 ms)"
    )
    print(
        f"assessment incl. validation and JSON result, median over {len(CASES)} cases x {args.rounds}: "
        f"{overall:.1f} µs  (target < 50 µs)"
    )
    for name, micros in per_case.items():
        print(f"  {name:<36} {micros:6.1f} µs")


if __name__ == "__main__":
    main()
