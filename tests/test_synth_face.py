"""The cartoon face: 70-point layout, what each expression parameter does to the landmarks, the drawing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from kavan.keypoints.landmarks import MIRROR, N_POINTS
from kavan.synth.face import NEUTRAL, FaceStyle, P, draw_face, model_points, project


def _landmarks(**changes: float) -> np.ndarray:
    expr = NEUTRAL.copy()
    for name, value in changes.items():
        expr[P[name]] = value
    return project(model_points(expr[None]), expr[None], np.zeros((1, 2)), 1.0)[0, :N_POINTS]


def test_neutral_face_is_mirror_symmetric_in_the_openpose_layout():
    lm = _landmarks()
    flipped = lm * np.array([-1.0, 1.0])
    np.testing.assert_allclose(flipped[MIRROR], lm, atol=1e-12)


def test_neutral_face_has_the_ibug_geometry():
    lm = _landmarks()
    y = lm[:, 1]
    assert np.argmax(y[:17]) == 8                                  # chin is the jaw's lowest point
    assert y[17:27].max() < y[36:48].min()                         # brows above the eyes
    assert y[36:48].max() < y[31:36].min() < y[48:68].min()        # eyes, nose base, mouth, top to bottom
    assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]           # right eye on the image's left
    assert lm[48, 0] < lm[51, 0] < lm[54, 0]
    for pupil, eye in ((68, slice(36, 42)), (69, slice(42, 48))):  # pupils inside their eyes
        assert lm[eye, 0].min() < lm[pupil, 0] < lm[eye, 0].max()
        assert lm[eye, 1].min() < lm[pupil, 1] < lm[eye, 1].max()
    assert math.isclose(lm[16, 0] - lm[0, 0], 1.0)                  # width 1 ear to ear


def _corner_lift(lm: np.ndarray) -> float:
    """How far the lip corners sit above the lips' middle (positive: a smile)."""
    return float(lm[[51, 57], 1].mean() - lm[[48, 54], 1].mean())


def test_mouth_curve_lifts_or_drops_the_corners():
    assert _corner_lift(_landmarks(mouth_curve=1.0)) > _corner_lift(_landmarks()) + 0.05
    assert _corner_lift(_landmarks(mouth_curve=-1.0)) < _corner_lift(_landmarks()) - 0.05


def test_mouth_open_parts_the_lips_and_drops_the_chin():
    closed, opened = _landmarks(), _landmarks(mouth_open=1.0)
    assert closed[66, 1] - closed[62, 1] < 0.02
    assert opened[66, 1] - opened[62, 1] > 0.1
    assert opened[8, 1] > closed[8, 1] + 0.05


def test_mouth_asym_raises_only_the_subjects_right_corner():
    base, smirk = _landmarks(), _landmarks(mouth_asym=1.0)
    assert smirk[48, 1] < base[48, 1] - 0.05
    assert smirk[54, 1] == pytest.approx(base[54, 1])


def test_eye_open_and_gaze_move_lids_and_pupils():
    lid = lambda lm: lm[41, 1] - lm[37, 1]  # noqa: E731
    assert lid(_landmarks(eye_open=1.6)) > lid(_landmarks()) > lid(_landmarks(eye_open=0.3))
    assert _landmarks(gaze_y=1.0)[68, 1] > _landmarks()[68, 1]
    assert _landmarks(gaze_x=1.0)[69, 0] > _landmarks()[69, 0]


def test_brows_raise_and_furrow():
    base = _landmarks()
    assert (_landmarks(brow_raise=1.0)[17:27, 1] < base[17:27, 1] - 0.05).all()
    angry = _landmarks(brow_furrow=1.0)
    assert angry[21, 1] - base[21, 1] > 0.05 and angry[17, 1] == pytest.approx(base[17, 1])   # inner end down
    assert angry[21, 0] > base[21, 0]                                                         # and inwards
    worried = _landmarks(brow_furrow=-1.0)
    assert worried[22, 1] < base[22, 1] - 0.05


def test_head_turns():
    base = _landmarks()
    turned = _landmarks(head_yaw=1.0)
    assert turned[33, 0] > base[33, 0] + 0.1                                # nose tip towards image right
    assert np.linalg.norm(turned[16] - turned[0]) == pytest.approx(math.cos(math.radians(25)))
    down = _landmarks(head_pitch=1.0)
    assert down[33, 1] - down[0, 1] > base[33, 1] - base[0, 1] + 0.1        # features drop below the ears
    rolled = _landmarks(head_roll=1.0)
    angle = math.degrees(math.atan2(rolled[45, 1] - rolled[36, 1], rolled[45, 0] - rolled[36, 0]))
    assert angle == pytest.approx(15.0)


def test_project_scales_and_places_in_pixels():
    expr = NEUTRAL[None]
    unit = project(model_points(expr), expr, np.zeros((1, 2)), 1.0)
    placed = project(model_points(expr), expr, np.array([[40.0, 30.0]]), 20.0)
    np.testing.assert_allclose(placed, unit * 20 + [40.0, 30.0])


def test_drawing_puts_the_face_where_the_landmarks_are():
    style = FaceStyle(skin=(240, 200, 150), hair=(60, 40, 20), lips=(180, 80, 60), iris=(30, 90, 40),
                      has_hair=False)
    expr = NEUTRAL[None]
    pts = project(model_points(expr), expr, np.array([[100.0, 100.0]]), 120.0)[0]
    image = Image.new("RGB", (200, 200), (0, 0, 255))
    draw_face(ImageDraw.Draw(image), pts, 120.0, style)
    pix = np.asarray(image)
    at = lambda p: tuple(int(v) for v in pix[int(round(p[1])), int(round(p[0]))])  # noqa: E731
    assert at(pts[68]) == (15, 15, 15) and at(pts[69]) == (15, 15, 15)    # pupils
    cheek = (pts[2] + pts[31]) / 2
    assert at(cheek) == style.skin
    assert at(pts[[51, 57]].mean(axis=0)) in (style.lips, (60, 15, 25))   # the mouth
    assert at((5, 5)) == (0, 0, 255)                                       # nothing drawn far away
    chin_below = pts[8] + [0, 6]
    assert at(chin_below) == (0, 0, 255)
