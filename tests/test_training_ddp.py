"""torchrun with 2 CPU processes (gloo) trains exactly like one process on the same global batches."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from helpers.training_data import make_synth, tiny_mapping
from kavan.cli import main

# Global batch 4 = 2 GIFs per process; keypoint loss on, so the per-rank weighting of L_kp is exercised
# (the ranks see different numbers of frames with keypoints). No dropout: masks are drawn per process.
OVERRIDES = ("train.epochs=1", "train.batch_size=4", "model.dropout=0.0")


@pytest.mark.subprocess
@pytest.mark.slow
def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
    data = make_synth(tmp_path / "data", n=20)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_mapping(*OVERRIDES)))
    args = ["train", "--config", str(config), "--data", str(data), "--no-progress"]

    ddp = tmp_path / "ddp"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "kavan", *args, "--out", str(ddp)], capture_output=True, text=True, timeout=600,
                            env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert main([*args, "--out", str(tmp_path / "single")]) == 0

    info = json.loads((ddp / "run.json").read_text())
    assert info["world_size"] == 2
    hashes = info["ddp"]["rank_weights_sha256"]
    assert len(hashes) == 2 and hashes[0] == hashes[1]  # both ranks ended with identical weights

    single_log = list(csv.DictReader(open(tmp_path / "single" / "log.csv")))
    ddp_log = list(csv.DictReader(open(ddp / "log.csv")))
    assert len(single_log) == len(ddp_log) == 1 and ddp_log[-1]["step"] == single_log[-1]["step"] == "4"
    for one, two in zip(single_log, ddp_log):
        for key in ("train_total", "train_nmse", "train_rank", "train_ce", "train_kp"):
            assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-4), key
    # Summation order differs (two halves, then an all-reduce), and Adam turns a gradient that is zero up to
    # rounding into a full step of either sign; so compare the weights element by element with that in mind.
    a, b = load_file(tmp_path / "single" / "model.safetensors"), load_file(ddp / "model.safetensors")
    trainable = [key for key in a if not key.startswith("backbone.")]
    assert all(torch.equal(a[key], b[key]) for key in a if key.startswith("backbone."))
    total = sum(a[key].numel() for key in trainable)
    off = sum(int(((a[key] - b[key]).abs() > 1e-5).sum()) for key in trainable)
    assert off < 0.01 * total, (off, total)
    assert max(float((a[key] - b[key]).abs().max()) for key in trainable) < 4 * 0.003  # 4 steps of lr
    single_test = json.loads((tmp_path / "single" / "metrics.json").read_text())["test"]
    ddp_test = json.loads((ddp / "metrics.json").read_text())["test"]
    assert ddp_test["nmse_per_gif"] == pytest.approx(single_test["nmse_per_gif"], rel=1e-4)
