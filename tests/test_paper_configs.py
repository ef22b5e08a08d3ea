"""Every paper-setting row (the shipped paper/*.yaml: ResNet-50 trained end to end, augmentation on, T = 8, 224 px) trains,
saves, resumes and predicts on the CPU: two optimiser steps of one GIF each (8 frames through ResNet-50, forward and
backward), interrupted after the first and resumed. The paper's full model (MTL + soft attention + HS-LSTM) runs at
its own 224 px; the other rows, which differ from it only after the backbone, run at 112 px (a 4 x 4 feature grid
instead of 7 x 7), a quarter of the backbone's work. Backbone weights ``none`` (random): nothing is downloaded."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

import kavan.training.trainer as trainer
from helpers.training_data import make_synth
from kavan.config import SHIPPED_DIR, load_config
from kavan.experiments.ablation import ROW_LABELS
from kavan.models import KAVAN
from kavan.models.storage import load_model
from kavan.predict import load
from kavan.training.checkpoint import load_checkpoint
from kavan.training.evaluation import load_predictions

PAPER_CONFIGS = sorted((SHIPPED_DIR / "paper").glob("*.yaml"))
# what the test changes: no download, the CPU, 2 training GIFs in batches of 1 (2 steps), a checkpoint per step
OVERRIDES = ("model.weights=none", "train.device=cpu", "train.epochs=1", "train.batch_size=1",
             "train.checkpoint_every=1")
FULL_SIZE_ROW = "mtl-softatt-hslstm"  # the one row run at the paper's 224 px


def test_the_paper_setting_has_every_row():
    assert sorted(p.stem for p in PAPER_CONFIGS) == sorted(ROW_LABELS)
    assert FULL_SIZE_ROW in ROW_LABELS


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_synth(tmp_path_factory.mktemp("paper") / "data", n=4, seed=5)
    ids = sorted(p.stem for p in (root / "gifs").iterdir())
    split = root / "split.json"
    split.write_text(json.dumps({"train": ids[:2], "test": ids[2:]}))
    return root, split


class Interrupted(Exception):
    """Stands for a run killed after its first optimiser step (and its checkpoint)."""


@pytest.mark.slow
@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_paper_row_trains_two_steps_resumes_and_predicts(path, data, tmp_path, monkeypatch):
    root, split = data
    config = load_config(path, OVERRIDES)
    assert config.model.backbone == "resnet50" and not config.model.frozen and not config.model.frozen_until
    assert config.data.augment and config.model.t == 8 and config.model.input_size == 224
    if path.stem != FULL_SIZE_ROW:
        config = load_config(path, (*OVERRIDES, "model.input_size=112"))
    torch.manual_seed(config.train.seed)
    start = KAVAN(config.model).state_dict()  # the weights the run starts from (same seed, same order)

    step = trainer.train_step
    calls = []

    def first_step_then_stop(*args, **kwargs):
        if len(calls) == 1:
            raise Interrupted
        calls.append(1)
        return step(*args, **kwargs)

    run = tmp_path / "run"
    monkeypatch.setattr(trainer, "train_step", first_step_then_stop)
    with pytest.raises(Interrupted):
        trainer.train_split(config, root, run, split_file=split, progress=False)
    assert load_checkpoint(run / "checkpoint.safetensors").progress["step"] == 1
    assert not (run / "model.safetensors").exists()
    monkeypatch.setattr(trainer, "train_step", step)

    result = trainer.train_split(config, root, run, split_file=split, resume=True, progress=False)
    assert result.metrics["steps"] == 2 and result.metrics["n_train"] == 2
    (row,) = list(csv.DictReader(open(run / "log.csv")))
    assert math.isfinite(float(row["train_total"])) and float(row["train_total"]) > 0

    trained = load_model(run / "model.safetensors").model.state_dict()
    assert all(torch.isfinite(value).all() for value in trained.values())
    moved = {name for name in start if not torch.equal(start[name], trained[name])}
    assert any(name.startswith("backbone.body.conv1.") for name in moved)  # the backbone trained, end to end
    assert any(name.startswith("backbone.body.layer4.") for name in moved)
    assert any(name.startswith("heads.") for name in moved)

    # the saved model predicts each test GIF as the run's own test pass did
    predictions = load_predictions(run / "predictions.safetensors")
    predictor = load(run / "model.safetensors", device="cpu")
    for gif_id, intensities in zip(predictions.ids, predictions.intensities):
        result = predictor.predict(root / "gifs" / f"{gif_id}.gif")
        np.testing.assert_allclose(list(result.emotions.values()), intensities, atol=1e-4)
