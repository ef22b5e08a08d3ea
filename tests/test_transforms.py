"""The joint frame/keypoint transform: image and keypoint geometry agree through crop, resize, flip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from helpers.face_template import face_keypoints
from kavan.core.errors import KavanError
from kavan.data.transforms import IMAGENET_MEAN, IMAGENET_STD, CropParams, FrameTransform
from kavan.keypoints.heatmaps import keypoint_heatmaps

H, W = 90, 140
SQUARE = (slice(40, 44), slice(60, 64))   # rows 40-43, columns 60-63: centre (61.5, 41.5)


def bright_square_clip(n_frames: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Dark frames with one white 4 x 4 square, and a 70-point array whose point 36 (subject's
    right outer eye corner) sits on the square's centre; every other point has confidence 0."""
    frames = np.zeros((n_frames, H, W, 3), dtype=np.uint8)
    frames[:, SQUARE[0], SQUARE[1]] = 255
    points = np.zeros((n_frames, 70, 3), dtype=np.float32)
    points[:, 36] = (61.5, 41.5, 1.0)
    return frames, points


def brightness_centroid(image: torch.Tensor) -> tuple[float, float]:
    """Intensity-weighted centre (x, y) of a normalised (3, S, S) image's red channel."""
    plane = (image[0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]).clamp_min(0).double()
    ys, xs = torch.meshgrid(torch.arange(plane.shape[0]), torch.arange(plane.shape[1]), indexing="ij")
    total = plane.sum()
    return float((plane * xs).sum() / total), float((plane * ys).sum() / total)


@pytest.mark.parametrize("size", [32, 64, 300])
@pytest.mark.parametrize("params", [CropParams(0, 0, H, W, False), CropParams(0, 0, H, W, True),
                                    CropParams(10, 50, 70, 80, True), CropParams(5, 20, 60, 100, False)])
def test_keypoint_lands_where_the_bright_pixels_land(size, params):
    frames, points = bright_square_clip()
    transform = FrameTransform(size=size)
    images = transform.apply_frames(frames, params)
    moved = transform.apply_keypoints(points, params, len(frames))
    index = 45 if params.flip else 36          # a flip hands the point to the other side's index
    assert moved[0, index, 2] == 1.0
    assert moved[0, 36 if params.flip else 45, 2] == 0.0
    cx, cy = brightness_centroid(images[0])
    assert (moved[0, index, 0], moved[0, index, 1]) == (pytest.approx(cx, abs=0.05),
                                                        pytest.approx(cy, abs=0.05))


def test_random_training_draws_keep_image_and_keypoints_together():
    frames, points = bright_square_clip()
    transform = FrameTransform.training(size=48)
    checked, flips = 0, set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        params = transform.sample(H, W, np.random.default_rng(seed))
        images, moved = transform(frames, points, rng)
        # the resampling kernel must not be cut by the crop's border, or the blob's centroid shifts
        inside = (params.top <= 36 and params.top + params.height >= 48
                  and params.left <= 56 and params.left + params.width >= 68)
        index = 45 if params.flip else 36
        if not inside:
            continue
        cx, cy = brightness_centroid(images[1])
        assert moved[1, index, 2] == 1.0
        assert (moved[1, index, 0], moved[1, index, 1]) == (pytest.approx(cx, abs=0.05),
                                                            pytest.approx(cy, abs=0.05))
        checked += 1
        flips.add(params.flip)
    assert checked >= 20 and flips == {False, True}


def test_one_draw_per_clip():
    frames, points = bright_square_clip(n_frames=4)
    transform = FrameTransform.training(size=40)
    for seed in range(5):
        images, moved = transform(frames, points, np.random.default_rng(seed))
        for t in range(1, 4):
            assert torch.equal(images[t], images[0])
            np.testing.assert_array_equal(moved[t], moved[0])


def test_same_seed_same_output():
    frames, points = bright_square_clip()
    transform = FrameTransform.training(size=40)
    a = transform(frames, points, np.random.default_rng(7))
    b = transform(frames, points, np.random.default_rng(7))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_random_crops_stay_in_frame_and_in_range():
    transform = FrameTransform(size=32, crop_scale=(0.3, 0.9), crop_ratio=(0.5, 2.0), flip_probability=0.5)
    rng = np.random.default_rng(3)
    draws = [transform.sample(H, W, rng) for _ in range(300)]
    for p in draws:
        assert 0 <= p.top and p.top + p.height <= H and 0 <= p.left and p.left + p.width <= W
        assert 0.28 <= p.height * p.width / (H * W) <= 0.92
    assert 0.35 < np.mean([p.flip for p in draws]) < 0.65


