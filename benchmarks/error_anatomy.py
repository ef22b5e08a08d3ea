"""Where a SynthGIF model's regression error is, and what the labels allow: the analysis behind docs/results.md's
"Why set A fails" (docs/results-earlier.md) and docs/training.md's "the flattest 5 % of GIFs carry ...", as a script.

    .venv/bin/python benchmarks/error_anatomy.py --data SET --runs ABLATION_OUT [--row mtl-softatt-hslstm]
        [--out anatomy.json]
    .venv/bin/python benchmarks/error_anatomy.py --report anatomy.json [...]

For each split k the ablation ran (its folder ABLATION_OUT/<row>/split-<k> with predictions.safetensors):

- **what the labels allow**: a ridge regression (GCV λ, kavan.models.ridge) from the 17 hidden latent intensities
  the votes were drawn from (SYNTHGIF's groundtruth/latents.csv) to the scores, fitted on the split's training
  GIFs, scored on its test GIFs by nMSE per emotion: the error a model that read the latents perfectly would still
  make, from the votes' noise alone;
- **error by kind of GIF**: the model's summed squared error over the 17 emotions of the test GIFs with a face and
  of those without one (groundtruth/gifs.jsonl ``scenario``), each over the same sum for the training-mean predictor
  (1 = no better than the mean);
- **the flattest GIFs' weight**: the per-GIF nMSE (the training loss) weighs GIF i by 1 / Σ_j (y_ij − ȳ_i)²; the
  share of the total weight carried by the flattest 5 % of the set's GIFs, and how many of those have no face.

Writes a JSON file; ``--report`` prints the Markdown table of one or more such files (the docs' tables come from
it).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

DEFAULT_ROW = "mtl-softatt-hslstm"
FLAT_SHARE = 0.05


def latents(root: Path) -> dict[str, np.ndarray]:
    with open(root / "groundtruth" / "latents.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: np.array([float(v) for v in row[1:]]) for row in rows[1:]}


def scenarios(root: Path) -> dict[str, str]:
    lines = (root / "groundtruth" / "gifs.jsonl").read_text().splitlines()
    return {record["id"]: record["scenario"] for record in map(json.loads, lines)}


def nmse_per_emotion(pred: np.ndarray, target: np.ndarray) -> float:
    from kavan.training import metrics

    return float(metrics.nmse_per_emotion(pred, target))


def label_ceiling(dataset, hidden: dict[str, np.ndarray], train: list[str], test: list[str]) -> float:
    """nMSE per emotion on ``test`` of a GCV ridge from the latents to the scores, fitted on ``train``."""
    from kavan.models.ridge import RidgeRegression

    model = RidgeRegression(ridge=None).fit(np.stack([hidden[i] for i in train]), dataset.scores[dataset.rows(train)])
    return nmse_per_emotion(model.predict(np.stack([hidden[i] for i in test])), dataset.scores[dataset.rows(test)])


def error_by_kind(dataset, kinds: dict[str, str], predictions, train: list[str]) -> dict[str, float]:
    """The model's summed squared error over that of the training-mean predictor, for face and face-less GIFs."""
    mean = dataset.scores[dataset.rows(train)].mean(axis=0)
    target = predictions.targets
    model_error = ((predictions.intensities - target) ** 2).sum(axis=1)
    mean_error = ((mean[None, :] - target) ** 2).sum(axis=1)
    out = {}
    for name, keep in (("face", lambda s: s != "no_face"), ("no_face", lambda s: s == "no_face")):
        chosen = np.array([keep(kinds[i]) for i in predictions.ids])
        out[name] = float(model_error[chosen].sum() / mean_error[chosen].sum()) if chosen.any() else float("nan")
    return out


def flat_weight(dataset, kinds: dict[str, str], share: float = FLAT_SHARE) -> dict[str, float]:
    """The share of the per-GIF nMSE weight that the flattest ``share`` of the GIFs carry, and how many of them
    have no face."""
    spread = ((dataset.scores - dataset.scores.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    weight = 1.0 / np.maximum(spread, 1e-12)
    n = max(1, round(share * len(spread)))
    flattest = np.argsort(spread)[:n]
    return {"share_of_gifs": share, "n_gifs": n, "weight_share": float(weight[flattest].sum() / weight.sum()),
            "no_face": int(sum(kinds[dataset.ids[k]] == "no_face" for k in flattest))}


def analyse(data: Path, runs: Path, row: str) -> dict:
    from kavan.data.dataset import Dataset
    from kavan.training.evaluation import load_predictions

    dataset = Dataset(data)
    hidden, kinds = latents(data), scenarios(data)
    splits = []
    for folder in sorted((runs / row).glob("split-*"), key=lambda p: int(p.name.split("-")[1])):
        predictions = load_predictions(folder / "predictions.safetensors")
        test = list(predictions.ids)
        train = [i for i in dataset.ids if i not in set(test)]  # an 80/20 split: the rest is its training part
        splits.append({"split": int(folder.name.split("-")[1]), "n_test": len(test),
                       "label_ceiling": label_ceiling(dataset, hidden, train, test),
                       "model_nmse": nmse_per_emotion(predictions.intensities, predictions.targets),
                       **{f"error_vs_mean_{k}": v for k, v in error_by_kind(dataset, kinds, predictions, train).items()}})
    return {"data": data.name, "row": row, "splits": splits, "flat_weight": flat_weight(dataset, kinds)}


def table(results: list[dict]) -> str:
    """Markdown: one line per set (and row, when not the full model), means over its splits."""
    lines = ["| set | splits | model nMSE per emotion | what the labels allow | face GIFs: error / mean's | "
             "face-less GIFs: error / mean's | flattest 5 %: weight (face-less) |", "|---|---|---|---|---|---|---|"]
    for result in results:
        splits = result["splits"]

        def mean(key: str) -> float:
            return float(np.mean([s[key] for s in splits]))

        flat = result["flat_weight"]
        name = result["data"] if result["row"] == DEFAULT_ROW else f"{result['data']}, `{result['row']}`"
        lines.append(f"| {name} | {len(splits)} | {mean('model_nmse'):.3f} | {mean('label_ceiling'):.3f} | "
                     f"{mean('error_vs_mean_face'):.2f} | {mean('error_vs_mean_no_face'):.2f} | "
                     f"{100 * flat['weight_share']:.0f} % ({flat['no_face']} of {flat['n_gifs']}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the SynthGIF set")
    parser.add_argument("--runs", type=Path, help="the kavan ablation output folder of that set")
    parser.add_argument("--row", default=DEFAULT_ROW, help=f"the model row (default {DEFAULT_ROW})")
    parser.add_argument("--out", type=Path, help="write the results here (JSON)")
    parser.add_argument("--report", type=Path, nargs="+", metavar="JSON", help="print the table of these results")
    args = parser.parse_args(argv)
    if args.report:
        print(table([json.loads(p.read_text()) for p in args.report]), end="")
        return 0
    if args.data is None or args.runs is None:
        parser.error("give --data and --runs, or --report")
    result = analyse(args.data, args.runs, args.row)
    text = json.dumps(result, indent=1) + "\n"
    if args.out:
        args.out.write_text(text)
    print(table([result]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
