"""How long `make test` takes with a ready venv, on every core as the Makefile runs it and serial, and how many
tests each collects.

    .venv/bin/python benchmarks/suite_time.py --out docs/results/suite-time.json [--no-serial]
    .venv/bin/python benchmarks/suite_time.py --report docs/results/suite-time.json

Runs, from the repository root, ``make test`` itself (ruff, then pytest with ``-n auto --dist loadfile``; the venv
must be ready, so nothing is installed) and, unless ``--no-serial``, ``python -m pytest -q -p no:xdist`` (serial),
and records each run's wall-clock seconds, pytest's summary line (passed, failed, skipped), the load average before
and after, and the most disk its temporary files held at once: each run gets an empty TMPDIR of its own (pytest's
tmp_path folders and every temporary file a test or its commands make), whose size is sampled every few seconds.
In a fresh clone, after ``make .venv/.kavan-installed``, the first run is exactly the check a newcomer's ``make
test`` makes.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _measure import add_result_options, measure_or_report

REPO = Path(__file__).resolve().parents[1]
RUNS = {"make test (-n auto --dist loadfile)": ["make", "test"],
        "serial": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]}
SAMPLE_SECONDS = 3.0  # how often the run's TMPDIR is measured


def disk_bytes(folder: Path) -> int:
    """Bytes of disk the files under ``folder`` occupy (their allocated blocks); files that vanish while the folder
    is walked are skipped."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def run(command: list[str]) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="kavan-suite-"))
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], disk_bytes(scratch))

    sampler = threading.Thread(target=sample, daemon=True)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    sampler.start()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(scratch)})
        seconds = time.perf_counter() - start
    finally:
        stop.set()
        sampler.join()
        left = disk_bytes(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    # pytest's short summary (-ra, set in pyproject.toml) names each test that failed or erred
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, flags=re.MULTILINE)
    return {"seconds": round(seconds, 1), "returncode": done.returncode, "summary": summary, "counts": counts,
            "failed": failed, "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
            "temp_peak_mb": round(max(peak[0], left) / 2**20), "temp_left_mb": round(left / 2**20)}


def measure(args: argparse.Namespace) -> dict:
    runs = {name: run(command) for name, command in RUNS.items() if not (args.no_serial and name == "serial")}
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "runs": runs}


def table(result: dict) -> str:
    lines = [f"Machine: {result['machine']}.", "", "| run | wall clock | tests (passed / failed / skipped) | load "
             "average before, after | temporary files at most, left |", "|---|---|---|---|---|"]
    for name, r in result["runs"].items():
        c = r["counts"]
        minutes, seconds = divmod(round(r["seconds"]), 60)
        lines.append(f"| {name} | {minutes} min {seconds:02d} s | {c.get('passed', 0)} / {c.get('failed', 0)} / "
                     f"{c.get('skipped', 0)} | {r['load_before']}, {r['load_after']} | {r['temp_peak_mb']:,} MB, "
                     f"{r['temp_left_mb']:,} MB |")
    lines += [f"\n{name}: failed {test}" for name, r in result["runs"].items() for test in r["failed"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-serial", action="store_true", help="time only the make test run")
    add_result_options(parser)
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
