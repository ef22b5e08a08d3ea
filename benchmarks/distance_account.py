"""Where the distance between a SynthGIF model and what the labels allow goes: one training split, the model
retrained with one thing changed at a time.

    .venv/bin/python benchmarks/distance_account.py --data SET --base RUN --work DIR [--out account.json]
    .venv/bin/python benchmarks/distance_account.py --report account.json

RUN is a finished `kavan train` run folder (an acceptance run's split folder: ABLATION_OUT/<row>/split-<k>); its
config, split and dataset are those of every probe. Each probe is `kavan train` of RUN's config.yaml on the same
split with one change (``PROBES``), written to DIR/<probe> (a finished probe is read again, not retrained):

- **steps**: twice the optimiser steps (``train.min_steps``): is the recipe's budget what stops it?
- **capacity**: twice the temporal module's hidden size (``model.temporal.hidden``);
- **frames**: twice the frames per GIF (``model.t``, and ``node_length`` so the HS-LSTM keeps its shape);
- **half data**: half of the split's training GIFs (a split file with the same test GIFs): what does data buy?

For each: the kept epoch's mean per-GIF nMSE on the training GIFs (the loss's regression term, with dropout), the lowest validation nMSE per
emotion (the epoch train.select keeps) and the test nMSE per emotion of the kept model, split into the parts of the
test GIFs with a face and of those without one (SynthGIF's groundtruth ``scenario``): per emotion, each part's
squared error over the whole test set's spread, so the two parts add up to the test nMSE. Beside them
``--labels`` adds what a perfect reader of the hidden latents would score (benchmarks/error_anatomy.py's "labels
allow", from its JSON). The probes choose nothing: no setting of a shipped row is changed because of them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from _measure import add_result_options, kept_epoch, measure_or_report
from error_anatomy import scenarios

PROBES = {
    "steps": "twice the optimiser steps",
    "capacity": "twice the temporal hidden size",
    "frames": "twice the frames per GIF",
    "half data": "half the training GIFs",
}


def overrides(config: dict, probe: str) -> list[str]:
    """The --set arguments of one probe, from the base run's resolved config."""
    model, train = config["model"], config["train"]
    if probe == "steps":
        return [f"train.min_steps={2 * train['min_steps']}"]
    if probe == "capacity":
        return [f"model.temporal.hidden={2 * model['temporal']['hidden']}"]
    if probe == "frames":
        return [f"model.t={2 * model['t']}", f"model.temporal.node_length={2 * model['temporal']['node_length']}"]
    return []


def half_split(base: Path, data: Path, split: int, out: Path) -> Path:
    """A split file with every other GIF of the base split's training part (validation hold-out included, so the
    probe holds out its own share) and the same test GIFs."""
    from kavan.config import load_config
    from kavan.data.dataset import Dataset
    from kavan.training.setup import split_ids

    ids = split_ids(Dataset(data), load_config(base / "config.yaml"), split, None)
    train = sorted(ids.train + ids.val)
    out.write_text(json.dumps({"train": train[::2], "test": ids.test}) + "\n", encoding="utf-8")
    return out


def parts(predicted: np.ndarray, target: np.ndarray, face: np.ndarray) -> tuple[float, float]:
    """The test nMSE per emotion split into the face GIFs' and the face-less GIFs' parts (they add up to it):
    mean over emotions of each part's Σ (ŷ − y)² over the whole set's Σ (y − ȳ)²."""
    spread = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    error = (predicted - target) ** 2
    return float(np.mean(error[face].sum(axis=0) / spread)), float(np.mean(error[~face].sum(axis=0) / spread))


def read_run(run: Path, kinds: dict[str, str] | None = None) -> dict:
    kept, epochs = kept_epoch(run)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    out = {"train_loss": float(kept["train_nmse"]), "val_nmse_per_emotion": float(kept["val_nmse_per_emotion"]),
           "epoch": int(kept["epoch"]), "epochs": epochs, "n_train": metrics.get("n_train"),
           "test_nmse_per_emotion": float(metrics["test"]["nmse_per_emotion"])}
    if kinds is not None:
        from kavan.training.evaluation import load_predictions

        predictions = load_predictions(run / "predictions.safetensors")
        face = np.array([kinds[gif] != "no_face" for gif in predictions.ids])
        out["test_face_part"], out["test_faceless_part"] = parts(predictions.intensities, predictions.targets, face)
    return out


def train(base: Path, data: Path, split: int, out: Path, sets: list[str], split_file: Path | None) -> None:
    if (out / "metrics.json").is_file():
        return
    command = [sys.executable, "-m", "kavan", "train", "--config", str(base / "config.yaml"), "--data", str(data),
               "--out", str(out), "--no-progress"]
    command += ["--split-file", str(split_file), "--split", "0"] if split_file else ["--split", str(split)]
    for item in sets:
        command += ["--set", item]
    if (out / "checkpoint.safetensors").is_file():
        command.append("--resume")
    subprocess.run(command, check=True)


def measure(args: argparse.Namespace) -> dict:
    base, data, work = Path(args.base), Path(args.data), Path(args.work)
    config = yaml.safe_load((base / "config.yaml").read_text(encoding="utf-8"))
    split = json.loads((base / "run.json").read_text(encoding="utf-8"))["split"]["index"]
    work.mkdir(parents=True, exist_ok=True)
    kinds = scenarios(data)
    rows = {"base": {"change": "none (the run itself)", **read_run(base, kinds)}}
    for probe, change in PROBES.items():
        folder = work / probe.replace(" ", "-")
        split_file = half_split(base, data, split, work / "half-split.json") if probe == "half data" else None
        sets = overrides(config, probe)
        train(base, data, split, folder, sets, split_file)
        rows[probe] = {"change": change, "set": sets, **read_run(folder, kinds)}
    result = {"data": data.name, "split": split, "row": base.parent.name, "probes": rows}
    if args.labels:
        anatomy = json.loads(Path(args.labels).read_text(encoding="utf-8"))
        result["labels_allow"] = next(s["label_ceiling"] for s in anatomy["splits"] if s["split"] == split)
    return result


def table(result: dict) -> str:
    lines = [f"| `{result['row']}` on `{result['data']}`, split {result['split']} | training GIFs | training loss "
             "(per-GIF nMSE) | validation nMSE per emotion (epoch kept) | test nMSE per emotion | of which: face "
             "GIFs | face-less GIFs |", "|---|---|---|---|---|---|---|"]
    for name, row in result["probes"].items():
        lines.append(f"| {name}: {row['change']} | {row['n_train'] if row['n_train'] is not None else '-'} | "
                     f"{row['train_loss']:.3f} | {row['val_nmse_per_emotion']:.3f} ({row['epoch']} of "
                     f"{row['epochs']}) | {row['test_nmse_per_emotion']:.3f} | {row['test_face_part']:.3f} | "
                     f"{row['test_faceless_part']:.3f} |")
    if "labels_allow" in result:
        lines.append(f"| what the labels allow (a ridge from the true latents) | - | - | - | "
                     f"{result['labels_allow']:.3f} | - | - |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="the dataset folder of the base run")
    parser.add_argument("--base", help="a finished run folder (ABLATION_OUT/<row>/split-<k>)")
    parser.add_argument("--work", help="where the probes' run folders go")
    parser.add_argument("--labels", help="an error_anatomy.py JSON of the same set, for the labels' ceiling")
    add_result_options(parser)
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
