"""A run killed with SIGKILL mid-epoch and resumed ends exactly where the uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from helpers.training_data import tiny_mapping
from kavan.cli import main
from kavan.training.checkpoint import load_checkpoint

# End to end (frozen backbone, frames decoded every step) with augmentation and dropout, so that the frame and
# crop draws, the flips and the dropout masks all have to come back exactly; 4 steps per epoch, a checkpoint
# every 3 steps: steps 3, 6 (epoch 2, batch 2), 9, 15 are mid-epoch.
OVERRIDES = ("train.epochs=4", "train.checkpoint_every=3", "data.augment=true", "model.dropout=0.3",
             "train.warmup_epochs=1.0", "train.schedule=cosine")


@pytest.mark.subprocess
@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_reaches_the_same_result(synth24, tmp_path):
    data = synth24
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_mapping(*OVERRIDES)))
    args = ["train", "--config", str(config), "--data", str(data), "--no-progress"]

    assert main([*args, "--out", str(tmp_path / "whole")]) == 0

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "kavan", *args, "--out", str(killed)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "checkpoint: epoch 2, batch 2, step 6" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(lines)
    assert not (killed / "metrics.json").exists()
    progress = load_checkpoint(killed / "checkpoint.safetensors").progress
    assert progress["epoch"] == 1 and 2 <= progress["batch"] < 4, progress  # mid-epoch

    assert main([*args, "--out", str(killed), "--resume"]) == 0
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    resumed = json.loads((killed / "metrics.json").read_text())
    assert resumed["test"] == whole["test"]
    assert resumed["steps"] == whole["steps"] == 16
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in whole["history"]]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed["history"]] == strip
    a, b = load_file(tmp_path / "whole" / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (killed / "log.csv").read_text().count("\n") == 5  # header + 4 epochs, none doubled by the resume
