"""Face glimpses (kavan.models.glimpse): boxes from hand-placed keypoints, the map fallback, crops where the box is."""

import numpy as np
import pytest
import torch

from kavan.core.errors import KavanError
from kavan.models.glimpse import MARGIN, crop_boxes, frame_boxes, keypoint_box, map_box


def _patch_face(x0: int, x1: int, y0: int, y1: int, confidence: float = 1.0) -> np.ndarray:
    """70 keypoints on a 10 x 7 grid spanning pixel centres [x0, x1] x [y0, y1]."""
    xs, ys = np.meshgrid(np.linspace(x0, x1, 10), np.linspace(y0, y1, 7))
    return np.stack([xs.ravel(), ys.ravel(), np.full(70, confidence)], axis=1).astype(np.float32)


def test_keypoint_box_is_the_points_span_grown_by_the_margin():
    cx, cy, side = keypoint_box(_patch_face(40, 59, 20, 39))
    assert (cx, cy) == (49.5, 29.5)
    assert side == pytest.approx(19 * MARGIN)


def test_keypoint_box_takes_the_largest_face_and_ignores_unconfident_points():
    small, large = _patch_face(0, 9, 0, 9), _patch_face(50, 89, 10, 49)
    large[:5, :2] = 1000.0  # far-off points below the confidence threshold do not stretch the box
    large[:5, 2] = 0.1
    # the other points of the large face still span x 50..89, y 10..49
    assert keypoint_box(np.stack([small, large])) == pytest.approx((69.5, 29.5, 39 * MARGIN))


def test_no_confident_face_gives_no_box():
    assert keypoint_box(_patch_face(10, 30, 10, 30, confidence=0.0)) is None
    assert keypoint_box(_patch_face(10, 30, 10, 30)[:9]) is None  # 9 points: fewer than MIN_POINTS


def test_crop_from_hand_placed_keypoints_lands_on_the_face():
    # a 100 x 80 grey frame, white exactly on pixels x 40..59, y 20..39, keypoints spread over those pixels
    frame = torch.zeros(1, 1, 80, 100)
    frame[..., 20:40, 40:60] = 1.0
    box = keypoint_box(_patch_face(40, 59, 20, 39))
    crop = crop_boxes(frame, [box], 32)[0, 0]
    # the patch spans 20 of the box's 19 * 1.3 = 24.7 pixels on each axis, centred: a white middle, dark corners
    assert bool((crop[8:24, 8:24] > 0.99).all())
    assert float(crop[:2, :2].max()) < 0.01 and float(crop[-2:, -2:].max()) < 0.01
    assert float(crop.mean()) == pytest.approx((20 / 24.7) ** 2, abs=0.03)
    # centred: the crop is symmetric left-right and top-bottom
    assert torch.allclose(crop, crop.flip(0), atol=1e-5) and torch.allclose(crop, crop.flip(1), atol=1e-5)


def test_map_box_is_the_peak_cell_refined_by_its_neighbours():
    mask = torch.zeros(14, 14)
    mask[3, 5] = 1.0
    assert map_box(mask, 140, 70, 20.0) == pytest.approx((5.5 * 10 - 0.5, 3.5 * 5 - 0.5, 20.0))
    mask[3, 6] = 0.4 / 0.6  # mass 0.6 : 0.4 between columns 5 and 6 (normalisation does not matter)
    mask[10, 10] = 0.5  # far from the peak: not in the 3 x 3 window
    assert map_box(mask, 140, 70, 20.0)[0] == pytest.approx((5.5 * 0.6 + 6.5 * 0.4) * 10 - 0.5)


def test_frames_without_keypoints_fall_back_to_the_map():
    maps = torch.zeros(3, 14, 14)
    maps[:, 7, 2] = 1.0
    keypoints = np.stack([_patch_face(40, 59, 20, 39)[None],
                          _patch_face(40, 59, 20, 39, confidence=0.0)[None],  # a withheld frame
                          _patch_face(40, 59, 20, 39)[None]])
    boxes, from_keypoints = frame_boxes(keypoints, maps, 140, 140, [30.0] * 3)
    assert from_keypoints == [True, False, True]
    assert boxes[1] == pytest.approx((2.5 * 10 - 0.5, 7.5 * 10 - 0.5, 30.0))
    assert boxes[0] == boxes[2] == keypoint_box(keypoints[0])
    # no keypoints at all (a cartoon, or prediction on a GIF without a keypoint file): every frame from its map
    boxes, from_keypoints = frame_boxes(None, maps, 140, 140, [30.0] * 3)
    assert from_keypoints == [False] * 3 and boxes[0] == boxes[1]


def test_bad_shapes_are_refused():
    with pytest.raises(KavanError):
        map_box(torch.zeros(3, 4), 10, 10, 1.0)
    with pytest.raises(KavanError):
        crop_boxes(torch.zeros(2, 1, 8, 8), [(1.0, 1.0, 2.0)], 4)
    with pytest.raises(KavanError):
        frame_boxes(np.zeros((2, 1, 70, 3), np.float32), torch.zeros(3, 4, 4), 8, 8, [2.0] * 3)
