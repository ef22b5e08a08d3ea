"""The Python API: kavan.load, Predictor.predict / .attention, the Prediction's numbers, bad inputs, bad checkpoints."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import kavan
from helpers.predict_model import CELLS, SYNTH_RECORD, rig_bright_attention, write_tiny_model
from kavan.core.emotions import EMOTIONS, QUADRANTS, quadrant_label
from kavan.core.errors import KavanError
from kavan.data.transforms import FrameTransform
from kavan.media import decode
from kavan.media.overlay import upsample_map
from kavan.predict import Prediction, predict_files
from kavan.predict.batch import BatchSettings


@pytest.fixture(scope="module")
def predictor(tiny_model):
    return kavan.load(tiny_model, device="cpu")


@pytest.fixture
def rigged(tiny_model):
    loaded = kavan.load(tiny_model, device="cpu")
    rig_bright_attention(loaded)
    return loaded


def reference_outputs(predictor, frames: np.ndarray):
    """The model run by hand on already-sampled frames: the numbers a Prediction must carry."""
    inputs, _ = FrameTransform.evaluation(128)(frames)
    with torch.no_grad():
        out = predictor.model(frames=inputs[None])
    return out.intensities[0].numpy(), out.quadrant_logits[0].numpy(), out.attention[0].numpy()


def test_predict_a_real_gif_gives_the_models_numbers(predictor, tiny_model, real_gifs):
    result = predictor.predict(real_gifs / "cool.gif")  # 53 frames: segments of 13, 13, 13, 14 frames
    assert isinstance(result, Prediction)
    assert result.frames_used == [6, 19, 32, 46]
    intensities, logits, _ = reference_outputs(predictor, decode.read_frames(real_gifs / "cool.gif", [6, 19, 32, 46]))

    assert list(result.emotions) == list(EMOTIONS)
    np.testing.assert_allclose([result.emotions[e] for e in EMOTIONS], intensities, atol=1e-6)
    assert all(0.0 <= v <= 1.0 for v in result.emotions.values())
    ranked = sorted(EMOTIONS, key=lambda e: -result.emotions[e])
    assert [name for name, _ in result.top] == ranked[:3]
    assert [score for _, score in result.top] == [result.emotions[e] for e in ranked[:3]]

    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert result.quadrant.label == QUADRANTS[int(np.argmax(logits))]
    np.testing.assert_allclose([result.quadrant.probabilities[q] for q in QUADRANTS], probabilities, atol=1e-6)
    assert sum(result.quadrant.probabilities.values()) == pytest.approx(1.0, abs=1e-5)

    assert result.path == str(real_gifs / "cool.gif")
    assert result.model.checkpoint == str(tiny_model.resolve())
    assert result.model.trained_on == SYNTH_RECORD and result.model.synthgif
    assert result.model.config_hash == SYNTH_RECORD["config_hash"]  # the hash the trainer recorded


def test_json_has_exactly_the_issues_fields(predictor, real_gifs):
    record = json.loads(json.dumps(predictor.predict(real_gifs / "rainbow-vomit.gif").to_json()))
    assert list(record) == ["path", "emotions", "quadrant", "top", "frames_used", "model"]
    assert list(record["quadrant"]) == ["label", "probabilities"]
    assert list(record["quadrant"]["probabilities"]) == list(QUADRANTS)
    assert len(record["top"]) == 3 and all(len(pair) == 2 for pair in record["top"])
    assert list(record["model"]) == ["checkpoint", "trained_on", "config_hash"]
    assert record["model"]["trained_on"]["dataset"]["synthgif"]["format"] == "kavan-synthgif/1"
    assert record["frames_used"] == [0, 0, 1, 1]  # 2 frames, T = 4: frames repeat in order


def test_frames_in_memory_predict_like_the_file(predictor, real_gifs):
    path = real_gifs / "like-a-boss.gif"
    frames = decode.read_frames(path, range(18))
    from_file = predictor.predict(path)
    from_array = predictor.predict(frames)
    from_list = predictor.predict(list(frames))
    assert from_array.path is None and from_array.frames_used == from_file.frames_used == [2, 6, 11, 15]
    assert from_array.emotions == from_file.emotions == from_list.emotions
    assert from_array.quadrant == from_file.quadrant


def test_still_image_and_video(predictor, tmp_path):
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 32:] = (200, 40, 90)
    Image.fromarray(image).save(tmp_path / "still.png")
    still = predictor.predict(tmp_path / "still.png")
    assert still.frames_used == [0, 0, 0, 0]
    assert still.emotions == predictor.predict(image).emotions  # one (H, W, 3) frame is a still too

    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(12):
            frame = np.full((48, 64, 3), (20 * index, 100, 50), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    result = predictor.predict(video)
    assert result.frames_used == [1, 4, 7, 10]
    intensities, _, _ = reference_outputs(predictor, decode.read_frames(video, [1, 4, 7, 10]))
    np.testing.assert_allclose([result.emotions[e] for e in EMOTIONS], intensities, atol=1e-6)


@pytest.mark.parametrize("frames, message", [
    (np.zeros((4, 8, 8, 3), np.float32), "dtype float32"),
    (np.zeros((4, 8, 8), np.uint8), "shape (1, 4, 8, 8)"),
    (np.zeros((4, 8, 8, 4), np.uint8), "shape (4, 8, 8, 4)"),
    ([], "got list"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], "different shapes"),
    ("no-such-file.gif", "file not found"),
])
def test_bad_inputs_are_clear_errors(predictor, frames, message):
    with pytest.raises(KavanError) as caught:
        predictor.predict(frames)
    assert message in str(caught.value)


def test_unreadable_file_names_the_file(predictor, tmp_path):
    bad = tmp_path / "bad.gif"
    bad.write_text("this is a text file named .gif")
    with pytest.raises(KavanError) as caught:
        predictor.predict(bad)
    assert caught.value.path == str(bad) and "unrecognised content" in caught.value.reason


def test_attention_maps_per_sampled_frame(predictor, real_gifs):
    path = real_gifs / "dis-good.gif"  # 16 frames of 500 x 281
    attention = predictor.attention(path)
    assert attention.frames_used == [2, 6, 10, 14]
    assert attention.frames.shape == (4, 281, 500, 3)
    np.testing.assert_array_equal(attention.frames, decode.read_frames(path, [2, 6, 10, 14]))
    _, _, cells = reference_outputs(predictor, attention.frames)
    np.testing.assert_allclose(attention.cells, cells, atol=1e-6)
    assert attention.cells.shape == (4, CELLS, CELLS)
    np.testing.assert_allclose(attention.cells.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert attention.maps.shape == (4, 281, 500)
    np.testing.assert_allclose(attention.maps[3], upsample_map(attention.cells[3], 281, 500))


def test_attention_is_aligned_with_the_frame(rigged):
    """A model that attends to the brightest cell: a white block in cell (row 1, column 3) of a wide frame
    must come back as that cell and those pixels, not transposed or flipped."""
    frame = np.zeros((120, 200, 3), np.uint8)
    frame[30:60, 150:200] = 255  # cell (1, 3) of the 4 x 4 grid: cells are 30 rows x 50 columns
    attention = rigged.attention(np.stack([frame] * 5))
    for cells in attention.cells:
        assert np.unravel_index(np.argmax(cells), cells.shape) == (1, 3)
        assert cells[1, 3] > 0.99 and cells[3, 1] < 1e-3
    row, col = np.unravel_index(np.argmax(attention.maps[0]), attention.maps[0].shape)
    assert 30 <= row < 60 and 150 <= col < 200
    assert attention.maps[0][30:60, 150:200].mean() > 20 * attention.maps[0][90:120, 0:100].mean()


def test_model_without_attention_or_quadrant_head(tmp_path, real_gifs):
    path = write_tiny_model(tmp_path / "plain.safetensors", attention={"enabled": False, "size": 8}, multitask=False)
    plain = kavan.load(path, device="cpu")
    result = plain.predict(real_gifs / "rainbow-vomit.gif")
    scores = np.array([result.emotions[e] for e in EMOTIONS])
    assert result.quadrant.probabilities is None and result.quadrant.label == quadrant_label(scores)
    assert result.to_json()["quadrant"] == {"label": result.quadrant.label, "probabilities": None}
    with pytest.raises(KavanError, match="has no attention"):
        plain.attention(real_gifs / "rainbow-vomit.gif")


def test_batch_prediction_matches_one_by_one_and_goes_on_after_bad_files(predictor, real_gifs, tmp_path):
    bad = tmp_path / "bad.gif"
    bad.write_bytes((real_gifs / "cool.gif").read_bytes()[:2000])  # cut off inside its first frame
    paths = [str(real_gifs / "rainbow-vomit.gif"), str(bad), str(tmp_path / "missing.gif"),
             str(real_gifs / "like-a-boss.gif"), str(real_gifs / "cool.gif")]
    results = list(predict_files(predictor, paths, BatchSettings(batch_size=2, workers=1), progress=False))
    assert [r.path for r in results] == paths
    assert [r.error is None for r in results] == [True, False, False, True, True]
    assert "damaged GIF" in results[1].error and results[2].error == "file not found"
    assert results[2].to_json() == {"path": paths[2], "error": "file not found"}
    for result in (results[0], results[3], results[4]):
        single = predictor.predict(result.path)
        batch = result.analysis.prediction
        assert batch.frames_used == single.frames_used and batch.quadrant.label == single.quadrant.label
        for emotion in EMOTIONS:
            assert math.isclose(batch.emotions[emotion], single.emotions[emotion], abs_tol=2e-6), emotion
        assert result.analysis.attention is None  # frames not kept unless pictures are asked for


def test_kavan_load_refuses_bad_checkpoints(tmp_path, tiny_model, real_gifs):
    with pytest.raises(KavanError, match="cannot read"):
        kavan.load(tmp_path / "missing.safetensors")
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(tiny_model.read_bytes()[: tiny_model.stat().st_size // 2])
    with pytest.raises(KavanError, match="not a safetensors file") as caught:
        kavan.load(damaged)
    assert caught.value.path == str(damaged)
    with pytest.raises(KavanError, match="not a safetensors file"):
        kavan.load(real_gifs / "rainbow-vomit.gif")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, foreign)
    with pytest.raises(KavanError, match="expected a kavan-model/1 file"):
        kavan.load(foreign)
    pickled = tmp_path / "model.pt"
    torch.save({"x": torch.zeros(2)}, pickled)
    with pytest.raises(KavanError, match="pickle"):
        kavan.load(pickled)
    with pytest.raises(KavanError, match="unknown device"):
        kavan.load(tiny_model, device="tpu")


@pytest.mark.subprocess
def test_import_kavan_stays_light():
    code = "import sys, kavan; print('torch' in sys.modules, callable(kavan.load))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
