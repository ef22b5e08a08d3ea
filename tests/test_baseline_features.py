"""The baselines' per-GIF features: colour histograms checked by hand, Haar faces and FER features on real GIFs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from kavan.baselines import colour_histogram, face_expression, haar_faces
from kavan.baselines.config import ColourHistogramConfig, FaceExpressionConfig
from kavan.baselines.extraction import sampled_frames
from kavan.config import from_mapping
from kavan.core.errors import KavanError
from kavan.models.fer_network import load_fer_network, preprocess
from kavan.synth import make_gif, resolve


def solid(rgb: tuple[int, int, int], height: int = 6, width: int = 10) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[...] = rgb
    return frame


# --- colour histogram -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rgb, index", [
    ((255, 0, 0), 15),     # red: hue 0 → bin 0, saturation 255 → bin 3, value 255 → bin 3: (0·4 + 3)·4 + 3
    ((0, 0, 255), 95),     # blue: OpenCV hue 120 of 0–179 → bin 120·8 // 180 = 5: (5·4 + 3)·4 + 3
    ((128, 128, 128), 2),  # grey: hue 0, saturation 0, value 128 → bin 2
    ((0, 0, 0), 0),
])
def test_solid_frame_fills_exactly_one_hsv_bin(rgb, index):
    hist = colour_histogram.frame_histogram(solid(rgb))
    expected = np.zeros(128)
    expected[index] = 1.0
    np.testing.assert_array_equal(hist, expected)


def test_histogram_counts_pixel_shares_and_gif_feature_averages_frames():
    frame = solid((255, 0, 0))
    frame[:, :3] = (128, 128, 128)   # 3 of 10 columns grey
    hist = colour_histogram.frame_histogram(frame)
    assert hist[15] == pytest.approx(0.7) and hist[2] == pytest.approx(0.3) and hist.sum() == pytest.approx(1.0)
    frames = np.stack([solid((255, 0, 0)), solid((255, 0, 0)), solid((0, 0, 255))])
    feature = colour_histogram.gif_feature(frames)   # square root of the mean histogram (Hellinger mapping)
    assert feature.dtype == np.float32 and np.count_nonzero(feature) == 2
    assert feature[15] == pytest.approx(np.sqrt(2 / 3)) and feature[95] == pytest.approx(np.sqrt(1 / 3))
    plain = colour_histogram.gif_feature(frames, ColourHistogramConfig(root=False))
    assert plain[15] == pytest.approx(2 / 3) and plain[95] == pytest.approx(1 / 3)
    assert colour_histogram.feature_names()[15] == "hsv[0,3,3]"


def test_rgb_space_and_other_bin_counts():
    config = ColourHistogramConfig(space="rgb", bins=(4, 2, 2))
    hist = colour_histogram.frame_histogram(solid((255, 0, 0)), config)
    assert hist.shape == (16,) and hist[(3 * 2 + 0) * 2 + 0] == 1.0
    assert colour_histogram.feature_names(config)[12] == "rgb[3,0,0]"


def test_baseline_configs_load_from_yaml_mappings_and_refuse_bad_values():
    config = from_mapping(ColourHistogramConfig, {"space": "rgb", "bins": [4, 4, 4], "ridge": None})
    assert config == ColourHistogramConfig(space="rgb", bins=(4, 4, 4), ridge=None)
    with pytest.raises(KavanError, match="bins"):
        ColourHistogramConfig(bins=(8, 0, 4))
    with pytest.raises(KavanError, match="ridge"):
        FaceExpressionConfig(ridge=-1.0)
    with pytest.raises(KavanError, match="scale_factor"):
        from_mapping(FaceExpressionConfig, {"scale_factor": 1.0})


# --- Haar faces and the face crop ---------------------------------------------------------------------------------

def test_largest_face_is_the_box_of_largest_area():
    boxes = np.array([[0, 0, 30, 30], [5, 5, 20, 50], [1, 1, 40, 10]])
    np.testing.assert_array_equal(haar_faces.largest_face(boxes), [5, 5, 20, 50])
    assert haar_faces.largest_face(np.zeros((0, 4), np.int64)) is None


def test_crop_pads_outside_the_frame_with_the_mean_of_its_bottom_rows():
    grey = np.full((100, 100), 50, np.uint8)
    grey[-2:] = 200
    # A 40×40 box in the top-left corner: square already, grown by 10 px, so a quarter of the crop lies outside.
    crop = haar_faces.crop_face(grey, np.array([0, 0, 40, 40]), margin=10)
    assert crop.shape == (64, 64) and crop.dtype == np.uint8
    assert crop[0, 0] == 200 and crop[5, 5] == 200      # padding: mean of the bottom two rows
    assert crop[40, 40] == 50 and crop[63, 63] == 50     # inside the frame


def test_crop_squares_a_tall_box_about_its_centre():
    grey = np.zeros((200, 200), np.uint8)
    grey[:, 100:] = 255   # right half white
    # A 20×60 box centred on x = 100 becomes 60×60 centred there: left half of the crop black, right half white.
    crop = haar_faces.crop_face(grey, np.array([90, 70, 20, 60]), margin=0)
    assert crop[32, :30].max() == 0 and crop[32, 34:].min() == 255


def test_face_detection_gives_the_same_boxes_every_time():
    # Frames on which multi-threaded detectMultiScale merged its windows differently from run to run.
    frames = make_gif(resolve("default", []), 0, 1721).frames[[0, 1, 13, 14]]
    cascade, config = haar_faces.load_cascade(), FaceExpressionConfig()
    threads = cv2.getNumThreads()
    for frame in frames:
        grey = haar_faces.grey(frame)
        results = {haar_faces.detect_faces(grey, cascade, config).tobytes() for _ in range(25)}
        assert len(results) == 1
    assert cv2.getNumThreads() == threads


@pytest.fixture(scope="module")
def face_tools():
    return load_fer_network(), haar_faces.load_cascade()


def test_face_is_found_on_a_real_frame_and_none_on_the_cartoon(real_gifs, face_tools):
    _, cascade = face_tools
    config = FaceExpressionConfig()
    frames, indices = sampled_frames(real_gifs / "oopsy-daisy.gif", 8)
    boxes = [haar_faces.largest_face(haar_faces.detect_faces(haar_faces.grey(f), cascade, config)) for f in frames]
    assert all(box is not None for box in boxes)
    x, y, w, h = boxes[0]
    assert 100 <= w <= 250 and w == h                              # a face of a plausible size in a 498×498 frame
    assert 0 <= x and x + w <= 498 and 0 <= y and y + h <= 498
    frames, _ = sampled_frames(real_gifs / "rainbow-vomit.gif", 8)
    assert all(len(haar_faces.detect_faces(haar_faces.grey(f), cascade, config)) == 0 for f in frames)


def test_face_feature_of_a_real_gif_is_the_network_output_on_its_face_crops(real_gifs, face_tools):
    network, cascade = face_tools
    frames, indices = sampled_frames(real_gifs / "cool.gif", 8)
    feature = face_expression.gif_feature(frames, indices, network, cascade)
    crops, weights = face_expression.face_crops(frames, indices, cascade, FaceExpressionConfig())
    assert len(crops) == 8 and (weights == 1).all()
    with torch.no_grad():
        pooled, probabilities = network(preprocess(crops))
    assert feature.shape == (136,) and feature[-1] == 0.0
    np.testing.assert_allclose(feature[:128], pooled.numpy().mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(feature[128:135], probabilities.numpy().mean(axis=0), atol=1e-6)
    assert feature[128:135].sum() == pytest.approx(1.0, abs=1e-5)


def test_gif_without_a_face_gets_zeros_and_the_no_face_indicator(real_gifs, face_tools):
    network, cascade = face_tools
    frames, indices = sampled_frames(real_gifs / "rainbow-vomit.gif", 8)
    assert indices == [0, 0, 0, 0, 1, 1, 1, 1]   # 2 frames, sampled 4 times each
    feature = face_expression.gif_feature(frames, indices, network, cascade)
    expected = np.zeros(136, np.float32)
    expected[-1] = 1.0
    np.testing.assert_array_equal(feature, expected)
    assert face_expression.feature_names()[-1] == "no_face" and len(face_expression.feature_names()) == 136


def test_frames_without_a_face_are_left_out_and_repeated_frames_weigh_more(real_gifs, face_tools):
    network, cascade = face_tools
    face = sampled_frames(real_gifs / "oopsy-daisy.gif", 8)[0][:2]
    blank = np.full_like(face[0], 255)
    frames = np.stack([face[0], face[0], blank, face[1]])
    feature = face_expression.gif_feature(frames, [3, 3, 5, 9], network, cascade)
    crops, weights = face_expression.face_crops(frames, [3, 3, 5, 9], cascade, FaceExpressionConfig())
    np.testing.assert_array_equal(weights, [2, 1])
    with torch.no_grad():
        _, probabilities = network(preprocess(crops))
    expected = (2 * probabilities[0] + probabilities[1]).numpy() / 3
    np.testing.assert_allclose(feature[128:135], expected, atol=1e-6)
    assert feature[-1] == 0.0
