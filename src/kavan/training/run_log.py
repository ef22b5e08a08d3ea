"""What a run shows while and after it trains: a per-epoch CSV, TensorBoard event files, a training-curve PNG.

The history of finished epochs lives in the checkpoint, so after a resume the CSV and the PNG are rewritten
from it whole: an epoch is listed once, whether or not the run was interrupted. TensorBoard gets per-step
scalars; a resumed run opens its writer with ``purge_step`` at the checkpoint's step, which makes TensorBoard
drop the events a killed run wrote after that checkpoint.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from kavan.core.atomic import write_bytes, write_text

LOG_FILE = "log.csv"
CURVES_FILE = "curves.png"
TENSORBOARD_DIR = "tensorboard"


def write_history_csv(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """log.csv: one row per finished epoch, columns in first-seen order."""
    columns: list[str] = []
    for row in history:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({key: _cell(row.get(key)) for key in columns})
    write_text(run_dir / LOG_FILE, buffer.getvalue())


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def plot_curves(run_dir: Path, history: list[dict[str, Any]], title: str) -> None:
    """curves.png: training loss terms per epoch and, when the run validates, the validation metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    epochs = [row["epoch"] for row in history]
    validation = [key for key in history[0] if key.startswith("val_")]
    fig, axes = plt.subplots(1, 2 if validation else 1, figsize=(11 if validation else 6, 4), squeeze=False)
    ax = axes[0][0]
    for key in [k for k in history[0] if k.startswith("train_")]:
        ax.plot(epochs, [row[key] for row in history], marker="o", ms=3, label=key[len("train_"):])
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (epoch mean)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if validation:
        ax = axes[0][1]
        for key in validation:
            ax.plot(epochs, [row[key] for row in history], marker="o", ms=3, label=key[len("val_"):])
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation metric")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_bytes(run_dir / CURVES_FILE, buffer.getvalue())


class TensorBoard:
    """Scalars per step into ``<run>/tensorboard``; a no-op object on ranks other than 0."""

    def __init__(self, run_dir: Path | None, purge_step: int | None = None):
        self.writer = None
        if run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(os.fspath(run_dir / TENSORBOARD_DIR), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
