"""Where attention looks, with and without keypoint supervision, as the training set grows.

    .venv/bin/python benchmarks/attention_learning_curve.py --data DIR --out DIR [--cache-dir DIR]
        [--sizes 200,400,800,1600] [--split 0] [--configs FILE ...] [--seed 0]

Trains each config (default: the benchmark setting's MTL row with keypoint supervision and its unsupervised twin)
on nested subsets of one split's training GIFs (the first N of a seeded permutation; the same test GIFs for every
size), through kavan.training.trainer.train_split with a split file, and scores the test attention against the
ground-truth faces with the ablation's own `run_localisation` (cached in the run's localisation.json). A rerun
with the same --out reuses finished runs.
Needs a SynthGIF folder (ground truth) whose split has at least max(--sizes) training GIFs.

Prints one Markdown row per (size, config): accuracy, nMSE per emotion, attention argmax on a face box grown by one
cell and on the exact box, the attention mass on the exact boxes, and the centre-cell map's grown-box rate on the
same frames as the reference.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from kavan.config import load_config
from kavan.data.dataset import Dataset
from kavan.data.splits import write_split_file
from kavan.experiments.ablation import run_localisation
from kavan.experiments.localisation import has_groundtruth
from kavan.training.trainer import train_split

DEFAULT_CONFIGS = [Path("bench/mtl-softatt-hslstm"), Path("bench/mtl-unsupatt-hslstm")]  # shipped configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--sizes", default="200,400,800,1600")
    parser.add_argument("--split", type=int, default=0)
    parser.add_argument("--configs", type=Path, nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutation the subsets are cut from")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    dataset = Dataset(args.data)
    if not has_groundtruth(dataset.root):
        parser.error(f"{args.data} has no groundtruth/landmarks: localisation needs a SynthGIF folder")
    sizes = [int(s) for s in args.sizes.split(",")]
    first = load_config(args.configs[0])
    train, test = dataset.splits(first.data.n_splits, first.data.split_seed, first.data.train_fraction,
                                 first.data.split_mode)[args.split]
    if max(sizes) > len(train):
        parser.error(f"split {args.split} has {len(train)} training GIFs, fewer than {max(sizes)}")
    order = [train[i] for i in np.random.default_rng(args.seed).permutation(len(train))]
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"split {args.split}: {len(train)} training GIFs, {len(test)} test GIFs\n")
    print("| training GIFs | row | accuracy | nMSE per emotion | attention on face (grown box) | exact box "
          "| mass on face | centre map (grown box) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        split_file = args.out / f"split-{args.split}-n{size}.json"
        write_split_file(split_file, [(sorted(order[:size]), list(test))])
        for path in args.configs:
            config = load_config(path)
            run = train_split(config, dataset.root, args.out / path.stem / f"n{size}", split_file=split_file,
                              resume=True, cache_dir=args.cache_dir, progress=False)
            test_metrics = run.metrics["test"]
            report = run_localisation(run.run_dir, dataset)
            cells = ["n/a"] * 4
            if report is not None:
                cells = [f"{100 * report['hit_rate']:.1f} %", f"{100 * report['exact']['hit_rate']:.1f} %",
                         f"{100 * report['mass']:.1f} %", f"{100 * report['centre_prior']['hit_rate']:.1f} %"]
            print(f"| {size} | {path.stem} | {100 * test_metrics['accuracy']:.1f} % | "
                  f"{test_metrics['nmse_per_emotion']:.3f} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
