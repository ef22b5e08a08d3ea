"""The face-glimpse row (beyond the paper): its shipped config, its training on cached glimpses, and prediction.

The row is bench/mtl-softatt-hslstm plus ``model.glimpse``; kavan.models.glimpse and kavan.models.localiser are
tested on their own in test_glimpse.py and test_localiser.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from helpers.training_data import tiny_config, tiny_mapping
from kavan import load
from kavan.cli import main
from kavan.config import config_file, config_hash, load_config
from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_safetensors
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import cached_frame_indices
from kavan.experiments.ablation import default_configs, row_label
from kavan.models.glimpse import keypoint_box
from kavan.models.storage import load_model
from kavan.training.evaluation import load_predictions

GLIMPSE = ("model.glimpse.enabled=true", "model.glimpse.localiser_epochs=5")


def test_the_shipped_row_is_the_full_model_plus_glimpses():
    row = load_config(config_file("bench/mtl-softatt-hslstm-glimpse")).to_dict()
    full = load_config(config_file("bench/mtl-softatt-hslstm")).to_dict()
    assert row["model"].pop("glimpse") == {"enabled": True, "boxes": "localiser", "crop": 64, "localiser_size": 32,
                                           "localiser_epochs": 30, "localiser_frames": 30000}
    full["model"].pop("glimpse")
    assert row == full
    # beyond the paper: not one of the rows `kavan ablation` runs by default, and labelled so when named
    assert not any("glimpse" in path.name for path in default_configs("bench"))
    assert "beyond the paper" in row_label("mtl-softatt-hslstm-glimpse")


def test_the_paper_rows_hash_as_before_the_glimpse_section():
    # hashes of these shipped configs before model.glimpse existed: their run folders still resume
    assert config_hash(load_config(config_file("bench/mtl-softatt-hslstm"))) == \
        "1b9544f068431075d5c95fe22838e26ff2c586313fe2b578273c998b43bc72b4"
    assert config_hash(load_config(config_file("paper/mtl-softatt-hslstm"))) == \
        "27db7bb756c64f86aab4b1d7b6432862379374b70e54223f7696a5b2e98ead8b"


def test_glimpses_need_cached_features():
    with pytest.raises(KavanError, match="model.glimpse trains on cached features"):
        tiny_config("model.glimpse.enabled=true")  # the tiny config trains end to end
    with pytest.raises(KavanError, match="boxes must be"):
        tiny_config(*GLIMPSE, "train.feature_cache=true", "model.glimpse.boxes=eyes")


def _train(data, folder, boxes: str):
    """A tiny glimpse row trained on ``data`` (split 0) with ``model.glimpse.boxes`` = ``boxes``."""
    config = folder / "glimpse.yaml"
    config.write_text(yaml.safe_dump(tiny_mapping(*GLIMPSE, "train.feature_cache=true",
                                                  f"model.glimpse.boxes={boxes}")))
    run, cache = folder / "run", folder / "cache"
    assert main(["train", "--config", str(config), "--data", str(data), "--out", str(run), "--cache-dir",
                 str(cache), "--no-progress"]) == 0
    return run, cache


@pytest.fixture(scope="module")
def glimpse_run(synth24, tmp_path_factory):
    """Boxes from the localiser in every frame: the shipped row's rule, the same in training and prediction."""
    return _train(synth24, tmp_path_factory.mktemp("glimpse-localiser"), "localiser")


@pytest.fixture(scope="module")
def keypoint_run(synth24, tmp_path_factory):
    """Boxes from a frame's keypoints where they give one, from the localiser otherwise."""
    return _train(synth24, tmp_path_factory.mktemp("glimpse-keypoints"), "keypoints")


def test_the_localiser_is_fitted_and_travels_in_the_model_file(glimpse_run):
    run, _ = glimpse_run
    model = load_model(run / "model.safetensors").model
    assert bool(model.glimpses.fitted)
    assert float(model.glimpses.localiser.w.weight.abs().sum()) > 0


