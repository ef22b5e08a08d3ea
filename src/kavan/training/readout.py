"""The ridge read-out (``train.readout: ridge``): the regression head's W_r, b_r refitted in closed form after training.

The head computes ŷ = sigmoid(W_r u + b_r) with u = r ⊕ softmax(z) (kavan.models.heads). Once the epochs are
over and the kept weights are loaded, every training GIF (the validation hold-out included: its one other use,
choosing the epoch, is done) is run through the network as evaluation runs it (TSN's middle frames, dropout off)
to give its u, and W_r, b_r are replaced by the ridge regression of logit(y) on u, its penalty chosen by
generalised cross-validation over those GIFs alone (kavan.models.ridge.RidgeRegression). The rest of the network
is unchanged, so the model file, ``kavan predict`` and ``kavan serve`` work as before.

Why: with a few hundred GIFs, gradient descent on the head either stops early or fits the training GIFs, and a
hold-out of tens of GIFs chooses the epoch by luck; GCV sets the head's complexity from the data, adapting to the
set's size without a hold-out. docs/training.md ("Small sets") has the measurements.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from kavan.core.errors import KavanError
from kavan.models import KAVAN
from kavan.models.ridge import RidgeRegression
from kavan.training.evaluation import model_inputs

EPSILON = 1e-3  # targets are clipped to [ε, 1 − ε] before the logit


def head_inputs(model: KAVAN, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(u (n, R [+ 4]), targets (n, 17)) of every GIF of ``loader``, with the model in eval mode: u is what the
    regression head's linear layer reads."""
    captured: list[torch.Tensor] = []
    hook = model.heads.regressor.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach()))
    targets = []
    model.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                model(**model_inputs(batch, device))
                targets.append(batch["intensities"].numpy())
    finally:
        hook.remove()
    return torch.cat(captured).float().cpu().numpy().astype(np.float64), np.concatenate(targets).astype(np.float64)


def logit(y: np.ndarray) -> np.ndarray:
    p = np.clip(y, EPSILON, 1.0 - EPSILON)
    return np.log(p / (1.0 - p))


def fit_ridge_readout(model: KAVAN, loader: DataLoader, device: torch.device) -> dict[str, Any]:
    """Replace ``model``'s regression head by the GCV ridge fit of logit(y) on the head's inputs over ``loader``'s
    GIFs; returns what was fitted (GIFs, λ, effective λ / n, the fit's training nMSE in logit space)."""
    u, y = head_inputs(model, loader, device)
    if len(u) < 3:
        raise KavanError(f"the ridge read-out needs at least 3 training GIFs, got {len(u)}")
    target = logit(y)
    ridge = RidgeRegression(ridge=None).fit(u, target)
    weight = (ridge.coef_ / ridge.scale_[:, None]).T  # (17, R): ŷ_logit = b + ((u − μ) / σ) W
    bias = ridge.intercept_ - (ridge.mean_ / ridge.scale_) @ ridge.coef_
    layer = model.heads.regressor
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))
    return {"kind": "ridge", "n": int(len(u)), "lambda": float(ridge.ridge_),
            "lambda_per_gif": float(ridge.ridge_) / len(u)}


__all__ = ["EPSILON", "fit_ridge_readout", "head_inputs", "logit"]
