"""Predict a set of GIFs with a model and score the predictions with the paper's metrics (kavan.training.metrics).

The scores: 4-class quadrant ``accuracy`` (argmax of the quadrant logits, or for models without that head the
quadrant of the strongest predicted emotion), ``nmse_per_gif`` (the loss's nMSE, averaged over GIFs),
``nmse_per_emotion`` (Jou et al. 2014, per emotion over the test set, averaged over emotions), ``pearson_mean``
(Pearson r per emotion, averaged over the emotions where it is defined) and ``pearson_per_emotion``.
Predictions, attention maps and the frames they were made from are saved per run, so attention can be scored
against ground truth later without running the model again.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from kavan.core.tensorfile import read_safetensors, write_safetensors
from kavan.training.metrics import summary

PREDICTIONS_FORMAT = "kavan-predictions/1"


@dataclass
class Predictions:
    """One row per GIF: ids, dataset rows, predicted intensities (N, 17), quadrant logits (N, 4) or None,
    attention (N, T, K, K) or None, the frames used (N, T) and the targets (N, 17)."""

    ids: list[str]
    rows: np.ndarray
    intensities: np.ndarray
    quadrant_logits: np.ndarray | None
    attention: np.ndarray | None
    frame_indices: np.ndarray
    targets: np.ndarray


def autocast(device: torch.device, amp: str):
    """The autocast context of train.amp (``off``: none)."""
    if amp == "off":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def model_inputs(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The forward() keyword of a batch: ``frames``, or ``cached`` (a feature cache's blocks: the output of the
    backbone's frozen part) as float32, on ``device``; with a glimpse row's cached ``glimpses`` too."""
    if "features" in batch:
        inputs = {"cached": batch["features"].to(device, non_blocking=True).float()}
        if "glimpses" in batch:
            inputs["glimpses"] = batch["glimpses"].to(device, non_blocking=True).float()
        return inputs
    return {"frames": batch["frames"].to(device, non_blocking=True)}


@torch.no_grad()
def predict(model: torch.nn.Module, loader: DataLoader, ids_by_row: list[str], device: torch.device,
            amp: str = "off", progress: bool = True, desc: str = "evaluating") -> Predictions:
    """Run ``model`` (eval mode) over every batch of ``loader`` (a ClipDataset or FeatureClipDataset loader)."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {"rows": [], "intensities": [], "logits": [], "attention": [],
                                          "frames": [], "targets": []}
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        with autocast(device, amp):
            output = model(**model_inputs(batch, device))
        parts["rows"].append(batch["row"].numpy())
        parts["intensities"].append(output.intensities.float().cpu().numpy())
        if output.quadrant_logits is not None:
            parts["logits"].append(output.quadrant_logits.float().cpu().numpy())
        if output.attention is not None:
            parts["attention"].append(output.attention.float().cpu().numpy())
        parts["frames"].append(batch["frame_indices"].numpy())
        parts["targets"].append(batch["intensities"].numpy())
    rows = np.concatenate(parts["rows"])
    return Predictions(
        ids=[ids_by_row[r] for r in rows],
        rows=rows,
        intensities=np.concatenate(parts["intensities"]),
        quadrant_logits=np.concatenate(parts["logits"]) if parts["logits"] else None,
        attention=np.concatenate(parts["attention"]) if parts["attention"] else None,
        frame_indices=np.concatenate(parts["frames"]),
        targets=np.concatenate(parts["targets"]),
    )


def score(predictions: Predictions) -> dict[str, Any]:
    """The paper's metrics for a set of predictions (kavan.training.metrics.summary)."""
    return summary(predictions.intensities, predictions.targets, predictions.quadrant_logits)


def save_predictions(path: str | os.PathLike[str], predictions: Predictions) -> None:
    """predictions.safetensors: every array above as a tensor, the ids (row order) in the metadata."""
    tensors = {
        "rows": torch.from_numpy(predictions.rows.astype(np.int64)),
        "intensities": torch.from_numpy(predictions.intensities.astype(np.float32)),
        "frame_indices": torch.from_numpy(predictions.frame_indices.astype(np.int64)),
        "targets": torch.from_numpy(predictions.targets.astype(np.float32)),
    }
    if predictions.quadrant_logits is not None:
        tensors["quadrant_logits"] = torch.from_numpy(predictions.quadrant_logits.astype(np.float32))
    if predictions.attention is not None:
        tensors["attention"] = torch.from_numpy(predictions.attention.astype(np.float32))
    metadata = {"format": PREDICTIONS_FORMAT, "ids": json.dumps(predictions.ids)}
    write_safetensors(path, {k: v.contiguous() for k, v in tensors.items()}, metadata)


def load_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read predictions.safetensors back (safetensors only; KavanError naming the file if it is not one)."""
    tensors, meta = read_safetensors(path, PREDICTIONS_FORMAT)
    arrays = {name: value.numpy() for name, value in tensors.items()}
    return Predictions(ids=json.loads(meta["ids"]), rows=arrays["rows"], intensities=arrays["intensities"],
                       quadrant_logits=arrays.get("quadrant_logits"), attention=arrays.get("attention"),
                       frame_indices=arrays["frame_indices"], targets=arrays["targets"])
