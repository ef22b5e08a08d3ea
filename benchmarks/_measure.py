"""What several benchmark scripts measure the same way: the CPU time a process and its workers used, and the
overlap of two boxes. Imported as ``from _measure import ...`` (a script's own folder is on its import path)."""

from __future__ import annotations

import argparse
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
