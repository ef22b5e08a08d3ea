"""A partly trainable backbone (model.frozen_until): the frozen part is cached, the rest trains with KAVAN."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from helpers.training_data import tiny_config, tiny_mapping
from kavan.cli import main
from kavan.config import SHIPPED_DIR, load_config
from kavan.core.errors import KavanError
from kavan.data.feature_cache import cache_key, weights_sha256
from kavan.experiments.ablation import PAPER_ROWS, default_configs
from kavan.models import KAVAN, parameter_counts, trainable_modules
from kavan.models.backbone import Backbone
from kavan.models.storage import load_model
from kavan.showcase.describe import describe
from kavan.training.checkpoint import load_checkpoint
from kavan.training.setup import parameter_groups

# the tiny network's last module (MobileNetV2 features.18: 1x1 conv 320 -> 1280, BN, ReLU6) trains
PARTLY = ("model.frozen=false", "model.frozen_until=features.17", "train.feature_cache=true")


def _frames(model: KAVAN, b: int = 2) -> torch.Tensor:
    size = model.config.input_size
    return torch.randn(b, model.config.t, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_only_the_modules_after_frozen_until_train():
    model = KAVAN(tiny_config(*PARTLY).model)
    assert trainable_modules(model) == ["backbone.body.features.18", "temporal", "heads"]
    body = dict(model.backbone.body.named_parameters())
    assert {n for n, p in body.items() if p.requires_grad} == {n for n in body if n.startswith("features.18.")}
    # the two parts are views of one trunk: checkpoint keys are those of a frozen model
    frozen = KAVAN(tiny_config().model)
    assert list(model.state_dict()) == list(frozen.state_dict())
    counts = parameter_counts(model)
    assert counts["backbone_trainable"] == 320 * 1280 + 2 * 1280  # conv (no bias) + BN weight and bias
    assert counts["trainable"] == counts["backbone_trainable"] + counts["attention"] + counts["temporal"] \
        + counts["heads"]


def test_frozen_part_keeps_eval_mode_while_the_rest_trains():
    model = KAVAN(tiny_config(*PARTLY).model).train()
    assert not model.backbone.body.features[17].training
    assert model.backbone.body.features[18].training
    assert model.temporal.training


def test_cached_input_gives_the_numbers_of_frames():
    model = KAVAN(tiny_config(*PARTLY).model).eval()
    frames = _frames(model)
    cached = model.encode_frozen(frames)
    assert cached.shape == (2, 4, 320, 2, 2)
    assert (model.cached_channels, model.cached_cells) == (320, 2)
    with torch.no_grad():
        direct, via_cache = model(frames), model(cached=cached)
    torch.testing.assert_close(via_cache.intensities, direct.intensities)
    with pytest.raises(KavanError, match="cached features must have shape"):
        model(cached=torch.zeros(2, 4, 1280, 2, 2))


def test_a_fully_frozen_backbone_caches_its_whole_output_under_the_same_key():
    model = KAVAN(tiny_config().model).eval()
    frames = _frames(model)
    torch.testing.assert_close(model.encode_frozen(frames), model.encode_frames(frames))
    key = cache_key(model, "all", "float32")
    assert key.cut_after == "" and key.weights_sha256 == weights_sha256(model.backbone)


def test_the_cache_key_names_the_frozen_part_only():
    model = KAVAN(tiny_config(*PARTLY).model)
    key = cache_key(model, "all", "float32")
    assert key.cut_after == "features.17"
    # training the tail does not change what the cache holds, so it does not change the key
    with torch.no_grad():
        model.backbone.body.features[18][0].weight.add_(1.0)
    assert cache_key(model, "all", "float32") == key
    with torch.no_grad():
        model.backbone.body.features[0][0].weight.add_(1.0)
    assert cache_key(model, "all", "float32").digest != key.digest


def test_bad_frozen_until_values_are_clear_errors():
    with pytest.raises(KavanError, match="set one of them"):
        tiny_config("model.frozen=true", "model.frozen_until=features.17")
    with pytest.raises(KavanError, match="no module 'features.40' to freeze up to"):
        Backbone("mobilenet_v2", frozen_until="features.40")
    with pytest.raises(KavanError, match="nothing is left to train after 'features.18'"):
        Backbone("mobilenet_v2", frozen_until="features.18")
    with pytest.raises(KavanError, match="needs a frozen backbone or frozen part"):
        tiny_config("model.frozen=false", "train.feature_cache=true")


def test_backbone_learning_rate_is_a_second_parameter_group():
    config = tiny_config(*PARTLY, "train.lr=0.01", "train.backbone_lr_scale=0.1")
    model = KAVAN(config.model)
    groups = parameter_groups(model, config)
    assert len(groups) == 2 and "lr" not in groups[0] and groups[1]["lr"] == pytest.approx(0.001)
    tail = {id(p) for p in model.backbone.body.features[18].parameters()}
    assert {id(p) for p in groups[1]["params"]} == tail
    assert not tail & {id(p) for p in groups[0]["params"]}
    # scale 1 keeps the single group a checkpoint of an older run holds
    assert len(parameter_groups(model, dataclasses.replace(
        config, train=dataclasses.replace(config.train, backbone_lr_scale=1.0)))) == 1


def test_training_moves_the_tail_and_nothing_of_the_frozen_part(synth16, tmp_path):
    config = tmp_path / "partly.yaml"
    config.write_text(yaml.safe_dump(tiny_mapping(*PARTLY, "train.epochs=2", "train.backbone_lr_scale=0.5")))
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(synth16), "--out", str(run),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 0
    start = KAVAN(load_config(config).model).state_dict()
    trained = load_model(run / "model.safetensors").model.state_dict()
    changed = {name for name in start if not torch.equal(start[name], trained[name])}
    tail = {n for n in start if n.startswith("backbone.body.features.18.")}
    assert any(n.endswith("running_mean") for n in changed & tail)  # the tail's BatchNorm learns statistics
    assert tail & changed and not {n for n in changed if n.startswith("backbone.") and n not in tail}
    checkpoint = load_checkpoint(run / "checkpoint.safetensors")
    lrs = [group["initial_lr"] for group in checkpoint.optimizer["param_groups"]]
    assert lrs == pytest.approx([0.003, 0.0015])
    # the cache folder holds the frozen part's map
    assert [p.name.split("-")[1] for p in (tmp_path / "cache").iterdir()] == ["features.17"]


def test_the_bench_trainable_setting_has_the_six_rows_and_differs_from_bench_only_in_what_trains():
    configs = default_configs("bench-trainable")
    assert [p.stem for p in configs] == list(PAPER_ROWS)
    for path in configs:
        trainable, frozen = load_config(path).to_dict(), load_config(SHIPPED_DIR / "bench" / path.name).to_dict()
        assert trainable["model"].pop("frozen") is False and frozen["model"].pop("frozen") is True
        assert trainable["model"].pop("frozen_until") == "features.12"
        assert trainable["train"].pop("backbone_lr_scale") == 1.0  # chosen on validation over 0.1
        frozen["model"].pop("frozen_until"), frozen["train"].pop("backbone_lr_scale")
        assert trainable == frozen, path.name


def test_describe_says_what_trains():
    report = describe("bench-trainable/resnet50-hslstm")
    assert report["trains"] == ["backbone.body.features.13", "temporal", "heads"]
    assert report["parameters"]["backbone_trainable"] == 118272
    assert report["cached_shape"] == {"channels": 96, "cells": 14}
    frozen = describe("bench/resnet50-hslstm")
    assert frozen["trains"] == ["temporal", "heads"] and frozen["backbone_lr"] is None
    paper = describe("paper/resnet50-hslstm")
    assert paper["trains"] == ["backbone", "temporal", "heads"] and paper["cached_shape"] is None
