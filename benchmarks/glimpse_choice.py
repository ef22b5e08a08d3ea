"""How the glimpse row's box rule was chosen: validation numbers of an ablation run on a development set.

    .venv/bin/python benchmarks/glimpse_choice.py --data DEV_SET --runs ABLATION_OUT [--out choice.json]
    .venv/bin/python benchmarks/glimpse_choice.py --report choice.json

For every row folder of ABLATION_OUT and every split it ran: the lowest validation nMSE per emotion of its log.csv
(the epoch train.select keeps) and that epoch; and the nMSE per emotion of its kept model on the same validation
GIFs as `kavan predict` gives it (kavan.load(...).predict on each file). For a glimpse row with ``boxes:
keypoints`` the two differ: prediction has no keypoints, so it cuts every glimpse at the localiser's peak. Only validation GIFs of training splits are read,
never test GIFs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from _measure import add_result_options, kept_epoch, measure_or_report


def best_validation(run: Path) -> tuple[float, int, int]:
    """(lowest validation nMSE per emotion, its epoch, epochs run) of a run folder's log.csv."""
    best, epochs = kept_epoch(run)
    return float(best["val_nmse_per_emotion"]), int(best["epoch"]), epochs


def predicted_validation(run: Path, data: Path, split: int) -> float:
    """nMSE per emotion of the run's model on its split's validation GIFs, predicted file by file."""
    from kavan import load
    from kavan.config import load_config
    from kavan.data.dataset import Dataset
    from kavan.training.metrics import nmse_per_emotion
    from kavan.training.setup import split_ids

    dataset = Dataset(data)
    ids = split_ids(dataset, load_config(run / "config.yaml"), split, None)
    predictor = load(run / "model.safetensors", "cpu")
    predicted = np.array([list(predictor.predict(dataset.media_path(g)).emotions.values()) for g in ids.val])
    return float(nmse_per_emotion(predicted, dataset.scores[dataset.rows(ids.val)]))


def measure(args: argparse.Namespace) -> dict:
    from kavan.config import load_config

    rows = {}
    for folder in sorted(p for p in Path(args.runs).iterdir() if p.is_dir()):
        splits = []
        for run in sorted(folder.glob("split-*")):
            if not (run / "log.csv").is_file():
                continue
            split = int(run.name.split("-")[1])
            value, epoch, epochs = best_validation(run)
            glimpse = load_config(run / "config.yaml").model.glimpse
            splits.append({"split": split, "val_nmse_per_emotion": value, "epoch": epoch, "epochs": epochs,
                           "boxes": glimpse.boxes if glimpse.enabled else None,
                           "predicted_val_nmse_per_emotion": predicted_validation(run, Path(args.data), split)})
        if splits:
            rows[folder.name] = splits
    return {"data": Path(args.data).name, "rows": rows}


def table(result: dict) -> str:
    splits = sorted({s["split"] for row in result["rows"].values() for s in row})
    head = " | ".join(f"split {k}: validation (epoch kept) | split {k}: as `kavan predict` gives it" for k in splits)
    lines = [f"| row on `{result['data']}` | {head} |", "|---|" + "---|---|" * len(splits)]
    for name, row in result["rows"].items():
        cells = []
        by_split = {s["split"]: s for s in row}
        for k in splits:
            s = by_split.get(k)
            if s is None:
                cells += ["-", "-"]
                continue
            cells.append(f"{s['val_nmse_per_emotion']:.3f} ({s['epoch']} of {s['epochs']})")
            cells.append(f"{s['predicted_val_nmse_per_emotion']:.3f}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="the development dataset folder")
    parser.add_argument("--runs", help="the ablation's output folder")
    add_result_options(parser)
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
