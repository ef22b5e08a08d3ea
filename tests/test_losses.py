"""Loss terms against hand-computed values, their guards, and where their gradients go."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kavan.config import AttentionConfig, LossConfig, ModelConfig, TemporalConfig
from kavan.core.emotions import EMOTIONS, QUADRANTS
from kavan.core.errors import KavanError
from kavan.models import KAVAN
from kavan.models.kavan import KavanOutput
from kavan.training.losses import (
    LossTargets,
    TargetStats,
    keypoint_loss,
    nmse_loss,
    nmse_per_emotion_loss,
    quadrant_targets,
    ranking_loss,
    total_loss,
)


def test_nmse_matches_hand_computation():
    one_hot = torch.zeros(17)
    one_hot[0] = 1.0  # mean 1/17, Σ (y − ȳ)² = 1 − 1/17 = 16/17
    ramp = torch.arange(17, dtype=torch.float32) / 16  # Σ (y − ȳ)² = Σ (j − 8)² / 256 = 408 / 256
    target = torch.stack([one_hot, ramp])
    pred = torch.stack([torch.zeros(17), ramp + 0.1])  # residuals: 1 and 17 · 0.01
    expected = ((1 / (16 / 17)) + (0.17 / (408 / 256))) / 2
    assert nmse_loss(pred, target).item() == pytest.approx(expected, rel=1e-6)


def test_nmse_of_constant_targets_is_finite():
    target = torch.full((1, 17), 0.5)
    pred = target + 0.1
    # Σ (y − ȳ)² = 0 is floored at 1e-3: 17 · 0.01 / 1e-3.
    assert nmse_loss(pred, target).item() == pytest.approx(170.0, rel=1e-5)


def test_ranking_loss_matches_hand_computation():
    target = torch.tensor([[0.9, 0.5, 0.1]])
    reversed_pred = torch.tensor([[0.1, 0.5, 0.9]])
    # pairs (0,1), (0,2), (1,2): ŷ_i − ŷ_j = −0.4, −0.8, −0.4
    assert ranking_loss(reversed_pred, target, margin=0.0).item() == pytest.approx(1.6 / 3)
    assert ranking_loss(reversed_pred, target, margin=0.1).item() == pytest.approx(1.9 / 3)
    # a correctly ordered prediction costs nothing without a margin, and only where a gap is below the margin
    assert ranking_loss(target, target, margin=0.0).item() == 0.0
    assert ranking_loss(target, target, margin=0.5).item() == pytest.approx((0.1 + 0.0 + 0.1) / 3)


def test_ranking_loss_averages_over_gifs_with_ordered_pairs_only():
    target = torch.tensor([[0.9, 0.5, 0.1], [0.3, 0.3, 0.3]])  # the second GIF has no pair with y_i > y_j
    pred = torch.tensor([[0.1, 0.5, 0.9], [0.9, 0.0, 0.2]])
    assert ranking_loss(pred, target, margin=0.0).item() == pytest.approx(1.6 / 3)
    assert ranking_loss(pred[1:], target[1:], margin=0.0).item() == 0.0


def test_keypoint_loss_matches_hand_computation_over_frames_with_keypoints():
    masks = torch.tensor([[[[0.25, 0.25], [0.25, 0.25]], [[1.0, 0.0], [0.0, 0.0]], [[0.5, 0.5], [0.0, 0.0]]]])
    heatmaps = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[float("nan")] * 2] * 2, [[0.5, 0.5], [0.0, 0.0]]]])
    has = torch.tensor([[True, False, True]])
    # frame 1: 0.75² + 3 · 0.25² = 0.75; frame 2 has no keypoints; frame 3: 0 → mean 0.375
    masks.requires_grad_(True)
    loss = keypoint_loss(masks, heatmaps, has)
    assert loss.item() == pytest.approx(0.375)
    loss.backward()
    assert torch.isfinite(masks.grad).all()
    assert masks.grad[0, 1].abs().sum() == 0  # the masked frame gets no gradient


def test_keypoint_loss_without_any_keypoints_is_zero_not_nan():
    masks = torch.full((2, 3, 2, 2), 0.25, requires_grad=True)
    heatmaps = torch.full((2, 3, 2, 2), float("nan"))
    loss = keypoint_loss(masks, heatmaps, torch.zeros(2, 3, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(masks.grad, torch.zeros_like(masks))


def test_quadrant_target_is_the_quadrant_of_the_strongest_emotion():
    intensities = torch.full((2, 17), 0.1)
    intensities[0, EMOTIONS.index("sadness")] = 0.9
    intensities[1, EMOTIONS.index("happiness")] = 0.9
    assert quadrant_targets(intensities).tolist() == [QUADRANTS.index("misery-sleep"),
                                                      QUADRANTS.index("pleasure-arousal")]


def _output(batch: int = 2, frames: int = 3, with_head: bool = True, with_attention: bool = True) -> KavanOutput:
    generator = torch.Generator().manual_seed(0)
    return KavanOutput(
        intensities=torch.rand(batch, 17, generator=generator),
        quadrant_logits=torch.randn(batch, 4, generator=generator) if with_head else None,
        attention=torch.softmax(torch.randn(batch, frames, 4, generator=generator), -1).view(batch, frames, 2, 2)
        if with_attention else None,
        representation=torch.zeros(batch, 8),
    )


def test_total_loss_is_the_weighted_sum_of_its_terms():
    output = _output()
    targets = LossTargets(intensities=torch.rand(2, 17, generator=torch.Generator().manual_seed(1)),
                          heatmaps=torch.full((2, 3, 2, 2), 0.25),
                          has_heatmap=torch.tensor([[True, False, True], [False, False, True]]))
    config = LossConfig(lambda_ce=0.5, lambda_rank=2.0, rank_margin=0.05, lambda_kp=3.0)
    terms = total_loss(output, targets, config)
    assert set(terms) == {"nmse", "ce", "rank", "kp", "total"}
    expected_ce = F.cross_entropy(output.quadrant_logits, quadrant_targets(targets.intensities))
    torch.testing.assert_close(terms["ce"], expected_ce)
    torch.testing.assert_close(terms["nmse"], nmse_loss(output.intensities, targets.intensities))
    torch.testing.assert_close(terms["rank"], ranking_loss(output.intensities, targets.intensities, 0.05))
    torch.testing.assert_close(terms["kp"], keypoint_loss(output.attention, targets.heatmaps, targets.has_heatmap))
    by_hand = terms["nmse"] + 0.5 * terms["ce"] + 2.0 * terms["rank"] + 3.0 * terms["kp"]
    torch.testing.assert_close(terms["total"], by_hand)


def test_total_loss_of_the_regression_only_row():
    output = _output(with_head=False, with_attention=False)
    targets = LossTargets(intensities=torch.rand(2, 17))
    terms = total_loss(output, targets, LossConfig(lambda_ce=0.0, lambda_rank=0.0, lambda_kp=0.0))
    assert set(terms) == {"nmse", "rank", "total"}
    torch.testing.assert_close(terms["total"], terms["nmse"])


def test_total_loss_refuses_weights_on_terms_it_cannot_compute():
    with pytest.raises(KavanError, match="lambda_ce"):
        total_loss(_output(with_head=False), LossTargets(torch.rand(2, 17)), LossConfig(lambda_kp=0.0))
    with pytest.raises(KavanError, match="lambda_kp"):
        total_loss(_output(), LossTargets(torch.rand(2, 17)), LossConfig(lambda_kp=1.0))


def test_keypoint_loss_alone_trains_the_attention_and_not_the_regression_head():
    torch.manual_seed(0)
    config = ModelConfig(backbone="resnet18", input_size=64, t=4, dropout=0.0, attention=AttentionConfig(size=16),
                         temporal=TemporalConfig(hidden=8, segments=2, node_length=2))
    model = KAVAN(config)
    output = model(torch.rand(2, 4, 3, 64, 64))
    heatmaps = torch.zeros(2, 4, 2, 2)
    heatmaps[..., 0, 0] = 1.0
    targets = LossTargets(torch.rand(2, 17), heatmaps, torch.ones(2, 4, dtype=torch.bool))
    only_kp = LossConfig(lambda_ce=0.0, lambda_rank=0.0, lambda_kp=1.0)
    terms = total_loss(output, targets, only_kp)
    (terms["total"] - terms["nmse"]).backward()  # λ_kp · L_kp alone
    for name, parameter in model.attention.named_parameters():
        if name != "alpha":  # α scales the refined feature, which the masks do not depend on
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    for parameter in model.heads.parameters():
        assert parameter.grad is None or parameter.grad.abs().sum() == 0


def test_nmse_per_emotion_loss_matches_hand_computation():
    # two GIFs, two of the 17 emotions off by known amounts, the rest exact
    target = torch.full((2, 17), 0.5)
    pred = target.clone()
    pred[0, 0], pred[1, 0] = 0.6, 0.3          # emotion 0: squared errors 0.01 and 0.04 → mean 0.025
    pred[1, 5] = 0.8                           # emotion 5: 0 and 0.09 → mean 0.045
    variance = torch.full((17,), 0.05)
    variance[5] = 0.09
    expected = (0.025 / 0.05 + 0.045 / 0.09) / 17
    assert nmse_per_emotion_loss(pred, target, variance).item() == pytest.approx(expected)
    # a zero-variance emotion is floored, not divided by zero
    assert torch.isfinite(nmse_per_emotion_loss(pred, target, torch.zeros(17)))


def test_nmse_per_emotion_loss_is_the_table_2_metric_in_expectation():
    # predicting the training mean on the training GIFs themselves scores exactly 1 with the population variance
    y = torch.rand(64, 17, generator=torch.Generator().manual_seed(3))
    pred = y.mean(dim=0, keepdim=True).expand_as(y)
    assert nmse_per_emotion_loss(pred, y, y.var(dim=0, unbiased=False)).item() == pytest.approx(1.0, abs=1e-5)


def test_target_stats_of_the_training_split():
    y = np.array([[0.1, 0.3, 0.5] + [0.2] * 14, [0.3, 0.3, 0.3] + [0.2] * 14, [0.5, 0.0, 0.1] + [0.2] * 14])
    stats = TargetStats.of(y)
    # emotion 0: values 0.1, 0.3, 0.5 → population variance 0.08 / 3
    assert stats.emotion_variance[0].item() == pytest.approx(0.08 / 3)
    assert stats.emotion_variance[5].item() == pytest.approx(0.0, abs=1e-12)


def test_regression_term_follows_the_config():
    output = _output(with_head=False, with_attention=False)
    y = torch.rand(2, 17, generator=torch.Generator().manual_seed(2))
    stats = TargetStats(emotion_variance=torch.full((17,), 0.04))
    off = LossConfig(lambda_ce=0, lambda_kp=0)
    per_gif = total_loss(output, LossTargets(y), dataclasses.replace(off, regression="nmse_per_gif"))
    torch.testing.assert_close(per_gif["nmse"], nmse_loss(output.intensities, y))
    per_emotion = total_loss(output, LossTargets(y, stats=stats), dataclasses.replace(off, regression="nmse_per_emotion"))
    torch.testing.assert_close(per_emotion["nmse"], nmse_per_emotion_loss(output.intensities, y, stats.emotion_variance))
    with pytest.raises(KavanError, match="target statistics"):
        total_loss(output, LossTargets(y), dataclasses.replace(off, regression="nmse_per_emotion"))
    with pytest.raises(KavanError, match="regression"):
        LossConfig(regression="mse")

