"""`kavan data`: dataset folder tools. `kavan data check DIR` validates a folder and reports every problem."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "data"
HELP = "dataset folder tools (check: validate a dataset folder)"


def _workers(text: str) -> int:
    """--workers: a count of processes, 0 meaning this one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate a dataset folder; exit 0 when it is usable (warnings allowed), 1 otherwise",
        description="Validate a dataset folder: scores.csv, media files (every frame decoded), keypoint caches, "
                    "votes.csv. Exit code 0 when the folder is usable (warnings allowed), 1 otherwise.")
    check.add_argument("dir", type=Path, metavar="DIR", help="dataset folder")
    check.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    check.add_argument("--quick", action="store_true",
                       help="read the media files' headers only, not every frame (fast; misses damaged frames)")
    check.add_argument("--workers", type=_workers, default=None,
                       help="processes decoding media files side by side (default: one per CPU, at most 8, and "
                            "per 32 files, so a small folder is decoded in this process; 0 decodes in this process)")


def run(args: argparse.Namespace) -> int:
    from kavan.data.check import check_dataset

    report = check_dataset(args.dir, decode_frames=not args.quick, workers=args.workers)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.render() + "\n")
    return 0 if report.ok else 1
