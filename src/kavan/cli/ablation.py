"""`kavan ablation`: every row of the paper's tables (models, baselines, chance) on the same splits (kavan.experiments.ablation).

Writes <out>/results.md (Table 1 accuracy, Table 2 nMSE, mean ± std) and <out>/results.json, and prints
results.md. Rerun the same command to continue an interrupted ablation: finished row/splits are reused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kavan.cli._common import add_no_progress, add_overrides, command_line

NAME = "ablation"
HELP = "run every table row (paper rows, unsupervised attention, baselines, chance) on the same splits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="dataset folder (docs/data.md)")
    parser.add_argument("--configs", nargs="+", metavar="FILE",
                        help="model row configs: YAML files or shipped names (default: the rows of --settings)")
    parser.add_argument("--settings", choices=("bench", "bench-trainable", "paper"), default="bench",
                        help="the shipped rows to run (kavan configs list): bench (frozen MobileNetV2, cached "
                             "features; default), bench-trainable (the same with MobileNetV2's last block trained on "
                             "cached features of the rest) or paper (the paper's architecture, ResNet-50 end to end, "
                             "with project-default hyper-parameters)")
    parser.add_argument("--splits", type=int, metavar="N",
                        help="run only the protocol's first N splits (default: all of them, 5)")
    parser.add_argument("--baselines", nargs="*", metavar="NAME",
                        help="baseline rows (default: all; give none to skip them)")
    parser.add_argument("--out", type=Path, default=Path("runs") / "ablation", help="output folder (default runs/ablation)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR", help="backbone feature cache root "
                        "(default <data>/cache/features)")
    parser.add_argument("--baseline-cache", type=Path, metavar="DIR",
                        help="baseline feature cache (default <data>/cache/baselines)")
    add_overrides(parser, "override a value in every model config (repeatable), e.g. --set train.epochs=5")
    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from kavan.baselines import BASELINES
    from kavan.config import config_file
    from kavan.experiments.ablation import RESULTS_MD, AblationSettings, default_configs, run_ablation

    command = command_line(NAME, args, ["data", "configs", "settings", "splits", "baselines", "out", "cache-dir",
                                        "baseline-cache"], extra=["--baselines"] if args.baselines == [] else [])
    settings = AblationSettings(
        data=args.data, configs=tuple(map(config_file, args.configs)) if args.configs else default_configs(args.settings),
        out=args.out, settings=args.settings,
        baselines=tuple(BASELINES) if args.baselines is None else tuple(args.baselines),
        n_splits=args.splits, cache_dir=args.cache_dir, baseline_cache=args.baseline_cache,
        overrides=tuple(args.overrides), progress=not args.no_progress)
    run_ablation(settings, command)
    print((args.out / RESULTS_MD).read_text(encoding="utf-8"))
    return 0
