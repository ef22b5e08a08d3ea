"""The full model against the baselines after Jou et al. and chance as the training set grows, with and without
starting from a model trained on another setting (``--init``).

    .venv/bin/python benchmarks/regression_learning_curve.py --data DIR --out DIR [--sizes 100,200,400,800]
        [--splits 0,1,2] [--init MODEL] [--config NAME] [--init-config NAME] [--cache-dir DIR]
        [--baseline-cache DIR] [--seed 0] [--scratch-splits K,K|none] [--plot OUT.png]
    .venv/bin/python benchmarks/regression_learning_curve.py --report OUT/results.json [...]   # tables only

For each split K and size N, the first N GIFs of a seeded permutation of split K's training GIFs (nested subsets;
split K's test GIFs for every size) train:

* ``model``: ``--config`` (default the benchmark recipe's MTL Soft-Att + HS-LSTM) from the config's own start,
  run with ``train.readout=ridge`` so that one training gives two rows: the head as gradient descent left it
  (``model``: the recipe as it was) and the same network with the ridge read-out (``model+ridge``);
* with ``--init MODEL``: ``--init-config`` (default the small-set recipe, ``bench/mtl-softatt-hslstm-finetune``)
  fine-tuned from MODEL, likewise as ``init`` (head as trained) and ``init+ridge`` (the recipe);
* the colour-histogram and face-expression baselines (kavan.baselines.run_baseline) and chance (the N GIFs'
  mean intensities).

Each model run is kavan.training.trainer.train_split with a split file, so the recipe's validation hold-out comes
out of the N. The per-split numbers go to ``<out>/results.json``; the printed Markdown table gives mean ± std over
the splits and the paired verdicts (kavan.experiments.claims.Paired: the corrected resampled t-test, with
n_test / n_train = test GIFs / N) of the best model row against the colour histogram and chance. A rerun with the
same --out reuses every finished run and baseline. ``--report`` prints the table of one or more results.json
files without training anything (docs/results.md's table comes from it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kavan.core.atomic import json_safe, write_json

ROWS = ("model", "model+ridge", "init", "init+ridge", "colour_histogram", "face_expression", "chance")
LABELS = {"model": "model", "model+ridge": "model + ridge read-out", "init": "--init, fine-tuned",
          "init+ridge": "--init, fine-tuned + ridge read-out (the recipe)", "colour_histogram": "colour histogram",
          "face_expression": "face expression", "chance": "chance"}
BASELINE_ROWS = ("colour_histogram", "face_expression")
DEFAULT_CONFIG = "bench/mtl-softatt-hslstm"
DEFAULT_INIT_CONFIG = "bench/mtl-softatt-hslstm-finetune"


def nested_subsets(train: list[str], sizes: list[int], seed: int, split: int) -> dict[int, list[str]]:
    """The first N of one seeded permutation of ``train`` for every N: each size's GIFs hold the smaller sizes'."""
    order = [train[i] for i in np.random.default_rng([seed, split]).permutation(len(train))]
    return {size: sorted(order[:size]) for size in sizes}


def model_rows(run, prefix: str) -> dict[str, dict[str, float]]:
    """The two rows one run gives: the trained head (``prefix``) and the ridge read-out (``prefix+ridge``)."""
    test = run.metrics["test"]
    before = run.metrics.get("readout", {}).get("test_before")
    rows = {f"{prefix}+ridge" if before is not None else prefix: test}
    if before is not None:
        rows[prefix] = before
    return {name: {"nmse_per_emotion": m["nmse_per_emotion"], "accuracy": m["accuracy"]} for name, m in rows.items()}


def run_cell(args, dataset, split: int, size: int, subset: list[str], test: list[str]) -> dict[str, Any]:
    """Every row of one (split, size) cell."""
    from kavan.baselines import run_baseline
    from kavan.config import load_config
    from kavan.data.splits import write_split_file
    from kavan.experiments.ablation import cached_split_metrics, chance_metrics
    from kavan.training.trainer import train_split

    cell_dir = args.out / f"split-{split}" / f"n{size}"
    cell_dir.mkdir(parents=True, exist_ok=True)
    split_file = cell_dir / "split.json"
    write_split_file(split_file, [(subset, list(test))])
    rows: dict[str, Any] = {}
    config = load_config(args.config, ["train.readout=ridge"])
    if args.scratch_splits is None or split in args.scratch_splits:
        run = train_split(config, dataset.root, cell_dir / "model", split_file=split_file, resume=True,
                          cache_dir=args.cache_dir, progress=False)
        rows |= model_rows(run, "model")
    if args.init:
        init_config = load_config(args.init_config)
        run = train_split(init_config, dataset.root, cell_dir / "init", split_file=split_file, resume=True,
                          cache_dir=args.cache_dir, progress=False, init=args.init)
        rows |= model_rows(run, "init")
    baseline_cache = args.baseline_cache or dataset.root / "cache" / "baselines"
    for name in BASELINE_ROWS:
        rows[name] = cached_split_metrics(
            cell_dir / f"{name}.json", subset, test,
            lambda name=name: run_baseline(name, dataset, subset, list(test), baseline_cache, t=config.model.t,
                                           progress=False))
    rows["chance"] = cached_split_metrics(cell_dir / "chance.json", subset, test,
                                          lambda: chance_metrics(dataset, subset, list(test)))
    return {name: {"nmse_per_emotion": float(m["nmse_per_emotion"]), "accuracy": float(m["accuracy"])}
            for name, m in rows.items()}


def collect(args) -> dict[str, Any]:
    from kavan.config import load_config
    from kavan.data.dataset import Dataset
    from kavan.training.init_weights import file_digest

    dataset = Dataset(args.data)
    config = load_config(args.config)
    splits = dataset.splits(config.data.n_splits, config.data.split_seed, config.data.train_fraction,
                            config.data.split_mode)
    results: dict[str, Any] = {
        "data": dataset.root.name, "sizes": args.sizes, "splits": args.splits, "seed": args.seed,
        "config": str(args.config), "init_config": str(args.init_config) if args.init else None,
        "init": {"file": Path(args.init).name, "sha256": file_digest(args.init)} if args.init else None,
        "command": " ".join(["benchmarks/regression_learning_curve.py", *sys.argv[1:]]), "cells": []}
    for split in args.splits:
        train, test = splits[split]
        if max(args.sizes) > len(train):
            raise SystemExit(f"split {split} has {len(train)} training GIFs, fewer than {max(args.sizes)}")
        for size, subset in nested_subsets(train, args.sizes, args.seed, split).items():
            rows = run_cell(args, dataset, split, size, subset, test)
            results["cells"].append({"split": split, "size": size, "n_test": len(test), "rows": rows})
            print(f"split {split}, {size} GIFs: " + ", ".join(f"{k} {v['nmse_per_emotion']:.3f}"
                                                          for k, v in rows.items()), file=sys.stderr, flush=True)
            write_json(args.out / "results.json", json_safe(results))
    return results


def table(results: dict[str, Any]) -> str:
    """Markdown: per size, each row's nMSE per emotion mean ± std over the splits, and the verdicts of the best
    model row (the recipe when there is one) against the colour histogram and chance."""
    from kavan.experiments.claims import Paired

    present = [r for r in ROWS if any(r in c["rows"] for c in results["cells"])]
    best = "init+ridge" if "init+ridge" in present else "model+ridge" if "model+ridge" in present else "model"
    lines = [f"`{results['data']}`, splits {', '.join(map(str, results['splits']))}; nMSE per emotion, mean ± std "
             f"over the splits; verdicts of **{LABELS[best]}** (paired, corrected resampled t-test, n_test / n_train "
             "= test GIFs / N)", "",
             "| training GIFs | " + " | ".join(LABELS[r] for r in present) + " | vs colour histogram | vs chance |",
             "|---" * (len(present) + 3) + "|"]
    for size in results["sizes"]:
        cells = sorted((c for c in results["cells"] if c["size"] == size), key=lambda c: c["split"])
        if not cells:
            continue
        values = {r: [c["rows"][r]["nmse_per_emotion"] for c in cells if r in c["rows"]] for r in present}
        shown = [f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f} (one split)"
                 if v else "—" for v in values.values()]
        share = cells[0]["n_test"] / size
        verdicts = []
        for other in ("colour_histogram", "chance"):
            diffs = tuple(c["rows"][other]["nmse_per_emotion"] - c["rows"][best]["nmse_per_emotion"] for c in cells)
            p = Paired(diffs, share)
            verdicts.append(f"{p.verdict} ({p.mean:+.3f}, bar ±{p.bar:.3f}, {p.won}/{p.n})")
        lines.append(f"| {size} | " + " | ".join(shown) + " | " + " | ".join(verdicts) + " |")
    return "\n".join(lines)


def plot(all_results: list[dict[str, Any]], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_results), figsize=(4.2 * len(all_results), 3.6), squeeze=False,
                             sharey=True)
    colours = dict(zip(ROWS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, results in zip(axes[0], all_results):
        for row in ROWS:
            points = [(s, [c["rows"][row]["nmse_per_emotion"] for c in results["cells"]
                           if c["size"] == s and row in c["rows"]]) for s in results["sizes"]]
            points = [(s, v) for s, v in points if v]
            if points:
                ax.errorbar([s for s, _ in points], [np.mean(v) for _, v in points],
                            yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for _, v in points], marker="o",
                            capsize=3, label=LABELS[row], color=colours[row])
        ax.set_xscale("log")
        ax.set_xticks(results["sizes"], [str(s) for s in results["sizes"]])
        ax.minorticks_off()
        ax.set_title(results["data"])
        ax.set_xlabel("training GIFs")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test nMSE per emotion (lower is better)")
    axes[0][0].set_ylim(0.6, 1.15)
    handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=4, fontsize=7)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path, nargs="+", help="results.json files: print their tables only")
    parser.add_argument("--cache-dir", type=Path, default=None, help="feature cache root of the model rows")
    parser.add_argument("--baseline-cache", type=Path, default=None, help="default: <data>/cache/baselines")
    parser.add_argument("--sizes", default="100,200,400,800")
    parser.add_argument("--splits", default="0,1,2")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--init", default=None, help="a kavan model or checkpoint trained on ANOTHER setting")
    parser.add_argument("--init-config", default=DEFAULT_INIT_CONFIG)
    parser.add_argument("--scratch-splits", default=None, metavar="K,K",
                        help="train the model from the config's own start on these splits only (default: every "
                             "split; 'none': never, the --init rows and baselines only)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutation the subsets are cut from")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of nMSE against training GIFs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.report:
        all_results = [json.loads(path.read_text()) for path in args.report]
    else:
        if args.data is None or args.out is None:
            parser.error("--data and --out are needed (or --report)")
        args.sizes = sorted(int(s) for s in args.sizes.split(","))
        args.splits = [int(s) for s in args.splits.split(",")]
        if args.scratch_splits is not None:
            args.scratch_splits = [] if args.scratch_splits == "none" else [int(s) for s in args.scratch_splits.split(",")]
        args.out.mkdir(parents=True, exist_ok=True)
        all_results = [collect(args)]
    for results in all_results:
        print(table(results) + "\n")
    if args.plot:
        plot(all_results, args.plot)


if __name__ == "__main__":
    main()
