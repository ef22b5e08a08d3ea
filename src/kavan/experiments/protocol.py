"""The paper's evaluation protocol: train and test one config on every split, report mean ± std.

``run_protocol`` trains split k into ``<out>/split-<k>`` (kavan.training.trainer.train_split) for every split of
the config's seeded splits (``data.n_splits``, 5 by default, 80/20, ``data.split_mode``: independent random
splits by default, or one permutation cut into folds) or of a split file, then writes
``evaluation.json`` and ``evaluation.md``: per split and as mean ± std over the splits, quadrant accuracy,
nMSE per GIF, nMSE per emotion and mean Pearson r. The std is the sample standard deviation (ddof = 1), the
more conservative of the two when rows are compared by "more than twice the std".

With ``resume`` a finished split is reused (its config hash must match) and an interrupted one continues from
its checkpoint, so an ablation loop can call this again after any crash. ``kavan ablation`` is this, once per row.
"""

from __future__ import annotations

import io
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kavan.config import KavanConfig, config_hash
from kavan.core.atomic import write_json, write_text
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.experiments.reporting import splits_line
from kavan.experiments.tables import markdown_table, mean_std_cell
from kavan.training.distributed import is_main_process
from kavan.training.provenance import dataset_record, git_commit
from kavan.training.trainer import RunResult, train_split

log = logging.getLogger(__name__)

SUMMARY_JSON = "evaluation.json"
SUMMARY_MD = "evaluation.md"
# (key in the metrics, column title, direction): what the protocol reports for each split.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "Accuracy", "higher is better"),
    ("nmse_per_gif", "nMSE per GIF", "lower is better"),
    ("nmse_per_emotion", "nMSE per emotion", "lower is better"),
    ("pearson_mean", "mean Pearson r", "higher is better"),
)


@dataclass
class ProtocolResult:
    """All splits of one config: the output folder, each split's run, and the summary written to evaluation.json."""

    out_dir: Path
    runs: list[RunResult]
    summary: dict[str, Any]


def mean_std(values: list[float]) -> dict[str, Any]:
    """{"mean", "std" (ddof 1; 0 for one value), "values"} over the finite values (NaN values are skipped)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "values": values}
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return {"mean": float(np.mean(finite)), "std": std, "values": values}


def run_protocol(config: KavanConfig, data: str | os.PathLike[str], out: str | os.PathLike[str], *,
                 split_file: str | os.PathLike[str] | None = None, splits: list[int] | None = None,
                 resume: bool = False, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
                 command: list[str] | None = None, name: str | None = None) -> ProtocolResult:
    """Train and test ``config`` on every split (or the given ``splits``) and write the summary; see above."""
    out_dir = Path(out)
    dataset = Dataset(data)
    n_splits = len(dataset.read_split_file(split_file)) if split_file is not None else config.data.n_splits
    chosen = list(range(n_splits)) if splits is None else splits
    for k in chosen:
        if not 0 <= k < n_splits:
            raise KavanError(f"split {k} does not exist: there are {n_splits} (0..{n_splits - 1})")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not resume:
        raise KavanError("output folder exists and is not empty: pass --resume to continue it, or choose a new "
                         "--out", out_dir)
    command = command if command is not None else sys.argv
    runs = []
    for k in chosen:
        log.info("split %d of %d", k + 1, n_splits)
        runs.append(train_split(config, data, out_dir / f"split-{k}", split=k, split_file=split_file, resume=resume,
                                cache_dir=cache_dir, progress=progress, command=command))
    summary = {
        "name": name or out_dir.name,
        "command": command,
        "config_hash": config_hash(config),
        "config": config.to_dict(),
        "dataset": dataset_record(dataset),
        "split_source": str(split_file) if split_file is not None else
        {"n_splits": config.data.n_splits, "split_seed": config.data.split_seed,
         "train_fraction": config.data.train_fraction, "split_mode": config.data.split_mode},
        "code": git_commit(),
        "splits": [run.metrics["split"] for run in runs],
        "per_split": [{"split": run.metrics["split"], "run": str(run.run_dir), **_headline(run.metrics["test"])}
                      for run in runs],
        "metrics": {key: mean_std([run.metrics["test"][key] for run in runs]) for key, _, _ in METRICS},
        "std": "sample standard deviation over the splits (ddof = 1)",
    }
    if is_main_process():
        write_json(out_dir / SUMMARY_JSON, summary)
        write_text(out_dir / SUMMARY_MD, render_markdown(summary))
    return ProtocolResult(out_dir, runs, summary)


def _headline(test: dict[str, Any]) -> dict[str, Any]:
    return {key: test[key] for key, _, _ in METRICS}


def render_markdown(summary: dict[str, Any]) -> str:
    """evaluation.md: the config, the data, one row per split and the mean ± std row."""
    out = io.StringIO()
    dataset = summary["dataset"]
    out.write(f"# {summary['name']}: {len(summary['per_split'])}-split evaluation\n\n")
    out.write(f"- dataset: `{dataset['path']}` ({dataset['n_gifs']} GIFs, fingerprint `{dataset['fingerprint'][:16]}`"
              + (", SynthGIF" if dataset.get("synthgif") else "") + ")\n")
    out.write(f"- config hash: `{summary['config_hash'][:16]}`\n")
    code = summary.get("code") or {}
    if code:
        out.write(f"- code: `{code['commit'][:12]}`" + (" (with uncommitted changes)" if code["dirty"] else "") + "\n")
    out.write(f"- command: `{' '.join(summary['command'])}`\n")
    source = summary.get("split_source")
    out.write(f"- splits: split file `{source}`\n" if isinstance(source, str) else splits_line(source))
    out.write(f"- std: {summary['std']}\n\n")
    rows = [[str(row["split"])] + ["n/a" if row[key] is None or not math.isfinite(row[key]) else f"{row[key]:.4f}"
                                   for key, _, _ in METRICS] for row in summary["per_split"]]
    rows.append(["**mean ± std**"] + [mean_std_cell(summary["metrics"][key], digits=4, one_value_alone=False)
                                      for key, _, _ in METRICS])
    out.write(markdown_table(["split"] + [title for _, title, _ in METRICS], rows) + "\n")
    out.write("Accuracy: 4-class circumplex quadrant. nMSE per GIF: Σ_j (ŷ_j − y_j)² / Σ_j (y_j − ȳ)² over the 17 "
              "emotions, mean over test GIFs (the loss). nMSE per emotion: per emotion over the test set "
              "(Jou et al. 2014), mean over emotions. Pearson r: per emotion, mean over emotions.\n")
    return out.getvalue()
