"""`kavan data`: dataset folder tools. `kavan data check DIR` validates a folder and reports every problem."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "data"
HELP = "dataset folder tools (check: validate a dataset folder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate a dataset folder; exit 0 when it is usable (warnings allowed), 1 otherwise",
        description="Validate a dataset folder: scores.csv, media files (decoded), keypoint caches, votes.csv. "
                    "Exit code 0 when the folder is usable (warnings allowed), 1 otherwise.")
    check.add_argument("dir", type=Path, metavar="DIR", help="dataset folder")
    check.add_argument("--json", action="store_true", help="print the report as JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from kavan.datacheck import check_dataset

    report = check_dataset(args.dir)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.render() + "\n")
    return 0 if report.ok else 1
