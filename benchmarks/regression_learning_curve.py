"""The full model against both baselines after Jou et al. and chance, as the training set grows.

    .venv/bin/python benchmarks/regression_learning_curve.py --data DIR --out DIR [--cache-dir DIR]
        [--baseline-cache DIR] [--sizes 200,400,800,1600] [--split 0] [--config FILE] [--seed 0]
        [--set section.key=value ...]

For each size N, the first N GIFs of a seeded permutation of one split's training GIFs (nested subsets; the same
test GIFs for every size) train the full model (default: the benchmark setting's MTL Soft-Att + HS-LSTM row,
kavan.training.trainer.train_split with a split file, so its recipe's validation hold-out comes out of the N), the
colour-histogram and face-expression baselines (kavan.baselines.run_baseline) and the chance row (the N GIFs'
mean intensities). Prints one Markdown row per size: nMSE per emotion and accuracy of each. A rerun with the same
--out reuses finished model runs and the baseline and chance results made on the same ids. The split's training part must hold max(--sizes) GIFs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from kavan.baselines import run_baseline
from kavan.config import load_config
from kavan.data.dataset import Dataset
from kavan.data.splits import write_split_file
from kavan.experiments.ablation import cached_split_metrics, chance_metrics
from kavan.training.trainer import train_split

DEFAULT_CONFIG = Path("bench/mtl-softatt-hslstm")  # a shipped config
BASELINE_ROWS = ("colour_histogram", "face_expression")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=None, help="feature cache root of the model row")
    parser.add_argument("--baseline-cache", type=Path, default=None, help="default: <data>/cache/baselines")
    parser.add_argument("--sizes", default="200,400,800,1600")
    parser.add_argument("--split", type=int, default=0)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutation the subsets are cut from")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="section.key=value")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    dataset = Dataset(args.data)
    config = load_config(args.config, args.overrides)
    sizes = [int(s) for s in args.sizes.split(",")]
    train, test = dataset.splits(config.data.n_splits, config.data.split_seed, config.data.train_fraction,
                                 config.data.split_mode)[args.split]
    if max(sizes) > len(train):
        parser.error(f"split {args.split} has {len(train)} training GIFs, fewer than {max(sizes)}")
    order = [train[i] for i in np.random.default_rng(args.seed).permutation(len(train))]
    baseline_cache = args.baseline_cache or dataset.root / "cache" / "baselines"
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"`{dataset.root.name}`, split {args.split}: {len(test)} test GIFs; model `{args.config.stem}`"
          + (f" with {' '.join(args.overrides)}" if args.overrides else "") + "\n")
    print("| training GIFs | model nMSE/emotion | colour hist. | face expr. | chance | model acc. | colour hist. "
          "| face expr. | chance |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        subset = sorted(order[:size])
        split_file = args.out / f"split-{args.split}-n{size}.json"
        write_split_file(split_file, [(subset, list(test))])
        run = train_split(config, dataset.root, args.out / args.config.stem / f"n{size}", split_file=split_file,
                          resume=True, cache_dir=args.cache_dir, progress=False)
        rows = {"model": run.metrics["test"]}
        for name in BASELINE_ROWS:
            rows[name] = cached_split_metrics(
                args.out / name / f"n{size}.json", subset, test,
                lambda name=name: run_baseline(name, dataset, subset, list(test), baseline_cache, t=config.model.t,
                                               progress=False))
        rows["chance"] = cached_split_metrics(args.out / "chance" / f"n{size}.json", subset, test,
                                              lambda: chance_metrics(dataset, subset, list(test)))
        order_shown = ("model", *BASELINE_ROWS, "chance")
        nmse = " | ".join(f"{rows[r]['nmse_per_emotion']:.3f}" for r in order_shown)
        acc = " | ".join(f"{100 * rows[r]['accuracy']:.1f} %" for r in order_shown)
        print(f"| {size} | {nmse} | {acc} |", flush=True)


if __name__ == "__main__":
    main()
