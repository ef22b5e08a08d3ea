"""Backbone: where each torchvision family is cut, the feature shapes, and every way weights are loaded."""

from __future__ import annotations

import shutil

import pytest
import torch
import torchvision.models as tvm
from safetensors.torch import save_file
from torchvision.models.feature_extraction import create_feature_extractor

from kavan.core.errors import KavanError
from kavan.models import backbone as backbone_module
from kavan.models.backbone import Backbone, build_trunk, cut_at_feature_map, feature_shape
from kavan.models.weights import (
    OFFLINE_MOBILENET_V2_SHA256,
    offline_mobilenet_v2_path,
    read_state_dict,
    sha256_of,
)


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [("resnet50", 224, (2048, 7)), ("resnet50", 160, (2048, 5)), ("resnet18", 224, (512, 7)),
     ("mobilenet_v2", 224, (1280, 7)), ("squeezenet1_1", 224, (512, 13)), ("vgg16", 224, (512, 7))],
)
def test_feature_shape(name, size, expected):
    assert feature_shape(name, size) == expected


# The node of torchvision's own traced forward that feeds the global pooling: an independent oracle for the cut.
@pytest.mark.parametrize(
    ("name", "node"),
    [("resnet18", "layer4"), ("mobilenet_v3_small", "features"), ("densenet121", "relu"),
     ("shufflenet_v2_x0_5", "conv5"), ("regnet_x_400mf", "trunk_output"), ("mnasnet0_5", "layers"),
     ("squeezenet1_1", "features")],
)
def test_cut_matches_the_classifier_forward(name, node):
    torch.manual_seed(0)
    model = tvm.get_model(name, weights=None).eval()
    trunk = cut_at_feature_map(model, name)
    oracle = create_feature_extractor(model, return_nodes={node: "out"})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(trunk(x), oracle(x)["out"])


def test_swin_cut_is_channels_first():
    channels, cells = feature_shape("swin_t", 224)
    assert (channels, cells) == (768, 7)


@pytest.mark.parametrize("name", ["vit_b_16", "fcn_resnet50", "no_such_net"])
def test_models_that_cannot_be_cut_are_refused(name):
    with pytest.raises(KavanError):
        feature_shape(name, 224)


def test_too_small_input_is_a_kavan_error():
    with pytest.raises(KavanError, match="cannot encode 16x16"):
        feature_shape("alexnet", 16)


def test_frozen_backbone_keeps_batchnorm_statistics_and_has_no_trainable_parameters():
    backbone = Backbone("resnet18", frozen=True)
    backbone.train()
    assert not backbone.body.training
    assert not any(p.requires_grad for p in backbone.parameters())
    before = backbone.body.bn1.running_mean.clone()
    out = backbone(torch.rand(2, 3, 64, 64))
    torch.testing.assert_close(backbone.body.bn1.running_mean, before)
    assert not out.requires_grad


def test_trainable_backbone_updates_batchnorm_in_train_mode():
    backbone = Backbone("resnet18").train()
    before = backbone.body.bn1.running_mean.clone()
    backbone(torch.rand(2, 3, 64, 64))
    assert not torch.equal(backbone.body.bn1.running_mean, before)


def test_offline_mobilenet_v2_loads_with_every_key_matching():
    path = offline_mobilenet_v2_path()
    assert path.name == "mobilenet_v2-b0353104.pth"
    assert OFFLINE_MOBILENET_V2_SHA256.startswith("b0353104")
    state = torch.load(path, map_location="cpu", weights_only=True)
    trunk = build_trunk("mobilenet_v2", "offline-mobilenet-v2")
    trunk_state = trunk.state_dict()
    # Every trunk tensor comes from the file; the file's only other keys are the classifier's.
    assert set(state) - set(trunk_state) == {"classifier.1.weight", "classifier.1.bias"}
    assert set(trunk_state) <= set(state)
    for key, value in trunk_state.items():
        assert torch.equal(value, state[key]), key


