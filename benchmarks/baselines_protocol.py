"""The two Jou et al. (2014) baselines under the paper's protocol on one dataset folder, with chance rows beside them.

    .venv/bin/python benchmarks/baselines_protocol.py --data DIR --cache DIR [--splits 5] [--seed 0] \
        [--split-mode random|folds] [--out FILE.json]

For each of the dataset's seeded 80/20 splits (kavan.data.dataset.Dataset.splits): both baselines
(``kavan.baselines.fit_predict``, scored like ``run_baseline``), and two chance rows on the same splits:
"training mean" predicts every test GIF's 17 intensities as the training GIFs' mean (so its quadrant is always the
same one), "majority quadrant" scores the accuracy of always answering the training split's most frequent
quadrant. Prints a Markdown table of mean ± std over the splits (std with ddof = 0). On a SynthGIF folder
(groundtruth/gifs.jsonl present) it also prints the per-GIF nMSE by scenario (no face, one face, two faces),
pooled over the test GIFs of all splits (with random splits a GIF tested twice counts twice). With --out, writes
every split's numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from kavan.baselines import BASELINES, fit_predict
from kavan.data.dataset import Dataset
from kavan.data.splits import SPLIT_MODES
from kavan.training import metrics

KEYS = ("accuracy", "nmse_per_gif", "nmse_per_emotion", "pearson_mean")


def scores(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    pearson = [r for r in metrics.pearson_per_emotion(pred, target).values() if np.isfinite(r)]
    return {"accuracy": metrics.quadrant_accuracy(pred, target), "nmse_per_gif": metrics.nmse_per_gif(pred, target),
            "nmse_per_emotion": metrics.nmse_per_emotion(pred, target),
            "pearson_mean": float(np.mean(pearson)) if pearson else float("nan")}


def per_gif(pred: np.ndarray, target: np.ndarray) -> list[tuple[float, float]]:
    """Each GIF's nMSE (as kavan.training.metrics.nmse_per_gif averages them) and its squared error summed over emotions."""
    return [(metrics.nmse_per_gif(p[None], y[None]), float(((p - y) ** 2).sum())) for p, y in zip(pred, target)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-mode", choices=SPLIT_MODES, default="random",
                        help="random: independent seeded 80/20 splits (the paper's); folds: disjoint folds")
    parser.add_argument("--t", type=int, default=8)
    parser.add_argument("--out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dataset = Dataset(args.data)
    truth_file = Path(args.data) / "groundtruth" / "gifs.jsonl"
    scenario = ({m["id"]: m["scenario"] for m in map(json.loads, truth_file.read_text().splitlines())}
                if truth_file.is_file() else None)
    results: dict[str, list[dict]] = {}
    by_gif: dict[str, dict[str, list[float]]] = {}
    seconds: dict[str, float] = {}
    for train, test in dataset.splits(n_splits=args.splits, seed=args.seed, mode=args.split_mode):
        y_train, y_test = dataset.scores[dataset.rows(train)], dataset.scores[dataset.rows(test)]
        rows = {"chance: training mean": (np.broadcast_to(y_train.mean(axis=0), y_test.shape), None)}
        for name in BASELINES:
            start = time.perf_counter()
            rows[name] = fit_predict(name, dataset, train, test, args.cache, t=args.t)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        for name, (pred, model) in rows.items():
            results.setdefault(name, []).append(scores(pred, y_test) | {"ridge": model.ridge_ if model else None})
            if scenario is not None:
                for gif_id, value in zip(test, per_gif(pred, y_test)):
                    by_gif.setdefault(name, {}).setdefault(scenario[gif_id], []).append(value)
        majority = np.bincount(dataset.quadrants[dataset.rows(train)], minlength=4).argmax()
        accuracy = float(np.mean(dataset.quadrants[dataset.rows(test)] == majority))
        results.setdefault("chance: majority quadrant", []).append(
            {"accuracy": accuracy, "nmse_per_gif": float("nan"), "nmse_per_emotion": float("nan"),
             "pearson_mean": float("nan")})
    print(f"\n{dataset!r}, {args.splits} {args.split_mode} splits (seed {args.seed}), T = {args.t}\n")
    print("| row | accuracy | nMSE per GIF | nMSE per emotion | mean Pearson r |")
    print("|---|---|---|---|---|")
    for name, rows_ in results.items():
        cells = []
        for key in KEYS:
            values = np.array([row[key] for row in rows_], dtype=float)
            cells.append("–" if np.isnan(values).all() else f"{values.mean():.3f} ± {values.std():.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if by_gif:
        kinds = sorted({kind for table in by_gif.values() for kind in table})
        counts = {kind: len(next(iter(by_gif.values()))[kind]) for kind in kinds}
        for column, title in ((0, "per-GIF nMSE"), (1, "squared error summed over the 17 emotions")):
            print(f"\n{title} by scenario, test GIFs of all splits: mean (median)\n")
            print("| row | " + " | ".join(f"{kind} (n = {counts[kind]})" for kind in kinds) + " |")
            print("|---|" + "---|" * len(kinds))
            for name, table in by_gif.items():
                cells = [np.array(table[kind])[:, column] for kind in kinds]
                print(f"| {name} | " + " | ".join(f"{np.mean(c):.3f} ({np.median(c):.3f})" for c in cells) + " |")
    for name in BASELINES:
        lambdas = sorted({round(row["ridge"], 6) for row in results[name]})
        print(f"\n{name}: λ per split {lambdas}; {seconds[name]:.1f} s in all")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"data": args.data, "splits": args.splits, "seed": args.seed, "split_mode": args.split_mode,
                       "t": args.t, "rows": results}, handle, indent=1)


if __name__ == "__main__":
    main()
