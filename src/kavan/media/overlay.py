"""Blend a K×K spatial map (keypoint heatmap or attention mask) over the frame it belongs to.

The map's cells tile the whole frame (the grid convention of kavan.keypoints.heatmaps and of the backbone's feature
map after kavan.data.transforms' evaluation resize), so the map is upsampled bilinearly to the frame's size, scaled
to its own maximum, coloured with a matplotlib colormap and alpha-blended where it is strong.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upsample_map(cells: np.ndarray | torch.Tensor, height: int, width: int) -> np.ndarray:
    """(K, K) map → (height, width) float32 by bilinear interpolation between cell centres."""
    grid = torch.as_tensor(cells, dtype=torch.float32)[None, None]
    return F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()


def blend_map(frame: np.ndarray, cells: np.ndarray | torch.Tensor, alpha: float = 0.6,
              colormap: str = "jet") -> np.ndarray:
    """frame (H, W, 3) uint8 with the (K, K) map coloured over it; the map's peak gets opacity ``alpha``."""
    from matplotlib import colormaps

    height, width = frame.shape[:2]
    heat = upsample_map(cells, height, width)
    peak = float(heat.max())
    strength = heat / peak if peak > 0 else np.zeros_like(heat)
    colour = colormaps[colormap](strength)[..., :3] * 255.0
    weight = alpha * strength[..., None]
    blended = frame.astype(np.float32) * (1.0 - weight) + colour * weight
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
