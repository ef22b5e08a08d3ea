"""Evaluation metrics: hand-computed values, the two nMSEs told apart, and agreement with the loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kavan.core.emotions import EMOTIONS, QUADRANTS
from kavan.training.losses import nmse_loss
from kavan.training.metrics import nmse_per_emotion, nmse_per_gif, pearson_per_emotion, quadrant_accuracy


def _one_hot(names: list[str]) -> np.ndarray:
    scores = np.full((len(names), 17), 0.1)
    for row, name in enumerate(names):
        scores[row, EMOTIONS.index(name)] = 0.9
    return scores


def test_quadrant_accuracy_from_the_argmax_emotion():
    target = _one_hot(["happiness", "sadness", "anger", "relief"])
    # happiness→excitement stays pleasure-arousal; sadness→guilt stays misery-sleep; anger→pride and relief→fear miss
    pred = _one_hot(["excitement", "guilt", "pride", "fear"])
    assert quadrant_accuracy(pred, target) == pytest.approx(0.5)


def test_quadrant_accuracy_from_the_classification_head():
    target = _one_hot(["happiness", "sadness", "anger", "relief"])
    logits = np.zeros((4, 4))
    for row, quadrant in enumerate(["pleasure-arousal", "misery-sleep", "misery-arousal", "misery-sleep"]):
        logits[row, QUADRANTS.index(quadrant)] = 1.0
    wrong_intensities = _one_hot(["sadness"] * 4)  # ignored when logits are given
    assert quadrant_accuracy(wrong_intensities, target, logits) == pytest.approx(0.75)


def test_nmse_per_gif_and_per_emotion_by_hand():
    target = np.zeros((2, 17))
    target[0, 0] = 1.0  # GIF 1: Σ (y − ȳ)² = 16/17
    target[1, :] = np.arange(17) / 16  # GIF 2: Σ (y − ȳ)² = 408/256
    pred = target.copy()
    pred[0, 0] = 0.0  # residual² 1 on GIF 1, emotion 0
    per_gif = (1 / (16 / 17) + 0) / 2
    assert nmse_per_gif(pred, target) == pytest.approx(per_gif)
    # Per emotion over the 2 GIFs: emotion 0 has targets (1, 0) → Σ (y − ȳ)² = 0.5 and residual² 1; the other
    # 16 emotions have no residual. Mean over the 17 emotions: (1 / 0.5) / 17.
    assert nmse_per_emotion(pred, target) == pytest.approx(2 / 17)


def test_nmse_per_gif_equals_the_training_loss():
    rng = np.random.default_rng(0)
    target, pred = rng.random((5, 17)), rng.random((5, 17))
    target[2] = 0.4  # a constant target row exercises the shared variance floor
    loss = nmse_loss(torch.tensor(pred), torch.tensor(target)).item()
    assert nmse_per_gif(pred, target) == pytest.approx(loss, rel=1e-9)


def test_predicting_the_mean_gives_per_emotion_nmse_one():
    rng = np.random.default_rng(1)
    target = rng.random((20, 17))
    assert nmse_per_emotion(np.broadcast_to(target.mean(axis=0), target.shape), target) == pytest.approx(1.0)


def test_pearson_per_emotion():
    rng = np.random.default_rng(2)
    target = rng.random((10, 17))
    pred = rng.random((10, 17))
    pred[:, 0] = 2 * target[:, 0] + 1
    pred[:, 1] = -target[:, 1]
    pred[:, 2] = 0.5
    r = pearson_per_emotion(pred, target)
    assert list(r) == list(EMOTIONS)
    assert r["amusement"] == pytest.approx(1.0)
    assert r["anger"] == pytest.approx(-1.0)
    assert math.isnan(r["contempt"])
    assert r["surprise"] == pytest.approx(np.corrcoef(pred[:, 16], target[:, 16])[0, 1])


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(N, 17\)"):
        nmse_per_gif(np.zeros((2, 17)), np.zeros((3, 17)))


def test_one_summary_with_one_set_of_key_names():
    from kavan.training.metrics import summary

    rng = np.random.default_rng(3)
    target = rng.random((12, 17))
    pred = target + 0.1 * rng.standard_normal((12, 17))
    pred[:, 0] = 0.5  # a constant prediction: r undefined for the first emotion, left out of the mean
    out = summary(pred, target)
    assert list(out) == ["n", "accuracy", "nmse_per_gif", "nmse_per_emotion", "pearson_mean", "pearson_per_emotion"]
    assert out["n"] == 12 and out["nmse_per_emotion"] == nmse_per_emotion(pred, target)
    r = pearson_per_emotion(pred, target)
    assert np.isnan(out["pearson_per_emotion"]["amusement"]) and out["pearson_mean"] == pytest.approx(
        np.mean([v for v in r.values() if not np.isnan(v)]))
    logits = np.eye(4)[[0, 1, 2, 3] * 3]
    assert out["accuracy"] == quadrant_accuracy(pred, target) and \
        summary(pred, target, logits)["accuracy"] == quadrant_accuracy(pred, target, logits)
