"""A tiny trained-model file for the prediction and serving tests: offline, built in a second, no training.

MobileNetV2 with its ImageNet weights (the offline package that make test installs) at 128 x 128 gives a 4 x 4
grid of 1280 channels that differ from cell to cell (a randomly initialised trunk saturates to the same value in
every cell, which would make every attention mask uniform); T = 4 frames, HS-LSTM 2 x 2, hidden 8, attention
size 8, randomly initialised. Its predictions mean nothing; the tests check the plumbing and the arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from helpers.training_data import TINY
from kavan.config import KavanConfig, from_mapping
from kavan.models import KAVAN
from kavan.models.storage import save_model

# The training tests' tiny model at 128 x 128 instead of 64 x 64.
TINY_PREDICT: dict[str, Any] = {"model": {**TINY["model"], "input_size": 128}}
CELLS = 4  # K for mobilenet_v2 at 128 x 128

SYNTH_RECORD: dict[str, Any] = {
    "dataset": {"name": "synthgif", "path": "/data/synthgif", "n_gifs": 24, "fingerprint": "ab" * 32,
                "synthgif": {"format": "kavan-synthgif/1", "generator_version": "1", "seed": 1, "n": 24,
                             "preset": "default", "overrides": []}},
    "split": {"index": 0}, "config_hash": "cd" * 32,
}


def tiny_predict_config(**model: Any) -> KavanConfig:
    mapping = {"model": {**TINY_PREDICT["model"], **model}}
    if not mapping["model"]["attention"]["enabled"]:
        mapping["loss"] = {"lambda_kp": 0.0}
    if not mapping["model"]["multitask"]:
        mapping.setdefault("loss", {})["lambda_ce"] = 0.0
    return from_mapping(KavanConfig, mapping)


def write_tiny_model(path: Path, trained_on: dict[str, Any] | None = None, seed: int = 0, **model: Any) -> Path:
    """Save a randomly initialised tiny KAVAN as a model file (kavan.models.storage.save_model)."""
    config = tiny_predict_config(**model)
    torch.manual_seed(seed)
    save_model(path, KAVAN(config.model), config, SYNTH_RECORD if trained_on is None else trained_on)
    return path


class _RedCells(torch.nn.Module):
    """A stand-in backbone: each of the K x K cells is the mean of the red channel over its part of the frame."""

    def __init__(self, cells: int, channels: int):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(cells)
        self.channels = channels

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.pool(frames[:, :1]).expand(-1, self.channels, -1, -1)


def rig_bright_attention(predictor) -> None:
    """Make a loaded tiny model attend to the brightest cell: e = 10·tanh(5·red) (W_h = 0), so a white cell
    among black ones gets nearly all the mask. Alignment tests put a white block at a known cell."""
    model = predictor.model
    model.backbone.body = _RedCells(CELLS, model.channels)
    attention = model.attention
    with torch.no_grad():
        attention.w_h.weight.zero_()
        attention.w_x.weight.zero_()
        attention.w_x.weight[0, 0] = 5.0
        attention.w.weight.zero_()
        attention.w.weight[0, 0] = 10.0
