"""Tiny SynthGIF folders and tiny configs for the training tests: seconds, not minutes, on two CPU cores."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kavan.config import KavanConfig, apply_overrides, from_mapping
from kavan.synth import generate_dataset, resolve

# MobileNetV2 with the offline ImageNet weights at 64x64 (K = 2, C = 1280), T = 4, HS-LSTM 2 x 2, hidden 8.
TINY: dict[str, Any] = {
    "model": {
        "backbone": "mobilenet_v2", "weights": "offline-mobilenet-v2", "frozen": True, "input_size": 64, "t": 4,
        "attention": {"enabled": True, "size": 8},
        "temporal": {"kind": "hslstm", "hidden": 8, "tiers": 2, "segments": 2, "node_length": 2},
        "multitask": True, "dropout": 0.0,
    },
    "data": {"augment": False, "cache_dtype": "float32"},
    "train": {"epochs": 2, "batch_size": 4, "lr": 0.003, "workers": 0, "checkpoint_every": 0, "device": "cpu",
              "warmup_epochs": 0.0},
}


def tiny_mapping(*overrides: str) -> dict[str, Any]:
    """The tiny config as a mapping (for YAML files), with ``section.key=value`` overrides."""
    return apply_overrides(copy.deepcopy(TINY), overrides)


def tiny_config(*overrides: str) -> KavanConfig:
    """The tiny config, with ``section.key=value`` overrides."""
    return from_mapping(KavanConfig, tiny_mapping(*overrides))


def make_synth(out: Path, n: int = 24, seed: int = 1) -> Path:
    """A SynthGIF folder of ``n`` 64x64 GIFs of 8 frames (one worker: deterministic and light)."""
    cfg = resolve("default", ["n_frames=8", "width=64", "height=64"])
    generate_dataset(out, n, seed, cfg, workers=1, progress=False)
    return out
