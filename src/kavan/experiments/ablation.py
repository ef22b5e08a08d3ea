"""`kavan ablation`: every row of the paper's Tables 1 and 2 on the same splits, resumable, into one results folder.

Rows: a chance row (the training split's mean intensities predicted for every GIF), the two baselines after
Jou et al. (kavan.baselines, their features cached under ``baseline_cache``), and one model row per config (the
five paper rows and the unsupervised-attention row; kavan.training.trainer.train_split, features cached under
``cache_dir`` and shared by every row and split). All rows use the splits of the configs' ``data`` section (they
must agree), so every row is trained and tested on exactly the same GIFs.

The work runs split by split (every row on split 0, then split 1, ...), so an interrupted ablation already has
complete comparisons on its first splits. Out folder::

    <out>/<config name>/split-<k>/      run folder of a model row (kavan.training.trainer)
    <out>/<config name>/split-<k>/localisation.json   attention scored against ground truth (SynthGIF only)
    <out>/<baseline>/split-<k>.json     metrics of a baseline row
    <out>/chance/split-<k>.json         metrics of the chance row
    <out>/results.json, results.md      all rows, mean ± std over the splits (kavan.experiments.reporting)

Rerunning with the same arguments reuses every finished row/split (a model run's config hash must match; a
baseline's or chance row's JSON records the split's ids and is reused only if they match) and continues an
interrupted model run from its checkpoint.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kavan.baselines import BASELINES, baseline_label, baseline_module, run_baseline
from kavan.config import SETTINGS, KavanConfig, config_hash, load_config, shipped_configs
from kavan.core.atomic import json_safe, write_json, write_text
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.experiments.localisation import has_groundtruth, localisation_report
from kavan.experiments.protocol import METRICS, mean_std
from kavan.experiments.reporting import render_results
from kavan.training import metrics
from kavan.training.evaluation import load_predictions
from kavan.training.provenance import dataset_record, git_commit
from kavan.training.setup import split_ids
from kavan.training.trainer import train_split

log = logging.getLogger(__name__)

# config file stem → row label in the tables (the paper's rows; "no attention" is the paper's "ResNet-50 + ...",
# named by what the row lacks because at benchmark settings the backbone is MobileNetV2)
ROW_LABELS = {
    "resnet50-lstm": "No attention + LSTM",
    "softatt-lstm": "Soft-Att + LSTM",
    "resnet50-hslstm": "No attention + HS-LSTM",
    "softatt-hslstm": "Soft-Att + HS-LSTM (KAVAN)",
    "mtl-softatt-hslstm": "MTL Soft-Att + HS-LSTM",
    "mtl-unsupatt-hslstm": "MTL unsupervised attention + HS-LSTM",
    "resnet50-lstm-wide": "No attention + LSTM, parameter-matched",
    "softatt-lstm-wide": "Soft-Att + LSTM, parameter-matched",
}
# rows beyond the paper that ship but are run only when named (--configs); the paper's tables stay as they are
BEYOND_PAPER_LABELS = {
    "mtl-softatt-hslstm-glimpse": "MTL Soft-Att + HS-LSTM + face glimpses (beyond the paper)",
}
# "paper": the paper's architecture (ResNet-50 end to end) with project-default hyper-parameters; the paper gives
# no training hyper-parameters (kavan.showcase.config_sources)
# "bench-trainable": bench with the backbone's last block trained on a cache of the frozen rest (six paper rows)
# the rows every setting has; the parameter-matched rows are optional
PAPER_ROWS = ("resnet50-lstm", "softatt-lstm", "resnet50-hslstm", "softatt-hslstm", "mtl-softatt-hslstm",
              "mtl-unsupatt-hslstm")
CHANCE = "chance"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
# rates of a localisation.json that go into results.json: (key path, name in the row's "localisation")
LOCALISATION_KEYS = ("exact", "centre_prior", "centre_prior_exact")
LOCALISATION_RATES = (
    (("hit_rate",), "hit_rate"), (("withheld_hit_rate",), "withheld_hit_rate"),
    (("exact", "hit_rate"), "exact_hit_rate"), (("exact", "withheld_hit_rate"), "exact_withheld_hit_rate"),
    (("centre_prior", "hit_rate"), "centre_prior_hit_rate"),
    (("centre_prior_exact", "hit_rate"), "centre_prior_exact_hit_rate"),
    (("exact", "mass"), "mass"), (("exact", "withheld_mass"), "withheld_mass"), (("exact", "face_area"), "face_area"),
)


@dataclass(frozen=True)
class AblationSettings:
    """What `kavan ablation` runs: the dataset, the config files (one model row each), the baselines, the first
    ``n_splits`` splits of the protocol (None: all), the output and cache folders and config overrides."""

    data: Path
    configs: tuple[Path, ...]
    out: Path
    settings: str = "bench"
    baselines: tuple[str, ...] = tuple(BASELINES)
    n_splits: int | None = None
    cache_dir: Path | None = None
    baseline_cache: Path | None = None
    overrides: tuple[str, ...] = ()
    progress: bool = True


def default_configs(settings: str) -> tuple[Path, ...]:
    """The row configs of ``settings`` (bench | bench-trainable | paper) in table order, from the configs that ship
    with the package (kavan.config.shipped_configs): the six paper rows, and the parameter-matched rows where the
    setting has them."""
    if settings not in SETTINGS:
        raise KavanError(f"unknown settings {settings!r} ({', '.join(SETTINGS)})")
    shipped = shipped_configs()
    rows = [f"{settings}/{name}" for name in ROW_LABELS if f"{settings}/{name}" in shipped]
    missing = [name for name in PAPER_ROWS if f"{settings}/{name}" not in shipped]
    if missing:
        raise KavanError(f"the installed package lacks the {settings} rows {', '.join(missing)}; reinstall kavan")
    return tuple(shipped[name] for name in rows)


def row_label(name: str) -> str:
    return ROW_LABELS.get(name) or BEYOND_PAPER_LABELS.get(name, name)


def chance_metrics(dataset: Dataset, train: list[str], test: list[str]) -> dict[str, Any]:
    """Metrics of predicting the training split's mean intensities for every test GIF."""
    mean = dataset.scores[dataset.rows(train)].mean(axis=0)
    target = dataset.scores[dataset.rows(test)]
    pred = np.broadcast_to(mean, target.shape).copy()
    return {**metrics.summary(pred, target), "n_train": len(train), "n_test": len(test)}


