"""The confidence factors on arrays with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kavan.keypoints import confidence


def test_face_size_is_the_square_root_of_the_box_area():
    boxes = np.array([[0.0, 0.0, 100.0, 25.0], [10.0, 10.0, 10.0, 50.0]])
    np.testing.assert_allclose(confidence.face_size(boxes), [50.0, math.sqrt(1.0 * 40.0)])


def test_in_frame_is_one_inside_and_falls_linearly_outside():
    # frame 100 x 50: pixels span [-0.5, 99.5] x [-0.5, 49.5]; face size 100, margin 0.1 -> 10 px ramp
    points = np.array([[[0.0, 0.0], [99.5, 49.5], [104.5, 20.0], [-3.0, -0.5], [50.0, 70.0], [103.5, 52.5]]])
    f = confidence.in_frame(points, 100, 50, np.array([100.0]), 0.1)
    np.testing.assert_allclose(f[0], [1.0, 1.0, 0.5, 0.75, 0.0, 0.5])


def test_agreement_is_a_gaussian_of_the_distance_in_face_sizes_and_pupils_take_their_eye():
    a = np.zeros((1, 70, 2))
    b = np.zeros((1, 68, 2))
    b[0, 10] = [3.0, 4.0]           # 5 px apart with face size 100: d = 0.05 = scale -> exp(-1/2)
    b[0, 36] = [10.0, 0.0]          # right eye outer corner: d = 0.1 = 2 scale -> exp(-2)
    out = confidence.agreement(a, b, np.array([100.0]), 0.05)
    assert out.shape == (1, 70)
    assert out[0, 10] == pytest.approx(math.exp(-0.5))
    assert out[0, 36] == pytest.approx(math.exp(-2.0))
    assert out[0, 0] == 1.0
    assert out[0, 68] == pytest.approx((5 + math.exp(-2.0)) / 6)   # right pupil: mean of 36-41
    assert out[0, 69] == 1.0


def test_visibility_ramps_from_edge_on_to_facing_visible():
    np.testing.assert_allclose(confidence.visibility(np.array([-0.5, 0.0, 0.1, 0.25, 0.9]), 0.25),
                               [0.0, 0.0, 0.4, 1.0, 1.0])


def _tilted_plane(angle_deg: float) -> np.ndarray:
    """A 478-point grid on a plane turned by ``angle`` about the vertical axis, its front to the camera at 0°.

    Depth z grows away from the camera (MediaPipe's convention). Vertex index = row * 22 + column; u grows with
    the column (from the subject's right to left), v with the row (top to bottom).
    """
    t = math.radians(angle_deg)
    u, v = np.meshgrid(np.linspace(-50, 50, 22), np.linspace(-50, 50, 22))
    u, v = u.ravel()[:478], v.ravel()[:478]
    # turn the plane (u, v, 0) about y: x = u cos t, z = u sin t; its outward normal is (sin t, 0, −cos t)
    mesh = np.stack([u * math.cos(t), v, u * math.sin(t)], axis=1)
    return mesh[None]


@pytest.mark.parametrize("angle", [0.0, 30.0, 60.0, 80.0, -45.0])
def test_surface_facing_is_the_cosine_of_the_turn(angle):
    mesh = _tilted_plane(angle)
    centres = np.array([100, 231, 300])
    # neighbourhood: the centre and 8 grid neighbours (22 columns per row), one padded entry with weight 0
    offsets = np.array([0, -1, 1, -22, 22, -23, -21, 21, 23, 0])
    index = centres[:, None] + offsets[None, :]
    weight = np.ones(index.shape)
    weight[:, -1] = 0.0
    axes = (10 * 22, 10 * 22 + 21, 10, 21 * 22 + 10)   # right and left end of row 10, top and bottom of column 10
    facing = confidence.surface_facing(mesh, centres, index, weight, axes)
    np.testing.assert_allclose(facing[0], math.cos(math.radians(angle)), atol=1e-9)


def test_combine_multiplies_score_and_factors_into_float32():
    c = confidence.combine(np.array([0.8, 0.5]), np.full((2, 3), 0.5), np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 1.0]]))
    assert c.dtype == np.float32
    np.testing.assert_allclose(c, [[0.4, 0.0, 0.8], [0.25, 0.25, 0.25]], rtol=1e-6)


def test_surface_facing_is_negative_for_a_surface_turned_away():
    # a face turned by 120 degrees shows the camera its back: the outward normal points away
    mesh = _tilted_plane(120.0)
    index = np.array([[231, 230, 232, 209, 253]])
    facing = confidence.surface_facing(mesh, np.array([231]), index, np.ones((1, 5)), (220, 241, 10, 472))
    assert facing[0, 0] == pytest.approx(math.cos(math.radians(120.0)))
    assert confidence.visibility(facing, 0.25)[0, 0] == 0.0