def test_frames_with_keypoints_are_cut_there_and_the_others_fall_back(keypoint_run, synth24):
    _, cache = keypoint_run
    dataset = Dataset(synth24)
    (folder,) = cache.glob("glimpses-*")
    entries = sorted(folder.glob("*.safetensors"))
    assert len(entries) == len(dataset)  # every GIF of the split: training, validation and test
    fallbacks = boxed = 0
    for entry in entries:
        tensors, _ = read_safetensors(entry)
        record = dataset.keypoints(entry.stem)
        n_frames = dataset.media_info(entry.stem).n_frames
        frames = cached_frame_indices(n_frames, "all", 4)
        expected = [record is not None and keypoint_box(record.keypoints[f]) is not None for f in frames]
        assert tensors["from_keypoints"].tolist() == expected
        assert tensors["glimpses"].shape == (len(frames), 135)
        assert bool(torch.isfinite(tensors["glimpses"]).all())
        fallbacks += expected.count(False)
        boxed += expected.count(True)
    assert fallbacks > 0 and boxed > 0  # synth24 has face-less GIFs and withheld keypoints as well as faces


def test_prediction_gives_the_run_s_test_numbers(glimpse_run, synth24):
    # the test pass read cached glimpses; predict cuts them again from the decoded frames: the same numbers (with
    # boxes: keypoints they differ, since prediction has no keypoints: docs/model.md)
    run, _ = glimpse_run
    predictions = load_predictions(run / "predictions.safetensors")
    predictor = load(run / "model.safetensors", "cpu")
    dataset = Dataset(synth24)
    for gif_id, intensities in list(zip(predictions.ids, predictions.intensities))[:3]:
        predicted = predictor.predict(dataset.media_path(gif_id))
        got = np.array([predicted.emotions[name] for name in predicted.emotions], dtype=np.float32)
        np.testing.assert_allclose(got, intensities, atol=1e-4)


def test_predict_runs_on_real_gifs_and_the_cartoon(glimpse_run, real_gifs, tmp_path):
    run, _ = glimpse_run
    out = tmp_path / "predictions.jsonl"
    paths = [real_gifs / "dis-good.gif", real_gifs / "rainbow-vomit.gif"]  # a small face; a 2-frame cartoon
    assert main(["predict", *map(str, paths), "--checkpoint", str(run / "model.safetensors"), "--out", str(out),
                 "--no-progress"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in paths]
    for record in records:
        values = np.array(list(record["emotions"].values()))
        assert len(values) == 17 and np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()


def test_a_glimpse_model_is_not_exported_to_onnx(glimpse_run, tmp_path):
    pytest.importorskip("onnxscript")
    from kavan.predict.onnx import export_onnx

    run, _ = glimpse_run
    with pytest.raises(KavanError, match="glimpse model"):
        export_onnx(run / "model.safetensors", tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_the_demo_server_predicts_a_glimpse_model_like_the_api(glimpse_run, real_gifs):
    from helpers.web_server import running
    from kavan.serve import ServeSettings, make_server
    from test_serve import upload

    run, _ = glimpse_run
    predictor = load(run / "model.safetensors", "cpu")
    with running(make_server(predictor, ServeSettings(port=0))) as server:
        status, answer = upload(server, (real_gifs / "dis-good.gif").read_bytes(), "dis-good.gif")
    assert status == 200
    expected = predictor.predict(real_gifs / "dis-good.gif").to_json()
    expected["path"] = "dis-good.gif"
    assert answer["prediction"] == expected


def test_a_run_started_from_a_glimpse_model_keeps_its_localiser_and_glimpses(glimpse_run, synth24, tmp_path, caplog):
    run, cache = glimpse_run
    config = run.parent / "glimpse.yaml"
    fitted = load_model(run / "model.safetensors").model.glimpses.localiser.state_dict()
    with caplog.at_level("INFO", logger="kavan.training.glimpses"):
        assert main(["train", "--config", str(config), "--data", str(synth24), "--out", str(tmp_path / "again"),
                     "--cache-dir", str(cache), "--init", str(run / "model.safetensors"), "--no-progress"]) == 0
    assert not any("localiser fitted" in r.message for r in caplog.records)
    assert not any("GIFs to compute" in r.message for r in caplog.records)  # the cached glimpses are read as they are
    again = load_model(tmp_path / "again" / "model.safetensors").model.glimpses.localiser.state_dict()
    assert all(torch.equal(fitted[k], again[k]) for k in fitted)
