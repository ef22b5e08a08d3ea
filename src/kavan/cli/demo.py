"""`kavan demo`: what `make demo` runs (see kavan.showcase.demo)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kavan.cli._common import add_no_progress, add_overrides

NAME = "demo"
HELP = ("run the demo job: decode the real GIFs, generate a SynthGIF set, run the ablation at benchmark settings, "
        "print the tables, draw attention overlays, leave a trained model")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default demo-out)")
    parser.add_argument("--real-gifs", type=Path, default=None,
                        help="folder of real GIFs (default $KAVAN_REAL_GIFS; without either the real-GIF sheet "
                        "is skipped)")
    parser.add_argument("--config", default="paper/mtl-softatt-hslstm",
                        help="model config to describe: a YAML file or a shipped name (default paper/mtl-softatt-hslstm)")
    parser.add_argument("--n", type=int, default=400, help="SynthGIF GIFs to generate (default 400)")
    parser.add_argument("--splits", type=int, default=1,
                        help="ablation on the protocol's first N splits (default 1, to fit 15 minutes on 2 cores)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="exactly this many training epochs per row (default: the configs' recipe, 15 epochs "
                        "and at least 750 optimiser steps)")
    add_overrides(parser, "override a value in every row's config (repeatable), e.g. --set train.batch_size=16")
    add_no_progress(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes for SynthGIF (default: CPU count)")


def run(args: argparse.Namespace) -> int:
    from kavan.showcase.demo import DemoSettings, real_gif_folder, run_demo

    settings = DemoSettings(out=args.out, real_gifs=args.real_gifs or real_gif_folder(), config=args.config,
                            n_synth=args.n, seed=args.seed, workers=args.workers, splits=args.splits,
                            epochs=args.epochs, overrides=tuple(args.overrides),
                            progress=not args.no_progress)
    written = run_demo(settings)
    print(json.dumps(written, indent=2))
    return 0
