"""The 478 -> 70 face mesh map: structure and the averaging it does (its placement is checked on real frames
in test_keypoints_real.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kavan.keypoints.landmarks import JAW, LEFT_PUPIL, N_POINTS, RIGHT_PUPIL
from kavan.keypoints.mapping import MESH_TO_70, N_MESH, WEIGHTS, mesh_to_layout


def test_every_layout_point_reads_one_or_two_distinct_mesh_vertices():
    assert len(MESH_TO_70) == N_POINTS
    for vertices in MESH_TO_70:
        assert 1 <= len(vertices) <= 2 and len(set(vertices)) == len(vertices)
        assert all(0 <= v < N_MESH for v in vertices)
    # no two layout points read the same vertex set
    assert len(set(MESH_TO_70)) == N_POINTS


def test_pupils_are_the_iris_centres_and_nothing_else_reads_the_iris():
    assert MESH_TO_70[RIGHT_PUPIL] == (468,) and MESH_TO_70[LEFT_PUPIL] == (473,)
    others = [v for j, vs in enumerate(MESH_TO_70) if j not in (RIGHT_PUPIL, LEFT_PUPIL) for v in vs]
    assert max(others) < 468


def test_jaw_runs_along_the_face_oval_through_the_chin():
    # MediaPipe's face oval from the subject's right temple down to the chin (152) and up the other side
    oval_right = [127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152]
    oval_left = [152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356]
    jaw = [MESH_TO_70[j][0] for j in JAW]
    assert jaw[8] == 152
    right = [oval_right.index(v) for v in jaw[:9]]
    left = [oval_left.index(v) for v in jaw[8:]]
    assert right == sorted(right) and left == sorted(left)  # monotone along the contour, no back-tracking


def test_weights_average_the_listed_vertices():
    np.testing.assert_allclose(WEIGHTS.sum(axis=1), 1.0)
    mesh = np.zeros((N_MESH, 3))
    mesh[:, 0] = np.arange(N_MESH)             # x = vertex index
    mesh[:, 1] = 2.0 * np.arange(N_MESH)
    out = mesh_to_layout(mesh)
    assert out.shape == (N_POINTS, 3)
    assert out[17, 0] == pytest.approx((70 + 46) / 2)       # right brow outer end: upper/lower contour mid-point
    assert out[8, 0] == 152 and out[8, 1] == 304            # chin
    assert out[RIGHT_PUPIL, 0] == 468


def test_mesh_to_layout_keeps_leading_axes_and_rejects_other_point_counts():
    mesh = np.random.default_rng(0).normal(size=(2, 3, N_MESH, 2))
    out = mesh_to_layout(mesh)
    assert out.shape == (2, 3, N_POINTS, 2)
    np.testing.assert_allclose(out[1, 2], mesh_to_layout(mesh[1, 2]))
    with pytest.raises(ValueError, match="478"):
        mesh_to_layout(np.zeros((468, 3)))
