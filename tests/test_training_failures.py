"""Training in the face of bad input and divergence: a GIF with a corrupt frame is left out and recorded (end to
end as with a feature cache), a diverging loss (not finite, or finite but exploded past trainer.LOSS_LIMIT) stops
the run with a clear error and writes no model, and a config with a non-finite number is refused before anything
is written."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from helpers.gif_bytes import Frame, gif_bytes, graphic_control
from helpers.training_data import tiny_config, tiny_mapping
from kavan.cli import main
from kavan.config import LossConfig
from kavan.models.kavan import KavanOutput
from kavan.training import trainer
from kavan.training.checkpoint import load_checkpoint
from kavan.training.losses import LossTargets, quadrant_targets, total_loss

PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]


def corrupt_gif(bad: int = 6) -> bytes:
    """A 4x4 GIF of ``bad`` + 1 frames whose last frame, ``bad``, holds no pixels (its data is a clear code and
    the end code): the header and every other frame are valid, so only decoding that frame finds it."""
    frame = Frame([[0, 1, 2, 3]] * 4)
    head = gif_bytes(4, 4, [frame] * bad, PALETTE, trailer=False)
    start = len(head) + len(graphic_control(frame.delay_cs)) + 10  # the bad frame's descriptor is 10 bytes
    whole = gif_bytes(4, 4, [frame] * (bad + 1), PALETTE)
    return whole[:start] + b"\x02\x01\x2c\x00\x3b"


def _config(tmp_path, *overrides):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_mapping(*overrides)))
    return path


@pytest.mark.parametrize("cached", [False, True], ids=["end-to-end", "cached"])
def test_a_gif_with_a_corrupt_frame_is_left_out_and_recorded(synth16_copy, tmp_path, cached):
    data = synth16_copy
    victim = sorted(p.stem for p in (data / "gifs").iterdir())[3]
    (data / "gifs" / f"{victim}.gif").write_bytes(corrupt_gif())
    overrides = ["data.augment=false", "train.feature_cache=true"] if cached else ["data.augment=true"]
    run = tmp_path / "run"
    assert main(["train", "--config", str(_config(tmp_path, *overrides)), "--data", str(data), "--out", str(run),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished"
    assert list(info["excluded"]) == [victim]
    assert "frame 6: corrupt image data" in info["excluded"][victim]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 15


def test_a_diverging_run_stops_with_an_error_and_writes_no_model(synth16, tmp_path, capsys):
    run = tmp_path / "run"
    config = _config(tmp_path, "train.lr=1.0e+30", "train.epochs=3", "train.feature_cache=true")
    code = main(["train", "--config", str(config), "--data", str(synth16), "--out", str(run),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    assert code != 0
    err = capsys.readouterr().err
    assert "training diverged at step" in err and "lower train.lr" in err.lower()
    assert not (run / "model.safetensors").exists() and not (run / "metrics.json").exists()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "diverged" and "not finite" in info["error"]
    if (run / "checkpoint.safetensors").exists():  # only the last good step's weights, all finite
        assert all(torch.isfinite(v).all() for v in load_checkpoint(run / "checkpoint.safetensors").model.values())


@pytest.mark.parametrize("lr, diverges", [(1000000.0, True), (0.003, False)], ids=["lr-1e6", "lr-tiny-default"])
def test_a_loss_that_explodes_but_stays_finite_stops_the_run_as_diverged(synth16, tmp_path, capsys, lr, diverges):
    run = tmp_path / "run"
    config = _config(tmp_path, f"train.lr={lr}", "train.epochs=3", "train.feature_cache=true")
    code = main(["train", "--config", str(config), "--data", str(synth16), "--out", str(run),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    info = json.loads((run / "run.json").read_text())
    if not diverges:  # the tiny config's own learning rate: the bound never trips on a healthy run
        assert code == 0 and info["status"] == "finished" and (run / "model.safetensors").is_file()
        return
    assert code != 0
    err = capsys.readouterr().err
    # the first step's loss is the initial weights' (about 4); the second follows an update of size 1e6
    assert "training diverged at step 2 (epoch 1): the loss exploded: ce " in err and "lower train.lr" in err.lower()
    assert not (run / "model.safetensors").exists() and not (run / "metrics.json").exists()
    assert info["status"] == "diverged" and info["error"].startswith("training diverged at step 2 ")
    assert f"above {trainer.LOSS_LIMIT:g}" in info["error"]


def test_the_divergence_bound_is_far_above_what_the_bounded_loss_terms_can_reach():
    """The worst case of every term bounded by construction: constant targets (nMSE's floored denominator),
    predictions as far as they go, every emotion pair ordered against the targets, masks on another cell than the
    heatmaps; then a cross-entropy of confidently wrong logits of 100."""
    b, t, k = 2, 3, 2
    targets = torch.linspace(0, 1, 17).repeat(b, 1)
    constant = torch.zeros(b, 17)
    masks = torch.zeros(b, t, k * k)
    masks[..., 0] = 1
    heatmaps = torch.zeros(b, t, k * k)
    heatmaps[..., 1] = 1
    for y, y_hat in [(constant, torch.ones(b, 17)), (targets, targets.flip(1))]:
        wrong = torch.full((b, 4), -50.0)
        wrong[torch.arange(b), (quadrant_targets(y) + 1) % 4] = 50.0  # sure of another quadrant than the target's
        output = KavanOutput(intensities=y_hat, quadrant_logits=wrong, representation=torch.zeros(b, 1),
                             attention=masks.view(b, t, k, k))
        terms = total_loss(output, LossTargets(y, heatmaps.view(b, t, k, k), torch.ones(b, t, dtype=torch.bool)),
                           LossConfig(rank_margin=1.0))
        values = {key: float(value) for key, value in terms.items()}
        assert values["nmse"] <= 17 / 1e-3 + 1 and values["rank"] <= 2.0 and values["kp"] <= 2.0 + 1e-6
        assert 50 < values["ce"] < 200
        assert max(values.values()) * 50 < trainer.LOSS_LIMIT
        trainer._check_divergence(values)  # passes
    assert values["rank"] > 1.0 and terms["kp"] == pytest.approx(2.0)
    with pytest.raises(trainer.Diverged, match=r"the loss exploded: ce 2e\+06 above 1e\+06"):
        trainer._check_divergence({"total": 2e6, "nmse": 1.0, "ce": 2e6})
    with pytest.raises(trainer.Diverged, match="the loss is not finite"):
        trainer._check_divergence({"total": float("nan"), "nmse": 1.0})


def test_a_run_that_fails_its_batch_size_check_is_marked_failed_in_run_json(synth16, tmp_path, capsys):
    run = tmp_path / "run"
    config = _config(tmp_path, "train.batch_size=64")  # 16 GIFs: fewer training GIFs than one batch
    code = main(["train", "--config", str(config), "--data", str(synth16), "--out", str(run), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "training GIFs are fewer than one batch of 64" in err  # the original error, as it was
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "training GIFs are fewer than one batch of 64" in info["error"]
    assert info["finished"] and not (run / "model.safetensors").exists()


def test_an_interrupted_run_is_marked_failed_and_the_interrupt_goes_on(synth16, tmp_path, monkeypatch):
    def interrupted(run, epoch):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_split(tiny_config("train.feature_cache=true"), synth16, tmp_path / "run",
                            cache_dir=tmp_path / "cache", progress=False)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "failed" and info["error"].startswith("interrupted (KeyboardInterrupt)")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_config_numbers_are_refused_before_a_run_folder_exists(synth16, tmp_path, capsys, value):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_mapping()).replace("lr: 0.003", f"lr: {value}"))
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(synth16), "--out", str(run), "--no-progress"]) != 0
    assert "train.lr must be a finite number" in capsys.readouterr().err
    assert not run.exists()
