"""`kavan evaluate`: the paper's protocol for one config: train and test on every split, mean ± std.

Writes <out>/split-<k>/ (one run folder per split) and <out>/evaluation.json + evaluation.md; prints the summary
(mean ± std of accuracy, nMSE per GIF, nMSE per emotion, mean Pearson r) as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kavan.cli._common import add_no_progress, add_overrides, command_line

NAME = "evaluate"
HELP = "run the 5-split protocol for one config (train + test per split) and report mean ± std"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file, or a shipped config's name (e.g. bench/mtl-softatt-hslstm; kavan configs list)")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder (docs/data.md)")
    parser.add_argument("--split-file", metavar="F", help="JSON split file instead of the config's seeded splits")
    parser.add_argument("--splits", type=int, nargs="+", metavar="K", help="only these splits (default: all)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default runs/<config name>)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse finished splits in --out and continue interrupted ones")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache root (default <data>/cache/features)")
    add_overrides(parser, "override a config value (repeatable), e.g. --set train.epochs=5")
    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from kavan.config import load_config
    from kavan.core.atomic import json_safe
    from kavan.experiments.protocol import METRICS, run_protocol
    from kavan.training.distributed import is_main_process, shutdown

    config = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    command = command_line(NAME, args, ["config", "data", "split-file", "out", "resume", "cache-dir"],
                           extra=["--splits", *map(str, args.splits)] if args.splits else [])
    try:
        result = run_protocol(config, args.data, out, split_file=args.split_file, splits=args.splits,
                              resume=args.resume, cache_dir=args.cache_dir, progress=not args.no_progress,
                              command=command, name=Path(args.config).stem)
    finally:
        shutdown()
    if is_main_process():
        metrics = result.summary["metrics"]
        print(json.dumps(json_safe({"out": str(result.out_dir), "splits": result.summary["splits"],
                          **{key: {"mean": metrics[key]["mean"], "std": metrics[key]["std"]} for key, _, _ in METRICS}})))
    return 0
