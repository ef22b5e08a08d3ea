"""The assembled KAVAN: both input paths, outputs, heads, parameter counts and a full ResNet-50 pass."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from kavan.config import AttentionConfig, ModelConfig, TemporalConfig
from kavan.core.errors import KavanError
from kavan.models import KAVAN, parameter_counts

SMALL = ModelConfig(backbone="resnet18", input_size=64, t=4, dropout=0.0,
                    attention=AttentionConfig(size=16), temporal=TemporalConfig(hidden=8, segments=2, node_length=2))


def _frames(batch: int = 2, t: int = 4, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["lstm", "hslstm"])
def test_raw_frames_and_cached_features_agree(kind):
    torch.manual_seed(0)
    config = dataclasses.replace(SMALL, temporal=dataclasses.replace(SMALL.temporal, kind=kind))
    model = KAVAN(config).eval()
    frames = _frames()
    with torch.no_grad():
        features = model.encode_frames(frames)
        assert features.shape == (2, 4, 512, 2, 2)
        direct, cached = model(frames), model(features=features)
    for name in ("intensities", "quadrant_logits", "attention", "representation"):
        torch.testing.assert_close(getattr(cached, name), getattr(direct, name), rtol=0, atol=1e-5)


def test_outputs_of_the_full_model():
    torch.manual_seed(0)
    model = KAVAN(SMALL).eval()
    with torch.no_grad():
        out = model(_frames())
    assert out.intensities.shape == (2, 17)
    assert ((out.intensities > 0) & (out.intensities < 1)).all()
    assert out.quadrant_logits.shape == (2, 4)
    assert out.attention.shape == (2, 4, 2, 2)
    torch.testing.assert_close(out.attention.sum(dim=(2, 3)), torch.ones(2, 4))
    assert out.representation.shape == (2, 2 * 8)  # S·d


def test_ablations_drop_attention_and_the_quadrant_head():
    config = dataclasses.replace(SMALL, attention=AttentionConfig(enabled=False), multitask=False)
    model = KAVAN(config).eval()
    out = model(_frames())
    assert model.attention is None and out.attention is None and out.quadrant_logits is None
    assert model.heads.regressor.in_features == 16  # r only, no quadrant prior


def test_regression_head_reads_the_softmaxed_quadrant_logits():
    torch.manual_seed(0)
    model = KAVAN(SMALL).eval()
    frames = _frames()
    with torch.no_grad():
        before = model(frames)
        model.heads.classifier.bias.add_(torch.tensor([5.0, 0.0, 0.0, 0.0]))
        after = model(frames)
        torch.testing.assert_close(after.representation, before.representation)
        assert not torch.allclose(after.intensities, before.intensities)
        prior = torch.softmax(after.quadrant_logits, dim=1)
        by_hand = torch.sigmoid(model.heads.regressor(torch.cat([after.representation, prior], dim=1)))
        torch.testing.assert_close(after.intensities, by_hand)


def test_bad_inputs_are_kavan_errors():
    model = KAVAN(SMALL)
    with pytest.raises(KavanError, match="exactly one"):
        model()
    with pytest.raises(KavanError, match="exactly one"):
        model(_frames(), features=torch.zeros(2, 4, 512, 2, 2))
    with pytest.raises(KavanError, match=r"\(B, T, 3, 64, 64\)"):
        model(_frames(size=96))
    with pytest.raises(KavanError, match="features must have shape"):
        model(features=torch.zeros(2, 6, 512, 2, 2))


def test_frozen_backbone_counts_as_untrainable():
    counts = parameter_counts(KAVAN(dataclasses.replace(SMALL, frozen=True)))
    assert counts["backbone"] == 11_176_512  # resnet18 without fc (11,689,512 − 512·1000 − 1000)
    assert counts["trainable"] == counts["total"] - counts["backbone"]
    assert counts["total"] == counts["backbone"] + counts["attention"] + counts["temporal"] + counts["heads"]
    # attention: W_h (d×k) + W_x (C×k) + w (k) + α
    assert counts["attention"] == 8 * 16 + 512 * 16 + 16 + 1


@pytest.mark.slow
def test_full_resnet50_kavan_runs_forward_and_backward_on_cpu():
    torch.manual_seed(0)
    model = KAVAN(ModelConfig()).train()  # the paper's architecture, project-default sizes, weights none
    out = model(torch.rand(2, 8, 3, 224, 224))
    assert out.intensities.shape == (2, 17) and out.attention.shape == (2, 8, 7, 7)
    assert out.representation.shape == (2, 1024)
    (out.intensities.sum() + out.quadrant_logits.sum()).backward()
    for name in ("body.conv1.weight", "body.layer4.2.conv3.weight"):
        grad = model.backbone.get_parameter(name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert model.attention.w_x.weight.grad.abs().sum() > 0
    assert model.temporal.coarse.weight_ih_l0.grad.abs().sum() > 0
