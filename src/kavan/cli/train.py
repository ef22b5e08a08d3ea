"""`kavan train`: train one configuration on one train/test split of a dataset folder, then test it.

Also runs under torchrun for multi-process (DDP) training: ``torchrun --nproc_per_node 2 -m kavan train ...``.
Prints the run's test metrics as JSON on stdout; the run folder holds everything else (docs/training.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "train"
HELP = "train one config on one train/test split of a dataset folder and test it (torchrun works too)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML (e.g. configs/bench/mtl-softatt-hslstm.yaml)")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder (docs/data.md)")
    parser.add_argument("--split", type=int, default=0, metavar="K", help="which split to train on (default 0)")
    parser.add_argument("--split-file", metavar="F", help="JSON split file instead of the config's seeded splits")
    parser.add_argument("--out", metavar="RUN", help="run folder (default runs/<config name>/split-<K>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache root (default <data>/cache/features)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value (repeatable), e.g. --set train.epochs=5")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def command_line(name: str, args: argparse.Namespace, options: list[str]) -> list[str]:
    """The command as a list of words, rebuilt from the parsed arguments (for run.json and results files)."""
    words = ["kavan", name]
    for option in options:
        value = getattr(args, option.replace("-", "_"))
        if value is None or value is False or value == []:
            continue
        flag = f"--{option}"
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words.extend(word for item in value for word in (flag, str(item)))
        else:
            words.extend([flag, str(value)])
    return words


def run(args: argparse.Namespace) -> int:
    from kavan.config import load_config
    from kavan.core.atomic import json_safe
    from kavan.training.distributed import is_main_process, shutdown
    from kavan.training.trainer import train_split

    config = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem / f"split-{args.split}"
    command = command_line(NAME, args, ["config", "data", "split", "split-file", "out", "resume", "cache-dir"])
    command += [word for item in args.overrides for word in ("--set", item)]
    try:
        result = train_split(config, args.data, out, split=args.split, split_file=args.split_file,
                             resume=args.resume, cache_dir=args.cache_dir, progress=not args.no_progress,
                             command=command)
    finally:
        shutdown()
    if is_main_process():
        test = result.metrics["test"]
        print(json.dumps(json_safe({"run": str(result.run_dir), "split": result.metrics["split"],
                          **{k: test[k] for k in ("accuracy", "nmse_per_gif", "nmse_per_emotion", "pearson_mean")}})))
    return 0
