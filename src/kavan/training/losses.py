"""Training losses (paper Sec. 3.1 Eq. 7 and Sec. 3.3; docs/model.md, "Losses").

    L = L_nMSE + λ_ce · L_CE + λ_rank · L_rank + λ_kp · L_kp

- L_nMSE (``loss.regression``), one of two normalisations of the squared error:
  ``nmse_per_gif`` (the default, the project's reading of the paper's nMSE loss): Σ_j (ŷ_j − y_j)² / Σ_j (y_j − ȳ)²
  over the 17 emotions of one GIF, averaged over the batch. A GIF whose targets are (nearly) all equal would
  divide by zero, so the denominator is floored at ``NMSE_VARIANCE_FLOOR`` (kavan.training.metrics), the same guard the
  nMSE-per-GIF metric uses.
  ``nmse_per_emotion``: (1/17) Σ_j mean_i (ŷ_ij − y_ij)² / v_j, with v_j the variance of emotion j over the
  training split: the expected value of Table 2's nMSE per emotion (Jou et al.). It learns faster but overfits
  small training sets far sooner than the per-GIF form (docs/training.md has the measurement), so it is an option,
  not the default.
- L_CE: cross-entropy of the quadrant logits against the quadrant of the GIF's strongest target emotion.
- L_rank: for each GIF, the mean over the emotion pairs (i, j) with y_i > y_j of max(0, m − (ŷ_i − ŷ_j)), then
  the mean over the GIFs that have at least one such pair (0 when none has).
- L_kp (Eq. 7): Σ over the K² cells of (M_t − H_t)², averaged over the frames that have a keypoint heatmap only;
  0 (not NaN) when no frame in the batch has one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kavan.config import LossConfig
from kavan.core.emotions import EMOTION_QUADRANT_INDEX
from kavan.core.errors import KavanError
from kavan.models.kavan import KavanOutput
from kavan.training.metrics import NMSE_VARIANCE_FLOOR


@dataclass
class LossTargets:
    """Targets of a batch of B GIFs of T frames.

    intensities: (B, 17) in [0, 1], EMOTIONS order. heatmaps: (B, T, K, K) keypoint heatmaps H_t (kavan.keypoints.heatmaps),
    with has_heatmap (B, T) bool marking the frames that have one; both None when the batch carries no keypoints.
    """

    intensities: torch.Tensor
    heatmaps: torch.Tensor | None = None
    has_heatmap: torch.Tensor | None = None
    stats: TargetStats | None = None  # the training split's target statistics (normalisers of the nMSE terms)


@dataclass(frozen=True)
class TargetStats:
    """What the regression losses need to know of the training split's targets, computed once per run.

    emotion_variance: (17,) variance of each emotion over the training GIFs (the nmse_per_emotion normaliser).
    """

    emotion_variance: torch.Tensor

    @classmethod
    def of(cls, intensities: np.ndarray, device: torch.device | str = "cpu") -> TargetStats:
        """The statistics of (N, 17) training intensities."""
        return cls(torch.from_numpy(np.asarray(intensities, dtype=np.float64).var(axis=0)).float().to(device))


def nmse_loss(pred: torch.Tensor, target: torch.Tensor, floor: float = NMSE_VARIANCE_FLOOR) -> torch.Tensor:
    """nMSE per GIF, Σ_j (ŷ_j − y_j)² / max(Σ_j (y_j − ȳ)², floor), averaged over the batch."""
    residual = ((pred - target) ** 2).sum(dim=1)
    spread = ((target - target.mean(dim=1, keepdim=True)) ** 2).sum(dim=1)
    return (residual / spread.clamp_min(floor)).mean()


def nmse_per_emotion_loss(pred: torch.Tensor, target: torch.Tensor, variance: torch.Tensor,
                          floor: float = NMSE_VARIANCE_FLOOR) -> torch.Tensor:
    """(1/17) Σ_j mean_i (ŷ_ij − y_ij)² / max(v_j, floor): squared error per emotion in units of its variance."""
    return (((pred - target) ** 2).mean(dim=0) / variance.clamp_min(floor)).mean()


def quadrant_targets(intensities: torch.Tensor) -> torch.Tensor:
    """Quadrant index (B,) of each GIF's strongest emotion (kavan.core.emotions.EMOTION_QUADRANT_INDEX)."""
    table = torch.tensor(EMOTION_QUADRANT_INDEX, device=intensities.device)
    return table[intensities.argmax(dim=1)]


