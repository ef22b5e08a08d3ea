"""How long `make test` takes with a ready venv, on every core as the Makefile runs it and serial, and how many
tests each collects.

    .venv/bin/python benchmarks/suite_time.py --out docs/results/suite-time.json [--no-serial]
    .venv/bin/python benchmarks/suite_time.py --report docs/results/suite-time.json

Runs, from the repository root, ``make test`` itself (ruff, then pytest with ``-n auto --dist loadfile``; the venv
must be ready, so nothing is installed) and, unless ``--no-serial``, ``python -m pytest -q -p no:xdist`` (serial),
and records each run's wall-clock seconds, pytest's summary line (passed, failed, skipped) and the load average
before and after. In a fresh clone, after ``make .venv/.kavan-installed``, the first run is exactly the check a
newcomer's ``make test`` makes.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from _measure import add_result_options, measure_or_report

REPO = Path(__file__).resolve().parents[1]
RUNS = {"make test (-n auto --dist loadfile)": ["make", "test"],
        "serial": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]}


def run(command: list[str]) -> dict:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return {"seconds": round(seconds, 1), "returncode": done.returncode, "summary": summary, "counts": counts,
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def measure(args: argparse.Namespace) -> dict:
    runs = {name: run(command) for name, command in RUNS.items() if not (args.no_serial and name == "serial")}
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "runs": runs}


def table(result: dict) -> str:
    lines = [f"Machine: {result['machine']}.", "", "| run | wall clock | tests (passed / failed / skipped) | load "
             "average before, after |", "|---|---|---|---|"]
    for name, r in result["runs"].items():
        c = r["counts"]
        minutes, seconds = divmod(round(r["seconds"]), 60)
        lines.append(f"| {name} | {minutes} min {seconds:02d} s | {c.get('passed', 0)} / {c.get('failed', 0)} / "
                     f"{c.get('skipped', 0)} | {r['load_before']}, {r['load_after']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-serial", action="store_true", help="time only the make test run")
    add_result_options(parser)
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
