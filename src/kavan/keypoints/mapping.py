"""MediaPipe face mesh (478 points) to the 70-point OpenPose face layout (iBUG 68 + the two pupils).

Each of the 70 points is one mesh vertex or the mean of two. The map was chosen point by point:

- on the iBUG definition (jaw outline from the subject's right ear to the left, brows outer to inner end,
  nose bridge to tip, nostril base right to left, eyes from the outer corner clockwise, lips from the right
  corner clockwise, inner lips likewise), using the mesh's contour vertices (face oval, eyelids, lip lines);
- where several vertices fit the definition, by agreement with dlib's 68-point predictor (trained on
  iBUG 300-W, so it encodes the annotation convention) on 286 faces of the shared real GIFs: the vertex (or
  mid-point of two: the upper and lower brow contour, whose ends iBUG puts at the brow tips; the outer eye
  corners, which the mesh puts a little above where dlib and hand labels see the canthus) with the smallest
  median distance; the mean median distance over the 68 points is 0.056 inter-ocular distances
  (0.099 on the jaw, 0.041 elsewhere; benchmarks/keypoints_map_vs_dlib.py, docs/keypoints.md);
- and checked by eye on drawn frontal and turned real frames (every point labelled).

The map is left/right symmetric under MediaPipe's own mirror pairs (e.g. 33↔263, 61↔291, 127↔356).
Pupils: the refined mesh's iris centres; 468 is in the eye whose contour is 33-133 (the subject's right,
on the image's left for a frontal face), 473 in 362-263 — OpenPose's order (68 right, 69 left).
"""

from __future__ import annotations

import numpy as np

from kavan.keypoints.landmarks import N_POINTS

N_MESH = 478
"""Points of MediaPipe's refined face mesh: 468 surface vertices, then the two irises (468-472, 473-477)."""
N_SURFACE = 468

MESH_TO_70: tuple[tuple[int, ...], ...] = (
    # 0-16 jaw, subject's right (image left) to left; 8 = chin (face-oval vertices)
    (127,), (234,), (132,), (58,), (172,), (136,), (149,), (148,), (152,),
    (377,), (378,), (365,), (397,), (288,), (361,), (454,), (356,),
    # 17-21 right brow, outer to inner end; 22-26 left brow, inner to outer end (upper/lower contour mid-points)
    (70, 46), (63, 53), (105, 52), (66, 65), (107, 55),
    (336, 285), (296, 295), (334, 282), (293, 283), (300, 276),
    # 27-30 nose bridge, between the eyes down to the tip; 31-35 nostril base, right to left
    (168,), (197,), (195, 5), (4,),
    (75,), (97,), (2,), (326,), (305,),
    # 36-41 right eye: outer corner (between the mesh's corner vertex and the lower lid's first, where iBUG and
    # hand labels put the canthus), upper lid (2), inner corner, lower lid (2)
    (33, 7), (160,), (158,), (133,), (153,), (144,),
    # 42-47 left eye: inner corner, upper lid (2), outer corner, lower lid (2)
    (362,), (385,), (387,), (263, 249), (373,), (380,),
    # 48-59 outer lips: right corner, upper lip to the left corner (54), lower lip back
    (61,), (40,), (37,), (0,), (267,), (270,), (291,), (405,), (314,), (17,), (84,), (181,),
    # 60-67 inner lips: right corner, upper, left corner (64), lower
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
    # 68 right pupil, 69 left pupil (iris centres)
    (468,), (473,),
)


def _weights() -> np.ndarray:
    """(70, 478) averaging matrix: row j holds 1/k at the k vertices of point j."""
    w = np.zeros((N_POINTS, N_MESH), np.float32)
    for j, vertices in enumerate(MESH_TO_70):
        w[j, list(vertices)] = 1.0 / len(vertices)
    w.setflags(write=False)
    return w


WEIGHTS: np.ndarray = _weights()

MESH_VERTICES: tuple[int, ...] = tuple(sorted({v for vs in MESH_TO_70 for v in vs}))
"""Every mesh vertex the map reads."""


def mesh_to_layout(mesh: np.ndarray) -> np.ndarray:
    """(..., 478, D) mesh points to (..., 70, D) points of the OpenPose face layout (D = 2 or 3)."""
    if mesh.shape[-2] != N_MESH:
        raise ValueError(f"expected {N_MESH} mesh points, got shape {mesh.shape}")
    return np.matmul(WEIGHTS.astype(mesh.dtype), mesh)
