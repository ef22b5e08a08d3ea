"""The feature cache: keyed on everything that changes the numbers, reused when nothing did, crash-safe."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file

from helpers.training_data import make_synth, tiny_config
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import FeatureCache, cache_key
from kavan.data.loader import prepare_clips
from kavan.data.transforms import FrameTransform
from kavan.models import KAVAN
from kavan.training.setup import frozen_encoder


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth") / "data", n=6)


@pytest.fixture
def data(synth, tmp_path):
    """A private copy (the tests change media files)."""
    return Dataset(shutil.copytree(synth, tmp_path / "data"))


_MODELS: dict[tuple[str, ...], KAVAN] = {}


def _model(*overrides):
    """The tiny KAVAN (built once per set of overrides: building loads and checks the ImageNet weights)."""
    if overrides not in _MODELS:
        torch.manual_seed(0)
        _MODELS[overrides] = KAVAN(tiny_config(*overrides).model)
    return _MODELS[overrides]


def _fill(data, model, root, frames="all", dtype="float32"):
    cache = FeatureCache(root, cache_key(model, frames, dtype))
    clips = prepare_clips(data, data.ids, progress=False).clips
    return cache, cache.fill(data, clips, frozen_encoder(model), progress=False)


def test_features_are_the_backbone_output_of_every_frame(data, tmp_path):
    model = _model()
    cache, report = _fill(data, model, tmp_path / "cache")
    assert (report.reused, report.computed, report.failed) == (0, 6, {})
    gif = data.ids[2]
    stored = load_file(cache.path(gif))
    assert stored["frames"].tolist() == list(range(8))
    frames, _ = FrameTransform.evaluation(64)(data.frames(gif, list(range(8))))
    expected = model.encode_frames(frames.unsqueeze(0)).squeeze(0)
    torch.testing.assert_close(stored["features"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cache.read(gif, [5, 1]), expected[[5, 1]], rtol=1e-5, atol=1e-6)


def test_unchanged_inputs_reuse_and_changes_recompute(data, tmp_path):
    root = tmp_path / "cache"
    model = _model()
    cache, _ = _fill(data, model, root)
    stamp = {gif: os.stat(cache.path(gif)).st_mtime_ns for gif in data.ids}

    torch.manual_seed(1)
    _, report = _fill(data, KAVAN(tiny_config().model), root)  # a new model with the same backbone weights
    assert (report.reused, report.computed) == (6, 0)
    assert stamp == {gif: os.stat(cache.path(gif)).st_mtime_ns for gif in data.ids}

    # A different input size, frame policy, dtype, or different weights: a new cache, all recomputed.
    for other, frames, dtype in [(_model("model.input_size=96"), "all", "float32"), (model, "eval", "float32"),
                                 (model, "all", "float16"), (_model("model.weights=none"), "all", "float32")]:
        new, report = _fill(data, other, root, frames, dtype)
        assert new.folder != cache.folder and (report.reused, report.computed) == (0, 6)
    assert len([p for p in root.iterdir() if p.is_dir()]) == 5

    # A changed media file: only that GIF is recomputed. A touched (same bytes) one is reused.
    changed, touched = data.media_path(data.ids[0]), data.media_path(data.ids[1])
    changed.write_bytes(data.media_path(data.ids[3]).read_bytes())
    os.utime(touched, ns=(1, 1))
    _, report = _fill(data, model, root)
    assert (report.reused, report.computed) == (5, 1)
    torch.testing.assert_close(load_file(cache.path(data.ids[0]))["features"],
                               load_file(cache.path(data.ids[3]))["features"])


def test_interrupted_and_damaged_caches_are_completed(data, tmp_path):
    model = _model()
    cache, _ = _fill(data, model, tmp_path / "cache")
    cache.path(data.ids[0]).unlink()                       # never written (killed before)
    cache.path(data.ids[1]).write_bytes(b"\x00" * 10)       # damaged
    (cache.folder / f".{data.ids[2]}.safetensors.x.tmp").write_bytes(b"partial")  # a killed write's leftover
    _, report = _fill(data, model, tmp_path / "cache")
    assert (report.reused, report.computed) == (4, 2)
    assert load_file(cache.path(data.ids[1]))["features"].shape == (8, 1280, 2, 2)


def test_eval_policy_caches_the_tsn_evaluation_frames(data, tmp_path):
    model = _model()
    cache, _ = _fill(data, model, tmp_path / "cache", frames="eval")
    assert cache.frames(data.ids[0]).tolist() == [1, 3, 5, 7]  # 8 frames, T = 4: segment middles


def test_a_bad_gif_is_reported_and_the_others_are_cached(data, tmp_path):
    model = _model()
    clips = prepare_clips(data, data.ids, progress=False).clips
    media = data.media_path(data.ids[4])
    blob = media.read_bytes()
    media.write_bytes(blob[: len(blob) // 3])  # probe passed earlier; decoding now fails half-way
    cache = FeatureCache(tmp_path / "cache", cache_key(model, "all", "float32"))
    report = cache.fill(data, clips, frozen_encoder(model), progress=False)
    assert list(report.failed) == [data.ids[4]] and str(media) in report.failed[data.ids[4]]
    assert report.computed == 5 and not cache.path(data.ids[4]).exists()


def test_key_records_what_it_hashes(data):
    key = cache_key(_model(), "all", "float16")
    assert dataclasses.asdict(key)["input_size"] == 64 and key.weights == "offline-mobilenet-v2"
    assert key.folder_name.startswith("mobilenet_v2-64px-all-")
    assert key.weights_sha256 != cache_key(_model("model.weights=none"), "all", "float16").weights_sha256