def cached_split_metrics(path: Path, train: list[str], test: list[str], compute) -> dict[str, Any]:
    """The metrics stored at ``path`` if they were made on the same train/test ids, else ``compute()`` stored there
    with those ids."""
    record = {"train": sorted(train), "test": sorted(test)}
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("split_ids") == record:
                return stored["metrics"]
            log.info("%s: made on other splits; recomputing", path)
        except (OSError, ValueError, KeyError) as err:
            log.warning("%s: unreadable (%s); recomputing", path, err)
    result = compute()
    write_json(path, json_safe({"split_ids": record, "metrics": result}))
    return result


def run_localisation(run_dir: Path, dataset: Dataset) -> dict[str, Any] | None:
    """Attention localisation of a finished model run (cached in localisation.json); None without attention."""
    path = run_dir / "localisation.json"
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if all(key in stored for key in LOCALISATION_KEYS) and "mass" in stored["exact"]:
            return stored
    predictions = load_predictions(run_dir / "predictions.safetensors")
    if predictions.attention is None:
        return None
    result = localisation_report(dataset, predictions.ids, predictions.attention, predictions.frame_indices)
    write_json(path, json_safe(result))
    return result


def run_ablation(settings: AblationSettings, command: list[str]) -> dict[str, Any]:
    """Run (or reuse) every row on every chosen split, write results.json and results.md; returns the results."""
    dataset = Dataset(settings.data)
    configs: list[tuple[str, KavanConfig]] = [(Path(p).stem, load_config(p, settings.overrides))
                                             for p in settings.configs]
    if len({name for name, _ in configs}) != len(configs):
        raise KavanError("two --configs have the same file name; each row needs its own name")
    if not configs:
        raise KavanError("no model configs given")
    protocol = {(c.data.n_splits, c.data.split_seed, c.data.train_fraction, c.data.split_mode, c.data.val_fraction)
                for _, c in configs}
    if len(protocol) != 1:
        raise KavanError("the configs use different splits (data.n_splits/split_seed/train_fraction/split_mode/"
                         "val_fraction); rows are only comparable on the same splits")
    first = configs[0][1]
    n_protocol = first.data.n_splits
    n_splits = n_protocol if settings.n_splits is None else settings.n_splits
    if not 1 <= n_splits <= n_protocol:
        raise KavanError(f"--splits must be between 1 and the protocol's {n_protocol}, got {n_splits}")
    for name in settings.baselines:
        baseline_module(name)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    baseline_cache = settings.baseline_cache or dataset.root / "cache" / "baselines"
    score_attention = has_groundtruth(dataset.root)

    per_split: dict[str, list[dict[str, Any]]] = {}
    jobs = [(k, row) for k in range(n_splits) for row in [CHANCE, *settings.baselines, *(n for n, _ in configs)]]
    bar = tqdm(jobs, desc="ablation", unit="run", disable=not settings.progress)
    for k, row in bar:
        bar.set_postfix_str(f"split {k} · {row}")
        ids = split_ids(dataset, first, k, None)
        if row == CHANCE:
            result = cached_split_metrics(out / CHANCE / f"split-{k}.json", ids.train, ids.test,
                                          lambda: chance_metrics(dataset, ids.train, ids.test))
        elif row in settings.baselines:
            result = cached_split_metrics(out / row / f"split-{k}.json", ids.train, ids.test,
                                          lambda: run_baseline(row, dataset, ids.train, ids.test, baseline_cache,
                                                               t=first.model.t, progress=settings.progress))
        else:
            config = dict(configs)[row]
            run = train_split(config, dataset.root, out / row / f"split-{k}", split=k, resume=True,
                              cache_dir=settings.cache_dir, progress=settings.progress, command=command)
            result = dict(run.metrics["test"])
            if score_attention and config.model.attention.enabled:
                result["localisation"] = run_localisation(run.run_dir, dataset)
        per_split.setdefault(row, []).append({"split": k, **{key: result[key] for key, _, _ in METRICS},
                                              **({"localisation": result["localisation"]}
                                                 if result.get("localisation") else {})})
        log.info("split %d, %s: accuracy %.3f, nMSE per emotion %.3f", k, row, result["accuracy"],
                 result["nmse_per_emotion"])

    rows = [_row(CHANCE, "Chance (training-mean intensities)", "chance", None, per_split[CHANCE])]
    rows += [_row(name, baseline_label(name), "baseline", None, per_split[name]) for name in settings.baselines]
    rows += [_row(name, row_label(name), "model", config_hash(config), per_split[name]) for name, config in configs]
    results = {
        "command": command,
        "settings": settings.settings,
        "dataset": dataset_record(dataset),
        "code": git_commit(),
        "n_splits_protocol": n_protocol,
        "splits": list(range(n_splits)),
        "split_source": {"n_splits": n_protocol, "split_seed": first.data.split_seed,
                         "train_fraction": first.data.train_fraction, "split_mode": first.data.split_mode,
                         "val_fraction": first.data.val_fraction},
        "configs": {name: {"path": str(path), "hash": config_hash(config), "config": config.to_dict()}
                    for (name, config), path in zip(configs, settings.configs)},
        "overrides": list(settings.overrides),
        "std": "sample standard deviation over the splits (ddof = 1)",
        "rows": rows,
    }
    write_json(out / RESULTS_JSON, json_safe(results))
    write_text(out / RESULTS_MD, render_results(results))
    return results


def _row(name: str, label: str, kind: str, digest: str | None, splits: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name, "label": label, "kind": kind, "config_hash": digest, "per_split": splits,
        "metrics": {key: mean_std([s[key] for s in splits]) for key, _, _ in METRICS},
    }
    if any("localisation" in s for s in splits):
        # one value per split, None where a split has none, so that every list is indexed by split like the metrics
        row["localisation"] = {name: mean_std([_dig(s["localisation"], path) if "localisation" in s else None
                                               for s in splits])
                               for path, name in LOCALISATION_RATES}
    return row


def _dig(mapping: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        mapping = mapping[key]
    return mapping
