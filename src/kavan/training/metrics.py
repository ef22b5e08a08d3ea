"""Evaluation metrics of the paper's protocol (docs/model.md, "Metrics"): numpy arrays in, Python floats out.

Arrays hold one row per test GIF: ``pred`` and ``target`` are (N, 17) intensities in EMOTIONS order.
Two different normalised MSEs are reported and must not be confused:

- ``nmse_per_gif``: the training loss's nMSE, Σ_j (ŷ_j − y_j)² / Σ_j (y_j − ȳ)² over the 17 emotions of one GIF,
  averaged over the test GIFs;
- ``nmse_per_emotion``: Jou et al. (ACM MM 2014), for each emotion e over the whole test set
  Σ_i (ŷ_ie − y_ie)² / Σ_i (y_ie − ȳ_e)², averaged over the 17 emotions.

Both floor their denominator at NMSE_VARIANCE_FLOOR so that constant targets give a finite number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from kavan.core.emotions import EMOTIONS, quadrant_index

# Floor on Σ (y − ȳ)², the denominator of every nMSE. 1e-3 over 17 emotions is a per-emotion standard deviation
# of about 0.008 on the [0, 1] scale, far below the spread of real intensity vectors, so it only ever acts on
# (nearly) constant targets, where it keeps the loss finite and its gradient bounded.
NMSE_VARIANCE_FLOOR = 1e-3


def quadrant_accuracy(pred: np.ndarray, target: np.ndarray, quadrant_logits: np.ndarray | None = None) -> float:
    """4-class accuracy against the quadrant of each GIF's strongest target emotion.

    The prediction is the argmax of ``quadrant_logits`` (N, 4) when the model has a classification head, else the
    quadrant of the argmax predicted emotion.
    """
    truth = quadrant_index(target)
    guess = quadrant_index(pred) if quadrant_logits is None else np.argmax(quadrant_logits, axis=-1)
    return float(np.mean(truth == guess))


def nmse_per_gif(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over GIFs of Σ_j (ŷ_j − y_j)² / Σ_j (y_j − ȳ)² (the loss's nMSE)."""
    pred, target = _pair(pred, target)
    residual = ((pred - target) ** 2).sum(axis=1)
    spread = ((target - target.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return float(np.mean(residual / np.maximum(spread, NMSE_VARIANCE_FLOOR)))


def nmse_per_emotion(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over emotions of Σ_i (ŷ_ie − y_ie)² / Σ_i (y_ie − ȳ_e)² over the test GIFs (Jou et al. 2014)."""
    pred, target = _pair(pred, target)
    residual = ((pred - target) ** 2).sum(axis=0)
    spread = ((target - target.mean(axis=0, keepdims=True)) ** 2).sum(axis=0)
    return float(np.mean(residual / np.maximum(spread, NMSE_VARIANCE_FLOOR)))


def pearson_per_emotion(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Pearson r between predicted and target intensity for each emotion over the test GIFs.

    NaN for an emotion whose predictions or targets are constant (r is undefined there).
    """
    pred, target = _pair(pred, target)
    result = {}
    for e, name in enumerate(EMOTIONS):
        if np.ptp(pred[:, e]) == 0 or np.ptp(target[:, e]) == 0:
            result[name] = float("nan")
        else:
            result[name] = float(stats.pearsonr(pred[:, e], target[:, e]).statistic)
    return result


def summary(pred: np.ndarray, target: np.ndarray, quadrant_logits: np.ndarray | None = None) -> dict[str, Any]:
    """Every metric of the protocol for one set of predictions, under the one set of key names that metrics.json,
    the baselines' and chance's split files and results.json use: ``n``, ``accuracy``, ``nmse_per_gif``,
    ``nmse_per_emotion``, ``pearson_mean`` (over the emotions where r is defined; NaN if none) and
    ``pearson_per_emotion`` ({emotion: r})."""
    pearson = pearson_per_emotion(pred, target)
    defined = [r for r in pearson.values() if not math.isnan(r)]
    return {
        "n": int(len(pred)),
        "accuracy": quadrant_accuracy(pred, target, quadrant_logits),
        "nmse_per_gif": nmse_per_gif(pred, target),
        "nmse_per_emotion": nmse_per_emotion(pred, target),
        "pearson_mean": float(np.mean(defined)) if defined else float("nan"),
        "pearson_per_emotion": pearson,
    }


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != len(EMOTIONS):
        raise ValueError(f"pred and target must both be (N, {len(EMOTIONS)}), got {pred.shape} and {target.shape}")
    return pred, target
