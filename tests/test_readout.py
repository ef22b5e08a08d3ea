"""The ridge read-out (train.readout: ridge): the regression head refitted in closed form on the training GIFs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.training_data import tiny_config
from kavan.core.errors import KavanError
from kavan.models import KAVAN
from kavan.models.storage import load_model
from kavan.training.evaluation import load_predictions
from kavan.training.readout import EPSILON, fit_ridge_readout, head_inputs, logit
from kavan.training.trainer import train_split


def batches(model: KAVAN, n: int, targets: np.ndarray | None = None, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Batches of 8 GIFs of random cached features shaped for ``model`` (what a FeatureClipDataset loader yields)."""
    generator = torch.Generator().manual_seed(seed)
    cfg = model.config
    features = torch.randn(n, cfg.t, model.cached_channels, model.cached_cells, model.cached_cells,
                           generator=generator)
    y = torch.full((n, 17), 0.5) if targets is None else torch.as_tensor(targets, dtype=torch.float32)
    return [{"features": features[i:i + 8], "intensities": y[i:i + 8]} for i in range(0, n, 8)]


def tiny_model(seed: int = 0) -> KAVAN:
    torch.manual_seed(seed)
    return KAVAN(tiny_config().model).eval()


def predictions(model: KAVAN, loader) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([model(cached=b["features"]).intensities.numpy() for b in loader])


def test_logit_clips_the_targets_into_the_open_interval():
    assert logit(np.array([0.5]))[0] == 0.0
    assert logit(np.array([0.0]))[0] == pytest.approx(np.log(EPSILON / (1 - EPSILON)))
    assert logit(np.array([1.0]))[0] == pytest.approx(-np.log(EPSILON / (1 - EPSILON)))


def test_targets_that_are_a_sigmoid_of_the_head_inputs_are_recovered_exactly():
    model = tiny_model()
    u, _ = head_inputs(model, batches(model, 96), torch.device("cpu"))
    assert u.shape == (96, model.heads.regressor.in_features)
    rng = np.random.default_rng(1)
    true_w, true_b = rng.normal(0, 0.5, (u.shape[1], 17)), rng.normal(0, 0.3, 17)
    y = 1 / (1 + np.exp(-(u @ true_w + true_b)))
    loader = batches(model, 96, y)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    info = fit_ridge_readout(model, loader, torch.device("cpu"))
    assert info["n"] == 96 and info["kind"] == "ridge"
    assert info["lambda_per_gif"] < 1e-4  # noiseless targets: GCV takes the smallest penalty of its grid
    np.testing.assert_allclose(predictions(model, loader), y, atol=2e-3)
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == ["heads.regressor.weight", "heads.regressor.bias"]  # nothing but the head's last layer


def test_targets_unrelated_to_the_inputs_shrink_the_head_to_the_training_mean():
    model = tiny_model()
    rng = np.random.default_rng(2)
    y = rng.uniform(0.3, 0.7, (64, 17))
    loader = batches(model, 64, y)
    info = fit_ridge_readout(model, loader, torch.device("cpu"))
    assert info["lambda_per_gif"] >= 1.0  # noise: GCV chooses a strong penalty
    mean = 1 / (1 + np.exp(-logit(y).mean(axis=0)))
    fresh = batches(model, 32, seed=5)  # other GIFs: the prediction stays near the mean whatever they show
    assert np.abs(predictions(model, fresh) - mean).max() < 0.02


def test_too_few_gifs_are_refused():
    model = tiny_model()
    with pytest.raises(KavanError, match="at least 3"):
        fit_ridge_readout(model, batches(model, 2, np.full((2, 17), 0.5)), torch.device("cpu"))


def test_a_run_with_the_ridge_readout_tests_and_saves_the_refitted_head(synth24, tmp_path):
    config = tiny_config("train.readout=ridge", "train.epochs=1", "train.feature_cache=true",
                         "data.val_fraction=0.2", "train.select=best_val")
    result = train_split(config, synth24, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False)
    readout = result.metrics["readout"]
    assert readout["n"] == result.metrics["n_train"] + result.metrics["n_val"]  # the hold-out joins the fit
    saved = load_model(tmp_path / "run" / "model.safetensors")
    tested = load_predictions(tmp_path / "run" / "predictions.safetensors")
    plain = train_split(tiny_config("train.epochs=1", "train.feature_cache=true", "data.val_fraction=0.2",
                                    "train.select=best_val"),
                        synth24, tmp_path / "plain", cache_dir=tmp_path / "cache", progress=False)
    plain_model = load_model(tmp_path / "plain" / "model.safetensors")
    # the same training, so every weight but the refitted head's last layer is the same
    for name, value in saved.model.state_dict().items():
        same = torch.equal(value, plain_model.model.state_dict()[name])
        assert same == (not name.startswith("heads.regressor.")), name
    assert "readout" not in plain.metrics
    # the head as gradient descent left it is tested too, and scores as the run without the read-out
    assert readout["test_before"]["nmse_per_emotion"] == pytest.approx(plain.metrics["test"]["nmse_per_emotion"])
    assert np.isfinite(tested.intensities).all()
