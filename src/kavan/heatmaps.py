"""Keypoint heatmaps, the supervision target of the facial attention (paper Eq. 8, DESIGN.md section 2).

Every keypoint j of every face becomes a 2-D Gaussian on a fine G x G grid covering the image,
with amplitude c_j (its confidence) times ``mouth_weight`` for the 20 dense lip points (iBUG 48-67).
The Gaussians are summed, the sum is average-pooled to the K x K feature grid, and the pooled map is
turned into a spatial distribution by softmax(pooled / temperature) over the K^2 cells.

Geometry: keypoints are in pixel coordinates of a (width, height) image, x right, y down, with pixel
centres at integer coordinates, so the image spans [-0.5, width - 0.5] x [-0.5, height - 0.5]. Fine
cell g covers the g-th of G equal slices of that span; a keypoint at x lies at fine-grid coordinate
u = (x + 0.5) * G / width - 0.5, with cell centres at integer u. A horizontal flip x -> width - 1 - x
therefore maps u -> G - 1 - u and the pooled column c -> K - 1 - c exactly.

The Gaussians are evaluated only at the cell centres inside the image, so a point outside the image
contributes just the tail that reaches into it, fading smoothly as it moves out. Points with
confidence 0 contribute nothing whatever their coordinates (NaN included). A frame whose confidences
are all 0 gets the uniform map 1/K^2 (the softmax of an all-zero overlay) and has_heatmap False; the
keypoint loss masks such frames out. Defaults and the measurements behind them: docs/heatmaps.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kavan.errors import KavanError
from kavan.landmarks import MOUTH, validate_keypoints


@dataclass(frozen=True)
class HeatmapConfig:
    """Eq. 8's free numbers (the paper's own were lost in its text).

    grid: side G of the fine grid the Gaussians are drawn on.
    sigma: Gaussian standard deviation, in fine-grid cells.
    mouth_weight: extra factor (< 1) on the amplitude of the 20 lip points, which are packed much
        more densely than the rest of the face and would otherwise pull the map onto the mouth.
    temperature: softmax temperature on the pooled overlay; lower is more peaked.
    """

    grid: int = 56
    sigma: float = 1.5
    mouth_weight: float = 0.5
    temperature: float = 0.6

    def __post_init__(self) -> None:
        if self.grid < 1:
            raise KavanError(f"heatmap grid must be >= 1, got {self.grid}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise KavanError(f"heatmap sigma must be a positive number, got {self.sigma}")
        if not 0 < self.mouth_weight <= 1:
            raise KavanError(f"heatmap mouth_weight must be in (0, 1], got {self.mouth_weight}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise KavanError(f"heatmap temperature must be a positive number, got {self.temperature}")


def keypoint_heatmaps(keypoints: np.ndarray | torch.Tensor, image_size: tuple[int, int], k: int,
                      config: HeatmapConfig = HeatmapConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps (F, k, k) float32, each summing to 1, and has_heatmap (F,) bool, from keypoints.

    keypoints: (F, P, 3) or (F, N_faces, P, 3), P 68 or 70, rows (x, y, confidence) in pixels of an
    image of size ``image_size`` = (width, height). k: side of the output grid (the backbone's K);
    the fine grid is average-pooled to it (adaptive pooling, exact block means when G is a multiple
    of k). Raises KavanError for a wrong shape, a bad size, or negative / non-finite confidences
    or non-finite coordinates of points with confidence > 0.
    """
    points = torch.as_tensor(keypoints, dtype=torch.float32)
    n_points = validate_keypoints(tuple(points.shape))
    width, height = image_size
    if width < 1 or height < 1:
        raise KavanError(f"image size must be positive (width, height), got {image_size}")
    if not 1 <= k <= config.grid:
        raise KavanError(f"heatmap size k must be in 1..grid ({config.grid}), got {k}")
    n_frames = points.shape[0]
    n_all = n_points * (points.shape[1] if points.dim() == 4 else 1)   # points of all faces
    points = points.reshape(n_frames, n_all, 3)

    conf = points[..., 2]
    if not bool(torch.isfinite(conf).all()) or bool((conf < 0).any()):
        raise KavanError("keypoint confidences must be finite and >= 0")
    valid = conf > 0
    if not bool(torch.isfinite(points[..., :2])[valid].all()):
        raise KavanError("keypoints with confidence > 0 must have finite coordinates")

    weight = torch.ones(n_points, dtype=torch.float32, device=points.device)
    weight[list(MOUTH)] = config.mouth_weight
    amplitude = conf * weight.repeat(n_all // n_points)          # 0 wherever the confidence is 0
    grid = config.grid
    # Points with confidence 0 may carry any coordinates (NaN included): park them at 0 so that
    # 0 * Gaussian stays 0 instead of NaN.
    u = torch.where(valid, (points[..., 0] + 0.5) * (grid / width) - 0.5, 0.0)
    v = torch.where(valid, (points[..., 1] + 0.5) * (grid / height) - 0.5, 0.0)

    # The 2-D Gaussian is separable: overlay[y, x] = sum_j a_j * gy_j[y] * gx_j[x].
    cells = torch.arange(grid, dtype=torch.float32, device=points.device)
    scale = -0.5 / config.sigma ** 2
    gx = torch.exp(scale * (cells - u[..., None]) ** 2)
    gy = torch.exp(scale * (cells - v[..., None]) ** 2)
    overlay = torch.einsum("fm,fmy,fmx->fyx", amplitude, gy, gx)

    pooled = F.adaptive_avg_pool2d(overlay.unsqueeze(1), k).reshape(n_frames, k * k)
    heatmaps = torch.softmax(pooled / config.temperature, dim=1).reshape(n_frames, k, k)
    return heatmaps, valid.any(dim=1)
