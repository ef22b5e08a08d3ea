"""The 70-point layout: index groups, the mirror permutation, shape checks."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.face_template import TEMPLATE
from kavan.core.errors import KavanError
from kavan.keypoints import landmarks as lm

GROUPS = (lm.JAW, lm.RIGHT_BROW, lm.LEFT_BROW, lm.NOSE, lm.RIGHT_EYE, lm.LEFT_EYE, lm.MOUTH, lm.PUPILS)


def test_groups_partition_the_70_points_in_order():
    assert [len(g) for g in GROUPS] == [17, 5, 5, 9, 6, 6, 20, 2]
    assert [i for g in GROUPS for i in g] == list(range(lm.N_POINTS))
    assert (lm.N_POINTS, lm.N_IBUG) == (70, 68)
    assert (lm.RIGHT_PUPIL, lm.LEFT_PUPIL) == (68, 69)


def test_mirror_is_an_involution():
    assert sorted(lm.MIRROR.tolist()) == list(range(70))
    np.testing.assert_array_equal(lm.MIRROR[lm.MIRROR], np.arange(70))


def test_mirror_fixes_exactly_the_centre_line():
    fixed = np.flatnonzero(lm.MIRROR == np.arange(70)).tolist()
    assert fixed == [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


@pytest.mark.parametrize("a, b", [(0, 16), (7, 9), (17, 26), (21, 22), (31, 35), (36, 45), (39, 42),
                                  (37, 44), (41, 46), (48, 54), (50, 52), (56, 58), (60, 64),
                                  (65, 67), (68, 69)])
def test_mirror_swaps_named_pairs(a, b):
    assert (lm.MIRROR[a], lm.MIRROR[b]) == (b, a)


def test_mirror_maps_groups_onto_their_mirror_groups():
    def image(group):
        return sorted(lm.MIRROR[list(group)].tolist())
    assert image(lm.RIGHT_EYE) == list(lm.LEFT_EYE)
    assert image(lm.RIGHT_BROW) == list(lm.LEFT_BROW)
    for group in (lm.JAW, lm.NOSE, lm.MOUTH, lm.PUPILS):
        assert image(group) == list(group)


def test_mirror_of_flipped_symmetric_face_is_the_face():
    # The test face is symmetric and written out point by point: flipping x and reordering with
    # MIRROR must give it back, which checks every pair against real geometry.
    flipped = TEMPLATE * np.array([-1.0, 1.0])
    np.testing.assert_allclose(flipped[lm.MIRROR], TEMPLATE, atol=1e-12)
    assert not np.allclose(flipped, TEMPLATE)


def test_mirror_prefix_serves_68_points():
    assert sorted(lm.MIRROR[:68].tolist()) == list(range(68))


def test_mirror_is_read_only():
    with pytest.raises(ValueError):
        lm.MIRROR[0] = 5


@pytest.mark.parametrize("shape, points", [((4, 68, 3), 68), ((4, 70, 3), 70), ((1, 3, 70, 3), 70),
                                           ((0, 68, 3), 68)])
def test_validate_keypoints_accepts(shape, points):
    assert lm.validate_keypoints(shape) == points


@pytest.mark.parametrize("shape", [(70, 3), (4, 69, 3), (4, 70, 2), (1, 1, 1, 68, 3)])
def test_validate_keypoints_rejects(shape):
    with pytest.raises(KavanError, match=r"keypoints must have shape"):
        lm.validate_keypoints(shape)