def ranking_loss(pred: torch.Tensor, target: torch.Tensor, margin: float) -> torch.Tensor:
    """Pairwise hinge on emotion order: mean over pairs y_i > y_j of max(0, m − (ŷ_i − ŷ_j)), per GIF, then batch."""
    ordered = target.unsqueeze(2) > target.unsqueeze(1)  # (B, 17, 17): pair (i, j) with y_i > y_j
    hinge = torch.relu(margin - (pred.unsqueeze(2) - pred.unsqueeze(1)))
    pairs = ordered.sum(dim=(1, 2))
    per_gif = torch.where(ordered, hinge, 0.0).sum(dim=(1, 2)) / pairs.clamp_min(1)
    has_pairs = pairs > 0
    return torch.where(has_pairs, per_gif, 0.0).sum() / has_pairs.sum().clamp_min(1)


def keypoint_loss(masks: torch.Tensor, heatmaps: torch.Tensor, has_heatmap: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ‖M_t − H_t‖² summed over cells, mean over the frames with a heatmap; masks/heatmaps (B, T, K, K)."""
    present = has_heatmap.unsqueeze(-1).unsqueeze(-1)
    # Zero the heatmaps of frames without keypoints first, so that nothing undefined there reaches the gradient.
    target = torch.where(present, heatmaps, 0.0)
    per_frame = ((masks - target) ** 2).sum(dim=(2, 3))
    return torch.where(has_heatmap, per_frame, 0.0).sum() / has_heatmap.sum().clamp_min(1)


def total_loss(output: KavanOutput, targets: LossTargets, config: LossConfig) -> dict[str, torch.Tensor]:
    """Every loss term that applies to this output, and their weighted sum under ``"total"``.

    Always: ``nmse``, ``rank``. ``ce`` when the model has the quadrant head, ``kp`` when it has attention and the
    targets carry heatmaps. A nonzero weight on a term that cannot be computed is a KavanError.
    """
    y, y_hat = targets.intensities, output.intensities
    if config.regression == "nmse_per_emotion":
        if targets.stats is None:
            raise KavanError("loss.regression nmse_per_emotion needs the training split's target statistics "
                             "(LossTargets.stats)")
        regression = nmse_per_emotion_loss(y_hat, y, targets.stats.emotion_variance)
    else:
        regression = nmse_loss(y_hat, y)
    terms = {"nmse": regression, "rank": ranking_loss(y_hat, y, config.rank_margin)}
    total = terms["nmse"] + config.lambda_rank * terms["rank"]

    if output.quadrant_logits is not None:
        terms["ce"] = F.cross_entropy(output.quadrant_logits, quadrant_targets(y))
        total = total + config.lambda_ce * terms["ce"]
    elif config.lambda_ce > 0:
        raise KavanError("loss.lambda_ce > 0 but the model has no quadrant head (model.multitask is off)")

    if output.attention is not None and targets.heatmaps is not None and targets.has_heatmap is not None:
        terms["kp"] = keypoint_loss(output.attention, targets.heatmaps, targets.has_heatmap)
        total = total + config.lambda_kp * terms["kp"]
    elif config.keypoint_supervision:
        raise KavanError("loss.lambda_kp > 0 needs attention masks from the model and heatmaps in the batch")

    terms["total"] = total
    return terms
