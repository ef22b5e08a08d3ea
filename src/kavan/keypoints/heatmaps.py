"""Keypoint heatmaps, the supervision target of the facial attention (paper Eq. 8; docs/heatmaps.md).

Every keypoint j of every face becomes a 2-D Gaussian on a fine G x G grid covering the image,
with amplitude c_j (its confidence) times ``mouth_weight`` for the 20 dense lip points (iBUG 48-67).
Each face's Gaussians are summed and average-pooled to the K x K feature grid (P_f), divided by the
peak the same points would give at full confidence (U_f, pooled like P_f with every c_j > 0 set to 1),
floored at u_1, the pooled peak of a single full-confidence point; the faces' normalised overlays are
summed and turned into a spatial distribution over the K^2 cells:

    H = softmax( sum_f P_f / max(max U_f, u_1) / temperature )        (normalise="peak", the default)
    H = softmax( sum_f P_f / temperature )                             (normalise="none")

Without the normalisation the overlay is on an absolute scale: a close-up spreads its points over many
cells, the pooled values are small and the softmax is nearly uniform, while a small face packs its
points into a few cells and gets a peaked map. With it, a face whose points all have confidence c has
logit c / temperature in its strongest cell whatever its size: the confidences still scale the map
(low-confidence faces and stray points stay flat), the face size no longer does. Measurements:
docs/heatmaps.md.

Geometry: keypoints are in pixel coordinates of a (width, height) image, x right, y down, with pixel
centres at integer coordinates, so the image spans [-0.5, width - 0.5] x [-0.5, height - 0.5]. Fine
cell g covers the g-th of G equal slices of that span; a keypoint at x lies at fine-grid coordinate
u = (x + 0.5) * G / width - 0.5, with cell centres at integer u. A horizontal flip x -> width - 1 - x
therefore maps u -> G - 1 - u and the pooled column c -> K - 1 - c exactly.

The Gaussians are evaluated only at the cell centres inside the image, so a point outside the image
contributes just the tail that reaches into it, fading smoothly as it moves out (the floor u_1 keeps a
face that lies outside the image from being normalised by its own tail). Points with confidence 0
contribute nothing whatever their coordinates (NaN included). A frame whose confidences are all 0 gets
the uniform map 1/K^2 (the softmax of an all-zero overlay) and has_heatmap False; the keypoint loss
masks such frames out. Defaults and the measurements behind them: docs/heatmaps.md.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from kavan.config import HeatmapConfig
from kavan.core.errors import KavanError
from kavan.keypoints.landmarks import MOUTH, validate_keypoints


def single_point_peak(grid: int, k: int, sigma: float) -> float:
    """u_1: the pooled value of one unit Gaussian (sigma fine cells) in the K-cell it is centred in.

    With G a multiple of k every K-cell is a block of B = G / k fine cells and
    u_1 = ((1/B) * sum_{i=0}^{B-1} exp(-(i - (B-1)/2)^2 / (2 sigma^2)))^2; with adaptive pooling the
    blocks differ by a cell and the largest value is taken.
    """
    cells = torch.arange(grid, dtype=torch.float64)
    index = torch.arange(k, dtype=torch.float64)
    starts, ends = torch.floor(index * grid / k), torch.ceil((index + 1) * grid / k)
    centres = (starts + ends - 1) / 2
    gauss = torch.exp(-0.5 * ((cells - centres[:, None]) / sigma) ** 2)          # (k, G), one per K-cell
    own = F.adaptive_avg_pool1d(gauss[:, None, :], k)[:, 0, :].diagonal()
    return float(own.max()) ** 2


def keypoint_heatmaps(keypoints: np.ndarray | torch.Tensor, image_size: tuple[int, int], k: int,
                      config: HeatmapConfig = HeatmapConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps (F, k, k) float32, each summing to 1, and has_heatmap (F,) bool, from keypoints.

    keypoints: (F, P, 3) or (F, N_faces, P, 3), P 68 or 70, rows (x, y, confidence) in pixels of an
    image of size ``image_size`` = (width, height); the faces of a frame are the N_faces slots (a 3-D
    input is one face per frame), and with normalise="peak" each is normalised by its own peak.
    k: side of the output grid (the backbone's K); the fine grid is average-pooled to it (adaptive
    pooling, exact block means when G is a multiple of k). Raises KavanError for a wrong shape, a bad
    size, or negative / non-finite confidences or non-finite coordinates of points with confidence > 0.
    """
    points = torch.as_tensor(keypoints, dtype=torch.float32)
    n_points = validate_keypoints(tuple(points.shape))
    width, height = image_size
    if width < 1 or height < 1:
        raise KavanError(f"image size must be positive (width, height), got {image_size}")
    if not 1 <= k <= config.grid:
        raise KavanError(f"heatmap size k must be in 1..grid ({config.grid}), got {k}")
    n_frames = points.shape[0]
    n_faces = points.shape[1] if points.dim() == 4 else 1
    points = points.reshape(n_frames, n_faces, n_points, 3)

    conf = points[..., 2]
    if not bool(torch.isfinite(conf).all()) or bool((conf < 0).any()):
        raise KavanError("keypoint confidences must be finite and >= 0")
    valid = conf > 0
    if not bool(torch.isfinite(points[..., :2])[valid].all()):
        raise KavanError("keypoints with confidence > 0 must have finite coordinates")

    weight = torch.ones(n_points, dtype=torch.float32, device=points.device)
    weight[list(MOUTH)] = config.mouth_weight
    # Two amplitude sets per face: a = c * weight (the overlay) and, for the peak normalisation, the
    # same points at full confidence, valid * weight. Both are 0 wherever the confidence is 0.
    amplitude = torch.stack([conf * weight, valid * weight], dim=2)        # (F, N, 2, P)
    grid = config.grid
    # Points with confidence 0 may carry any coordinates (NaN included): park them at 0 so that
    # 0 * Gaussian stays 0 instead of NaN.
    u = torch.where(valid, (points[..., 0] + 0.5) * (grid / width) - 0.5, 0.0)
    v = torch.where(valid, (points[..., 1] + 0.5) * (grid / height) - 0.5, 0.0)

    # The 2-D Gaussian is separable, overlay[y, x] = sum_j a_j * gy_j[y] * gx_j[x], and so is the pooling
    # (a block mean of gy[y] * gx[x] is the product of the 1-D block means): pool each 1-D Gaussian to
    # k cells, then combine, one overlay per face and amplitude set.
    cells = torch.arange(grid, dtype=torch.float32, device=points.device)
    scale = -0.5 / config.sigma ** 2
    gx = F.adaptive_avg_pool1d(torch.exp(scale * (cells - u[..., None]) ** 2).reshape(-1, 1, grid), k)
    gy = F.adaptive_avg_pool1d(torch.exp(scale * (cells - v[..., None]) ** 2).reshape(-1, 1, grid), k)
    shape = (n_frames, n_faces, n_points, k)
    pooled = torch.einsum("fnam,fnmy,fnmx->fnayx", amplitude, gy.reshape(shape), gx.reshape(shape))
    pooled = pooled.reshape(n_frames, n_faces, 2, k * k)
    logits = pooled[:, :, 0]
    if config.normalise == "peak":
        # Each face's overlay divided by the peak its points would have at full confidence, but never by
        # less than one full-confidence point's peak (so a face without points, or one whose points lie
        # outside the image, stays small instead of being blown up to a full peak).
        peak = pooled[:, :, 1].amax(dim=2, keepdim=True)
        logits = logits / torch.clamp_min(peak, single_point_peak(grid, k, config.sigma))
    heatmaps = torch.softmax(logits.sum(dim=1) / config.temperature, dim=1).reshape(n_frames, k, k)
    return heatmaps, valid.flatten(1).any(dim=1)
