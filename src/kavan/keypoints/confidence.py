"""Per-point confidence in [0, 1] for estimated facial keypoints (no offline model gives one).

For point j of a face (docs/keypoints.md shows on real frames how each factor ranks points):

    c_j = s · v_j · f_j · a_j

- s, the face's detection score (MediaPipe full-range face detector, in [threshold, 1]): how sure it is that
  there is a face at all.
- v_j, visibility: the cosine between the face mesh's surface normal at the point and the direction to the
  camera, ramped linearly from 0 (edge-on or turned away) to 1 at ``facing_visible``. Points on the far side
  of a turned head (far jaw and cheek, far eye corner behind the nose) and under a chin tilted down get low v.
- f_j, in-frame: 1 inside the image, falling linearly to 0 at ``out_of_frame_margin`` face sizes outside it
  (the point is then an extrapolation).
- a_j, agreement: exp(−d_j² / (2τ²)), d_j the distance between the face mesh's and dlib's estimate of the point
  over the face size (square root of the detection box area), τ = ``agreement_scale``. Two estimators with
  different training data and architectures rarely agree on a point by chance, so their distance is a proxy for
  the error of either. The pupils, which only the mesh gives, take the mean agreement of their eye's six points.

Everything here is plain numpy on arrays of faces: (n, 70, ...) in, (n, 70) out.
"""

from __future__ import annotations

import numpy as np

from kavan.keypoints.landmarks import LEFT_EYE, LEFT_PUPIL, N_IBUG, RIGHT_EYE, RIGHT_PUPIL


def face_size(boxes: np.ndarray) -> np.ndarray:
    """(n,) square root of the area of (n, 4) boxes x0, y0, x1, y1 (pixels); at least 1 pixel."""
    w = np.clip(boxes[:, 2] - boxes[:, 0], 1.0, None)
    h = np.clip(boxes[:, 3] - boxes[:, 1], 1.0, None)
    return np.sqrt(w * h)


def in_frame(points: np.ndarray, width: int, height: int, size: np.ndarray, margin: float) -> np.ndarray:
    """(n, P) factor f: 1 inside [−0.5, W − 0.5] × [−0.5, H − 0.5], linear to 0 at ``margin · size`` outside."""
    x, y = points[..., 0], points[..., 1]
    dx = np.maximum(np.maximum(-0.5 - x, x - (width - 0.5)), 0.0)
    dy = np.maximum(np.maximum(-0.5 - y, y - (height - 0.5)), 0.0)
    outside = np.hypot(dx, dy)
    return np.clip(1.0 - outside / (margin * size[:, None]), 0.0, 1.0)


def surface_facing(mesh: np.ndarray, centres: np.ndarray, neighbourhoods: np.ndarray, weights: np.ndarray,
                   axes: tuple[int, int, int, int]) -> np.ndarray:
    """(n, V) cosine between the outward surface normal at V mesh vertices and the direction to the camera.

    mesh: (n, M, 3) pixel x, y and depth z (smaller z is nearer the camera, same scale as x).
    centres: (V,) vertex indices; neighbourhoods: (V, K) the vertices around each (its mesh neighbours), with
    (V, K) weights (0 for padding).
    axes: vertices (right, left, top, bottom) of the face: the subject's right and left side at eye level, the
    top of the forehead and the chin.

    The normal is the direction of least spread of the neighbourhood (a weighted local plane fit). It is turned to
    point away from the head's centre, taken half a face width behind the face's centroid along the face's own
    forward axis (top-to-bottom × right-to-left, which points where the face looks whatever its pose), so it
    needs neither triangle orientation nor a head-pose model.
    """
    right, left, top, bottom = axes
    across = mesh[:, left] - mesh[:, right]                                 # subject's right to left
    down = mesh[:, bottom] - mesh[:, top]
    forward = np.cross(down, across)
    forward /= np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-9)
    half_width = 0.5 * np.linalg.norm(across, axis=1, keepdims=True)
    head_centre = mesh[:, list(axes)].mean(axis=1) - forward * half_width   # (n, 3)
    w = (weights / weights.sum(axis=1, keepdims=True))[None, :, :, None]    # (1, V, K, 1)
    patch = mesh[:, neighbourhoods]                                         # (n, V, K, 3)
    patch = patch - (w * patch).sum(axis=2, keepdims=True)
    cov = np.matmul(np.swapaxes(w * patch, 2, 3), patch)                    # (n, V, 3, 3) weighted scatter
    _, vectors = np.linalg.eigh(cov)                                        # ascending eigenvalues
    normal = vectors[..., :, 0]                                             # (n, V, 3)
    outward = mesh[:, centres] - head_centre[:, None, :]
    normal = np.where((np.einsum("nvi,nvi->nv", normal, outward) < 0)[..., None], -normal, normal)
    return -normal[..., 2]


def visibility(facing: np.ndarray, facing_visible: float) -> np.ndarray:
    """Linear ramp of the facing cosine: 0 at or below edge-on, 1 from ``facing_visible`` on."""
    return np.clip(facing / facing_visible, 0.0, 1.0)


def agreement(a: np.ndarray, b: np.ndarray, size: np.ndarray, scale: float) -> np.ndarray:
    """(n, 70) factor exp(−d² / (2·scale²)) of two (n, 68, 2) estimates, d in face sizes; pupils from their eye."""
    d = np.linalg.norm(a[:, :N_IBUG] - b[:, :N_IBUG], axis=-1) / size[:, None]
    out = np.empty((a.shape[0], N_IBUG + 2), np.float64)
    out[:, :N_IBUG] = np.exp(-0.5 * (d / scale) ** 2)
    out[:, RIGHT_PUPIL] = out[:, list(RIGHT_EYE)].mean(axis=1)
    out[:, LEFT_PUPIL] = out[:, list(LEFT_EYE)].mean(axis=1)
    return out


def combine(score: np.ndarray, *factors: np.ndarray) -> np.ndarray:
    """(n, P) c = s · Π factors, clipped to [0, 1] and as float32."""
    c = np.asarray(score, np.float64)[:, None] * np.ones_like(factors[0])
    for factor in factors:
        c = c * factor
    return np.clip(c, 0.0, 1.0).astype(np.float32)
