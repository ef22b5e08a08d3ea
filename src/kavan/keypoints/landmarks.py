"""The 70-point facial keypoint layout: index groups, the left/right mirror permutation, shape checks.

The layout is OpenPose's face output: the 68 iBUG 300-W points (Sagonas et al., 2013) in their usual
order, followed by the two pupils. As in iBUG, "right" and "left" are the *subject's* sides, so on a
frontal face the RIGHT_* points appear on the image's left. OpenPose numbers the pupils right then
left: 68 is the right pupil (inside the eye contour 36-41), 69 the left pupil (inside 42-47); see
OpenPose's face keypoint figure (doc/02_output.md) and the OpenPose-135 name list in
open-mmlab/mmhuman3d (``.../keypoints_mapping/openpose.py``: ..., ``right_eyeball``, ``left_eyeball``).
Backends that only give the 68 iBUG points are valid input too; see ``validate_keypoints``.
"""

from __future__ import annotations

import numpy as np

from kavan.core.errors import KavanError

N_POINTS = 70
N_IBUG = 68

JAW: tuple[int, ...] = tuple(range(0, 17))
RIGHT_BROW: tuple[int, ...] = tuple(range(17, 22))
LEFT_BROW: tuple[int, ...] = tuple(range(22, 27))
NOSE: tuple[int, ...] = tuple(range(27, 36))
RIGHT_EYE: tuple[int, ...] = tuple(range(36, 42))
LEFT_EYE: tuple[int, ...] = tuple(range(42, 48))
MOUTH: tuple[int, ...] = tuple(range(48, 68))
PUPILS: tuple[int, ...] = (68, 69)
RIGHT_PUPIL, LEFT_PUPIL = PUPILS

# Pairs of points that swap places under a horizontal flip; every other point lies on the face's
# centre line (chin 8, nose bridge 27-30, nose tip 33, lip middles 51, 57, 62, 66) and stays put.
_MIRROR_PAIRS: tuple[tuple[int, int], ...] = (
    *((i, 16 - i) for i in range(8)),                      # jaw, ear to chin
    *((17 + i, 26 - i) for i in range(5)),                 # brows, outer to inner end
    (31, 35), (32, 34),                                    # nose wings
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),   # eyes: outer/inner corners, lids
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),      # outer lips: corners, upper, lower
    (60, 64), (61, 63), (65, 67),                          # inner lips: corners, upper, lower
    (RIGHT_PUPIL, LEFT_PUPIL),
)


def _mirror_permutation() -> np.ndarray:
    perm = np.arange(N_POINTS, dtype=np.int64)
    for a, b in _MIRROR_PAIRS:
        perm[a], perm[b] = b, a
    perm.setflags(write=False)
    return perm


MIRROR: np.ndarray = _mirror_permutation()
"""MIRROR[i] is the point that takes index i's meaning after a horizontal flip of the image.

Flip the x coordinates, then reorder with ``keypoints[..., MIRROR[:P], :]`` so that index 36 is again
the subject's right outer eye corner. MIRROR[:68] is itself a permutation of 0..67 (the pupils only
swap with each other), so it serves 68-point arrays as well.
"""


def validate_keypoints(shape: tuple[int, ...]) -> int:
    """Check a keypoint array's shape, (F, P, 3) or (F, N_faces, P, 3) with P 68 or 70; return P.

    Raises KavanError naming the shape otherwise, since a wrong layout would silently put Gaussians
    and mirror swaps on the wrong points.
    """
    if len(shape) not in (3, 4) or shape[-1] != 3 or shape[-2] not in (N_IBUG, N_POINTS):
        raise KavanError(
            f"keypoints must have shape (frames, points, 3) or (frames, faces, points, 3) with "
            f"points {N_IBUG} or {N_POINTS} (x, y, confidence); got {tuple(shape)}")
    return int(shape[-2])
