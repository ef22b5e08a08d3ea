"""What several benchmark scripts measure the same way: the CPU time a process and its workers used, the
overlap of two boxes, the epoch a training run kept, and the ``--out`` / ``--report`` pair of a results script. Imported as ``from _measure import ...`` (a script's own folder is on its import path)."""

from __future__ import annotations

import argparse
import csv
import json
import resource
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished child processes (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def kept_epoch(run: Path) -> tuple[dict[str, str], int]:
    """The log.csv row of the epoch a run kept (train.select best_val: the lowest validation nMSE per emotion) and
    the number of epochs it ran."""
    with open(Path(run) / "log.csv", newline="") as handle:
        log = list(csv.DictReader(handle))
    return min(log, key=lambda row: float(row["val_nmse_per_emotion"])), len(log)


def add_result_options(parser: argparse.ArgumentParser) -> None:
    """``--out`` (write the numbers to a JSON file) and ``--report`` (print the table of such a file), the two options
    ``measure_or_report`` reads."""
    parser.add_argument("--out", help="write the numbers to this JSON file")
    parser.add_argument("--report", help="print the table of a JSON file written by --out, measuring nothing")


def measure_or_report(args: argparse.Namespace, measure: Callable[[argparse.Namespace], dict],
                      table: Callable[[dict], str]) -> None:
    """A results benchmark's main: with ``args.report`` print the table of that JSON file; else measure, write the
    numbers to ``args.out`` (when given) and print their table."""
    if args.report:
        print(table(json.loads(Path(args.report).read_text())), end="")
        return
    result = measure(args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result), end="")
