"""Checkpoints and model files: safetensors + JSON round trips, and files that would unpickle are refused."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from helpers.training_data import tiny_config
from kavan.core.errors import KavanError
from kavan.models import KAVAN
from kavan.models.storage import load_model, save_model
from kavan.training.checkpoint import load_checkpoint, restore_rng, save_checkpoint


def _trained(config):
    """A tiny model after two Adam steps, with its optimiser and schedule."""
    torch.manual_seed(0)
    model = KAVAN(config.model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    for _ in range(2):
        out = model(features=torch.randn(2, 4, 1280, 2, 2))
        out.intensities.sum().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler


def test_checkpoint_round_trip_restores_everything(tmp_path):
    config = tiny_config()
    model, optimizer, scheduler = _trained(config)
    progress = {"epoch": 1, "batch": 3, "step": 7, "sums": {"total": 1.25}, "count": 3, "history": [{"epoch": 1}]}
    rng = torch.get_rng_state()
    save_checkpoint(tmp_path / "c.safetensors", config=config, model=model, optimizer=optimizer,
                    scheduler=scheduler, scaler=None, progress=progress)
    expected_draw = torch.rand(3)
    checkpoint = load_checkpoint(tmp_path / "c.safetensors")
    assert checkpoint.config == config and checkpoint.progress == progress and checkpoint.scaler is None

    torch.manual_seed(123)
    fresh = KAVAN(config.model)
    fresh.load_state_dict(checkpoint.model)
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    new_optimizer = torch.optim.AdamW([p for p in fresh.parameters() if p.requires_grad], lr=0.01)
    new_scheduler = torch.optim.lr_scheduler.LambdaLR(new_optimizer, lambda step: 1.0 / (step + 1))
    new_optimizer.load_state_dict(checkpoint.optimizer)  # the trainer's order: build both, then load both
    new_scheduler.load_state_dict(checkpoint.scheduler)
    for (_, a), (_, b) in zip(sorted(optimizer.state_dict()["state"].items()),
                              sorted(new_optimizer.state_dict()["state"].items())):
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    assert new_optimizer.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    assert new_scheduler.last_epoch == 2 and new_optimizer.param_groups[0]["lr"] == pytest.approx(0.01 / 3)
    assert torch.equal(checkpoint.rng["torch"], rng)
    restore_rng(checkpoint.rng)
    assert torch.equal(torch.rand(3), expected_draw)


def test_model_file_round_trip_without_backbone_weights_file(tmp_path):
    config = tiny_config()
    model, _, _ = _trained(config)
    trained_on = {"dataset": {"name": "synth", "fingerprint": "ab" * 32, "synthgif": {"seed": 1}}, "split": 0}
    save_model(tmp_path / "m.safetensors", model, config, trained_on)
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config == config and loaded.trained_on == trained_on and not loaded.model.training
    features = torch.randn(3, 4, 1280, 2, 2)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(features=features).intensities, model(features=features).intensities)


class _Payload:
    """Unpickling this object runs code: it would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("kind", ["torch.save", "pickle"])
def test_pickle_files_are_refused_without_running_them(tmp_path, kind):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "model.safetensors"
    if kind == "torch.save":
        torch.save({"weights": torch.zeros(2), "evil": _Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Payload(marker)))
    for loader in (load_model, load_checkpoint):
        with pytest.raises(KavanError, match="pickle / torch.save file") as err:
            loader(path)
        assert str(path) in str(err.value)
    assert not os.path.exists(marker)


def test_tampered_and_foreign_files_are_refused(tmp_path):
    config = tiny_config()
    model, optimizer, scheduler = _trained(config)
    path = tmp_path / "m.safetensors"
    save_model(path, model, config, {})
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])  # truncated
    with pytest.raises(KavanError, match="not a safetensors file"):
        load_model(path)
    save_file({"x": torch.zeros(1)}, path, metadata={"format": "something-else"})
    with pytest.raises(KavanError, match="expected a kavan-model/1 file"):
        load_model(path)
    save_checkpoint(path, config=config, model=model, optimizer=optimizer, scheduler=scheduler, scaler=None,
                    progress={})
    with pytest.raises(KavanError, match="expected a kavan-model/1 file, found format 'kavan-checkpoint/1'"):
        load_model(path)
    state = {k: v for k, v in model.state_dict().items() if "heads" not in k}
    save_file(state, path, metadata={"format": "kavan-model/1", "config": '{"model": {"input_size": 64, "t": 4, '
                                     '"temporal": {"segments": 2, "node_length": 2}}}', "trained_on": "{}"})
    with pytest.raises(KavanError, match="weights do not fit the model"):
        load_model(path)


def test_the_typed_progress_reads_an_old_record_and_writes_the_same_keys_in_the_same_order():
    from kavan.training.progress import BestEpoch, TrainProgress

    old = {"epoch": 2, "batch": 3, "step": 11, "sums": {"total": 4.5}, "count": 3, "seconds": 1.25,
           "history": [{"epoch": 1, "train_total": 1.5}, {"epoch": 2, "train_total": 1.2}],
           "best": {"epoch": 2, "value": 0.75}}
    progress = TrainProgress.from_dict(old)
    assert progress.best == BestEpoch(2, 0.75) and progress.step == 11
    assert json.dumps(progress.to_dict()) == json.dumps(old)  # the checkpoint's bytes as before
    assert TrainProgress.from_dict({"epoch": 0, "batch": 0, "step": 0}).to_dict() == TrainProgress().to_dict()
    assert not progress.keep_if_best(3, 0.8) and progress.best.epoch == 2
    assert progress.keep_if_best(3, 0.7) and progress.best == BestEpoch(3, 0.7)
    progress.close_epoch({"epoch": 3, "train_total": 1.0})
    assert (progress.epoch, progress.batch, progress.sums, progress.count, len(progress.history)) == (3, 0, {}, 0, 3)
