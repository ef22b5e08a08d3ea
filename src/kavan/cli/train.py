"""`kavan train`: train one configuration on one train/test split of a dataset folder, then test it.

Also runs under torchrun for multi-process (DDP) training: ``torchrun --nproc_per_node 2 -m kavan train ...``.
Prints the run's test metrics as JSON on stdout; the run folder holds everything else (docs/training.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kavan.cli._common import add_no_progress, add_overrides, command_line

NAME = "train"
HELP = "train one config on one train/test split of a dataset folder and test it (torchrun works too)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file, or a shipped config's name (e.g. bench/mtl-softatt-hslstm; kavan configs list)")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder (docs/data.md)")
    parser.add_argument("--split", type=int, default=0, metavar="K", help="which split to train on (default 0)")
    parser.add_argument("--split-file", metavar="F", help="JSON split file instead of the config's seeded splits")
    parser.add_argument("--out", metavar="RUN", help="run folder (default runs/<config name>/split-<K>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache root (default <data>/cache/features)")
    parser.add_argument("--init", metavar="MODEL",
                        help="fine-tune: start from the weights of a kavan model file or training checkpoint "
                             "(tensors of the same name and shape; docs/training.md)")
    parser.add_argument("--init-partial", action="store_true",
                        help="with --init: accept tensors of the model's names but other shapes in MODEL, which "
                             "then keep the config's initialisation (refused without it)")
    add_overrides(parser, "override a config value (repeatable), e.g. --set train.epochs=5")
    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from kavan.config import load_config
    from kavan.core.atomic import json_safe
    from kavan.core.errors import KavanError
    from kavan.training.distributed import is_main_process, shutdown
    from kavan.training.trainer import train_split

    config = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem / f"split-{args.split}"
    if args.init_partial and args.init is None:
        raise KavanError("--init-partial goes with --init MODEL")
    command = command_line(NAME, args, ["config", "data", "split", "split-file", "out", "resume", "cache-dir",
                                        "init", "init-partial"])
    try:
        result = train_split(config, args.data, out, split=args.split, split_file=args.split_file,
                             resume=args.resume, cache_dir=args.cache_dir, progress=not args.no_progress,
                             command=command, init=args.init, init_partial=args.init_partial)
    finally:
        shutdown()
    if is_main_process():
        test = result.metrics["test"]
        printed = {"run": str(result.run_dir), "split": result.metrics["split"],
                   **{k: test[k] for k in ("accuracy", "nmse_per_gif", "nmse_per_emotion", "pearson_mean")}}
        init = result.init
        if init is not None:
            printed["init"] = {key: init[key] for key in ("path", "sha256", "loaded", "new", "skipped")}
        print(json.dumps(json_safe(printed)))
    return 0
