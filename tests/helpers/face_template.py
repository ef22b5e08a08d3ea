"""A frontal 70-point face written out point by point, for tests and for the heatmap measurements.

Coordinates are in face widths, origin between the eyes' level and the nose, x right, y down; the
subject's right side (iBUG "right") is on the image's left (negative x). Each point is written out
on its own, not derived from kavan.keypoints.landmarks.MIRROR, so that tests can check MIRROR against it.
"""

from __future__ import annotations

import math

import numpy as np

_JAW = [(0.5 * math.cos(math.pi - i * math.pi / 16), -0.1 + 0.7 * math.sin(math.pi - i * math.pi / 16))
        for i in range(17)]
_POINTS = _JAW + [
    (-0.40, -0.33), (-0.33, -0.37), (-0.25, -0.38), (-0.17, -0.37), (-0.09, -0.34),   # right brow 17-21
    (0.09, -0.34), (0.17, -0.37), (0.25, -0.38), (0.33, -0.37), (0.40, -0.33),        # left brow 22-26
    (0.0, -0.25), (0.0, -0.14), (0.0, -0.03), (0.0, 0.08),                            # nose bridge 27-30
    (-0.10, 0.13), (-0.05, 0.145), (0.0, 0.15), (0.05, 0.145), (0.10, 0.13),          # nose base 31-35
    (-0.33, -0.20), (-0.27, -0.24), (-0.19, -0.24), (-0.13, -0.20), (-0.19, -0.17), (-0.27, -0.17),  # 36-41
    (0.13, -0.20), (0.19, -0.24), (0.27, -0.24), (0.33, -0.20), (0.27, -0.17), (0.19, -0.17),        # 42-47
    (-0.20, 0.33), (-0.12, 0.29), (-0.05, 0.27), (0.0, 0.28), (0.05, 0.27), (0.12, 0.29),            # 48-53
    (0.20, 0.33), (0.12, 0.38), (0.05, 0.40), (0.0, 0.40), (-0.05, 0.40), (-0.12, 0.38),             # 54-59
    (-0.16, 0.33), (-0.05, 0.31), (0.0, 0.31), (0.05, 0.31),                                         # 60-63
    (0.16, 0.33), (0.05, 0.35), (0.0, 0.35), (-0.05, 0.35),                                          # 64-67
    (-0.23, -0.205), (0.23, -0.205),                                                                 # pupils
]
TEMPLATE = np.asarray(_POINTS, dtype=np.float64)
assert TEMPLATE.shape == (70, 2)


def face_keypoints(center: tuple[float, float], width: float, n_points: int = 70,
                   confidence: float = 1.0) -> np.ndarray:
    """One face as a (n_points, 3) float32 array of (x, y, confidence) in pixels."""
    xy = np.asarray(center, dtype=np.float64) + TEMPLATE[:n_points] * width
    conf = np.full((n_points, 1), confidence)
    return np.concatenate([xy, conf], axis=1).astype(np.float32)
