"""Why the baselines are set up as they are: their variants under the paper's protocol on one dataset folder.

    .venv/bin/python benchmarks/baselines_variants.py --data DIR --cache DIR [--splits 5] [--seed 0] \
        [--split-mode random|folds]

Colour histogram: colour space and bins, square root or not, standardised features or not, least squares (λ = 0)
or ridge with λ by generalised cross-validation. Face expression: ordinary least squares or GCV ridge. Each row is
mean ± std over the dataset's seeded 80/20 splits (std with ddof = 0) of accuracy, nMSE per GIF, nMSE per
emotion; the row marked * is the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

import numpy as np

from kavan.baselines import colour_histogram, face_expression
from kavan.baselines.config import ColourHistogramConfig
from kavan.baselines.linear import LinearBaseline
from kavan.data.dataset import Dataset
from kavan.data.splits import SPLIT_MODES
from kavan.training import metrics


def evaluate(dataset: Dataset, features: np.ndarray, splits, ridge: float | None, standardise: bool) -> str:
    rows = []
    for train, test in splits:
        a, b = dataset.rows(train), dataset.rows(test)
        pred = LinearBaseline(ridge, standardise).fit(features[a], dataset.scores[a]).predict(features[b])
        y = dataset.scores[b]
        rows.append((metrics.quadrant_accuracy(pred, y), metrics.nmse_per_gif(pred, y),
                     metrics.nmse_per_emotion(pred, y)))
    rows = np.array(rows)
    return " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(rows.mean(axis=0), rows.std(axis=0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-mode", choices=SPLIT_MODES, default="random",
                        help="random: independent seeded 80/20 splits (the paper's); folds: disjoint folds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    dataset = Dataset(args.data)
    splits = dataset.splits(n_splits=args.splits, seed=args.seed, mode=args.split_mode)
    print("| baseline | features | regression | accuracy | nMSE per GIF | nMSE per emotion |")
    print("|---|---|---|---|---|---|")
    default = ColourHistogramConfig()
    for space, bins in (("hsv", (8, 4, 4)), ("hsv", (16, 4, 4)), ("rgb", (4, 4, 4)), ("rgb", (8, 8, 8))):
        for root in (True, False):
            config = dataclasses.replace(default, space=space, bins=bins, root=root)
            x = colour_histogram.extract_features(dataset, dataset.ids, args.cache, config=config, progress=False)
            for ridge, standardise in ((None, False), (None, True), (0.0, False)):
                is_default = (config, ridge, standardise) == (default, default.ridge, colour_histogram.STANDARDISE)
                star = "*" if is_default else ""
                label = f"{space} {'×'.join(map(str, bins))}{', root' if root else ''}"
                regression = f"{'GCV ridge' if ridge is None else 'OLS'}{', standardised' if standardise else ''}"
                print(f"| colour{star} | {label} | {regression} | {evaluate(dataset, x, splits, ridge, standardise)} |")
    x = face_expression.extract_features(dataset, dataset.ids, args.cache, progress=False)
    for ridge, label in ((0.0, "OLS*"), (None, "GCV ridge")):
        print(f"| face | 136-D | {label}, standardised | {evaluate(dataset, x, splits, ridge, True)} |")


if __name__ == "__main__":
    main()