def test_flip_moves_the_heatmap_peak_to_the_mirrored_column():
    size, k = 224, 7
    cell = size / k
    frames = np.zeros((1, 180, 320, 3), dtype=np.uint8)
    # a face centred on cell (row 2, column 1) of the output grid, in input pixels
    centre = ((1.5 * cell + 0.5) * 320 / size - 0.5, (2.5 * cell + 0.5) * 180 / size - 0.5)
    face = face_keypoints(centre, 30)[None]
    plain = FrameTransform(size=size)
    flipping = FrameTransform(size=size, flip_probability=1.0)
    _, kept = plain(frames, face)
    _, flipped = flipping(frames, face, np.random.default_rng(0))
    before, _ = keypoint_heatmaps(kept, (size, size), k)
    after, _ = keypoint_heatmaps(flipped, (size, size), k)
    assert divmod(int(before[0].argmax()), k) == (2, 1)
    assert divmod(int(after[0].argmax()), k) == (2, k - 1 - 1)
    torch.testing.assert_close(after, before.flip(-1), rtol=1e-5, atol=1e-7)
    # semantics survive the flip: the subject's right eye is on the image's left again
    assert flipped[0, 36, 0] < flipped[0, 45, 0] and flipped[0, 68, 0] < flipped[0, 69, 0]
    assert flipped[0, 0, 0] < flipped[0, 16, 0]


def test_evaluation_resizes_the_whole_frame():
    transform = FrameTransform.evaluation(size=224)
    assert not transform.is_random
    frames = np.zeros((2, H, W, 3), dtype=np.uint8)
    points = np.zeros((2, 2, 68, 3), dtype=np.float32)
    points[:, 0, 0] = (-0.5, -0.5, 1.0)                            # the image's outer corners
    points[:, 0, 1] = (W - 0.5, H - 0.5, 1.0)
    points[:, 1, 2] = ((W - 1) / 2, (H - 1) / 2, 0.7)              # its centre, second face
    images, moved = transform(frames, points)
    assert images.shape == (2, 3, 224, 224) and images.dtype == torch.float32
    np.testing.assert_allclose(moved[0, 0, 0], (-0.5, -0.5, 1.0), atol=1e-4)
    np.testing.assert_allclose(moved[0, 0, 1], (223.5, 223.5, 1.0), atol=1e-4)
    np.testing.assert_allclose(moved[1, 1, 2], (111.5, 111.5, 0.7), atol=1e-4)
    assert moved.shape == points.shape


def test_keypoints_outside_the_crop_keep_coordinates_lose_confidence():
    transform = FrameTransform(size=50)
    params = CropParams(top=10, left=20, height=50, width=50, flip=False)
    points = np.zeros((1, 68, 3), dtype=np.float32)
    points[0, :4] = [(19.0, 30.0, 0.9), (19.6, 30.0, 0.9), (69.4, 59.4, 0.8), (70.0, 30.0, 0.8)]
    moved = transform.apply_keypoints(points, params, 1)
    np.testing.assert_allclose(moved[0, :4, :2], [(-1.0, 20.0), (-0.4, 20.0), (49.4, 49.4), (50.0, 20.0)],
                               atol=1e-5)
    np.testing.assert_allclose(moved[0, :4, 2], [0.0, 0.9, 0.8, 0.0])


def test_normalisation_uses_the_configured_statistics():
    frames = np.zeros((1, 20, 30, 3), dtype=np.uint8)
    frames[..., :] = (51, 102, 204)
    images, _ = FrameTransform(size=16)(frames)
    expected = (np.array([51, 102, 204]) / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(images[0].mean(dim=(1, 2)).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(images[0].std(dim=(1, 2)).numpy(), 0.0, atol=1e-6)
    plain, _ = FrameTransform(size=16, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))(frames)
    np.testing.assert_allclose(plain[0, :, 0, 0].numpy(), np.array([51, 102, 204]) / 255, rtol=1e-6)


def test_real_gif_frames_keep_their_mean_colour(real_gifs):
    with Image.open(real_gifs / "cool.gif") as gif:
        frames = np.stack([np.asarray(f.convert("RGB")) for _, f in zip(range(4), ImageSequence.Iterator(gif))])
    assert frames.shape == (4, 390, 360, 3)
    images, _ = FrameTransform(size=224, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))(frames)
    np.testing.assert_allclose(images.mean(dim=(2, 3)).numpy(), frames.mean(axis=(1, 2)) / 255, atol=0.01)


def test_random_transform_needs_a_generator():
    frames, _ = bright_square_clip()
    with pytest.raises(ValueError, match="Generator"):
        FrameTransform.training()(frames)


@pytest.mark.parametrize("frames", [np.zeros((2, H, W, 3), np.float32), np.zeros((H, W, 3), np.uint8),
                                    np.zeros((2, H, W, 4), np.uint8), np.zeros((0, H, W, 3), np.uint8)])
def test_bad_frames_raise(frames):
    with pytest.raises(KavanError, match="frames must be"):
        FrameTransform(size=32)(frames)


def test_keypoints_must_match_the_clip():
    frames, points = bright_square_clip(n_frames=3)
    with pytest.raises(KavanError, match="keypoints have 2 frames"):
        FrameTransform(size=32)(frames, points[:2])
    with pytest.raises(KavanError, match="keypoints must have shape"):
        FrameTransform(size=32)(frames, points[:, :69])


@pytest.mark.parametrize("kwargs", [dict(size=0), dict(crop_scale=(0.5, 1.2)), dict(crop_scale=(0.9, 0.5)),
                                    dict(crop_ratio=(2.0, 1.0)), dict(flip_probability=1.5)])
def test_bad_config_raises(kwargs):
    with pytest.raises(KavanError):
        FrameTransform(**kwargs)