def test_offline_mobilenet_v2_rejects_a_corrupted_copy(tmp_path, monkeypatch):
    copy = tmp_path / "mobilenet_v2-b0353104.pth"
    shutil.copyfile(offline_mobilenet_v2_path(), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert sha256_of(copy) != OFFLINE_MOBILENET_V2_SHA256
    with pytest.raises(KavanError, match="SHA-256 mismatch"):
        read_state_dict(copy, sha256=OFFLINE_MOBILENET_V2_SHA256)
    monkeypatch.setattr(backbone_module, "offline_mobilenet_v2_path", lambda: copy)
    with pytest.raises(KavanError, match="SHA-256 mismatch") as err:
        Backbone("mobilenet_v2", "offline-mobilenet-v2")
    assert str(copy) in str(err.value)


def test_offline_mobilenet_weights_fit_mobilenet_v2_only():
    with pytest.raises(KavanError, match="mobilenet_v2"):
        build_trunk("resnet18", "offline-mobilenet-v2")


def test_unknown_torchvision_weights_name_is_refused_without_download():
    with pytest.raises(KavanError, match="IMAGENET1K_V1"):
        build_trunk("resnet18", "torchvision:NO_SUCH_WEIGHTS")


def _fine_tuned_resnet18_state() -> dict[str, torch.Tensor]:
    """A resnet18 checkpoint fine-tuned for 10 classes: its classifier cannot fit the 1000-class model."""
    torch.manual_seed(1)
    model = tvm.resnet18(num_classes=10)
    return {key: value.clone() for key, value in model.state_dict().items()}


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_local_checkpoint_loads_and_ignores_the_classifier(tmp_path, suffix):
    state = _fine_tuned_resnet18_state()
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save({"model": state, "epoch": 3}, path)  # torchvision reference-script layout
    else:
        save_file(state, path)
    trunk = build_trunk("resnet18", str(path))
    for key, value in trunk.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_local_checkpoint_with_a_missing_key_is_refused(tmp_path):
    state = _fine_tuned_resnet18_state()
    del state["layer2.0.conv1.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(KavanError, match="missing keys layer2.0.conv1.weight") as err:
        build_trunk("resnet18", str(path))
    assert err.value.path == str(path)


def test_local_checkpoint_with_an_unexpected_key_is_refused(tmp_path):
    state = _fine_tuned_resnet18_state()
    state["extra.weight"] = torch.zeros(3)
    path = tmp_path / "extra.safetensors"
    save_file(state, path)
    with pytest.raises(KavanError, match="unexpected keys extra.weight"):
        build_trunk("resnet18", str(path))


def test_local_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(tvm.resnet34().state_dict(), path)
    with pytest.raises(KavanError, match="does not fit the backbone"):
        build_trunk("resnet18", str(path))


def test_unreadable_weights_files_are_kavan_errors(tmp_path):
    with pytest.raises(KavanError, match="not found"):
        build_trunk("resnet18", str(tmp_path / "absent.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(KavanError, match="cannot read checkpoint"):
        build_trunk("resnet18", str(garbage))
    bad_safetensors = tmp_path / "garbage.safetensors"
    bad_safetensors.write_bytes(b"not a checkpoint either")
    with pytest.raises(KavanError, match="cannot read safetensors"):
        build_trunk("resnet18", str(bad_safetensors))
    other = tmp_path / "weights.bin"
    other.write_bytes(b"")
    with pytest.raises(KavanError, match=r"\.pth, \.pt or \.safetensors"):
        build_trunk("resnet18", str(other))
    not_tensors = tmp_path / "numbers.pth"
    torch.save({"a": 1}, not_tensors)
    with pytest.raises(KavanError, match="not a state dict"):
        build_trunk("resnet18", str(not_tensors))


def test_torchvision_weights_offline_is_a_kavan_error(monkeypatch):
    import urllib.error

    import torchvision.models._api as tv_api

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    with pytest.raises(KavanError, match="offline, set model.weights"):
        build_trunk("resnet18", "torchvision:IMAGENET1K_V1")


# An earlier cut: the trunk ends at the named module, and torchvision's traced forward at that node agrees.
@pytest.mark.parametrize(
    ("name", "cut_after", "size", "expected"),
    [("mobilenet_v2", "features.13", 224, (96, 14)), ("mobilenet_v2", "features.6", 224, (32, 28)),
     ("resnet18", "layer3", 224, (256, 14)), ("resnet50", "layer3", 160, (1024, 10))],
)
def test_cut_after_an_intermediate_module(name, cut_after, size, expected):
    assert feature_shape(name, size, cut_after) == expected
    torch.manual_seed(0)
    model = tvm.get_model(name, weights=None).eval()
    trunk = cut_at_feature_map(model, name, cut_after)
    oracle = create_feature_extractor(model, return_nodes={cut_after: "out"})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(trunk(x), oracle(x)["out"])


def test_cut_trunk_loads_the_offline_weights_it_keeps():
    state = torch.load(offline_mobilenet_v2_path(), map_location="cpu", weights_only=True)
    trunk = build_trunk("mobilenet_v2", "offline-mobilenet-v2", cut_after="features.13")
    kept = trunk.state_dict()
    assert "features.13.conv.2.weight" in kept and not any(k.startswith("features.14.") for k in kept)
    for key, value in kept.items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize(("cut_after", "message"),
                         [("features.99", "no module 'features.99'"), ("layer3", "no module 'layer3'"),
                          ("features.13.conv.0.0.weight", "cannot cut inside")])
def test_a_cut_that_does_not_exist_is_refused(cut_after, message):
    with pytest.raises(KavanError, match=message):
        feature_shape("mobilenet_v2", 224, cut_after)
