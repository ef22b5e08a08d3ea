"""Which values of a config the paper states, and which are project defaults.

Yang, Zhang & Luo (ICME 2019) state the architecture: ResNet-50 with ImageNet weights, trained end to end, on
T = 8 frames sampled as in TSN at 224 × 224, and a two-tier HS-LSTM over 2 segments of 4 frames; the
evaluation protocol, 5 random 80/20 splits; and, in Tables 1 and 2, the rows (facial attention or not, LSTM or
HS-LSTM, multi-task or not), which the row configs switch on and off. The paper gives no training
hyper-parameters: epochs, learning rate, batch size, optimiser, schedule, warm-up, weight decay and gradient
clipping, dropout, the loss weights and ranking margin, the attention size k and hidden size d, augmentation and
the heatmap numbers were lost or never given. Every such value in a config is a project default, chosen and
justified in docs/model.md (the network and losses) and docs/training.md (data and training).

``config_sources`` gives this split for one config; ``kavan describe`` prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kavan.config import KavanConfig

PAPER = "Yang, Zhang & Luo, ICME 2019"


def _imagenet(value: str) -> bool | None:
    if value.startswith("torchvision") or value == "offline-mobilenet-v2":
        return True
    return False if value == "none" else None  # a local checkpoint: the config cannot tell what it holds


# dotted key → (what the paper states, whether a config value follows it; None: cannot tell)
STATED_BY_PAPER: dict[str, tuple[str, Callable[[Any], bool | None]]] = {
    "model.backbone": ("ResNet-50", lambda v: v == "resnet50"),
    "model.weights": ("ImageNet pre-trained weights", _imagenet),
    "model.frozen": ("backbone trained end to end", lambda v: v is False),
    "model.cut_after": ("the backbone's last feature map", lambda v: v == ""),
    "model.input_size": ("224 x 224 input", lambda v: v == 224),
    "model.t": ("T = 8 frames, sampled as in TSN", lambda v: v == 8),
    "model.temporal.tiers": ("HS-LSTM with 2 tiers", lambda v: v == 2),
    "model.temporal.segments": ("HS-LSTM with 2 segments", lambda v: v == 2),
    "model.temporal.node_length": ("HS-LSTM segments of 4 frames", lambda v: v == 4),
    "data.n_splits": ("5 random splits", lambda v: v == 5),
    "data.train_fraction": ("80/20 splits", lambda v: v == 0.8),
    "data.split_mode": ("random splits", lambda v: v == "random"),
}

# The switches that make a config one row of the paper's Tables 1 and 2. Which loss terms a row uses follows
# from them (λ_kp > 0 with attention, λ_ce and λ_rank > 0 in the multi-task rows); the λ values do not.
PAPER_ROW_SWITCHES = ("model.attention.enabled", "model.temporal.kind", "model.multitask")

TRAINING_NOTE = ("project defaults: the paper gives no training hyper-parameters (epochs, learning rate, batch size, "
                 "optimiser, schedule, warm-up, weight decay, gradient clipping); every train.* value, and the data "
                 "section's augmentation, heatmap and cache settings, is the project's choice (docs/training.md)")
MODEL_NOTE = ("the paper states the architecture (ResNet-50 with ImageNet weights trained end to end, T = 8 TSN "
              "frames, 224 px input, 2-tier HS-LSTM with 2 segments of 4 frames) but not dropout, the loss weights "
              "and margin, the attention size k or the hidden size d: those are project defaults (docs/model.md)")


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model.temporal.kind": "hslstm", ...} from a nested config dict."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_sources(config: KavanConfig) -> dict[str, Any]:
    """Where each value of ``config`` comes from: the paper (with whether this config follows it), the paper's
    row definitions, or project defaults."""
    values = flatten(config.to_dict())
    stated = {key: {"paper": text, "config": values[key], "follows_paper": follows(values[key])}
              for key, (text, follows) in STATED_BY_PAPER.items()}
    rows = {key: values[key] for key in PAPER_ROW_SWITCHES}
    return {
        "paper": PAPER,
        "stated_by_paper": stated,
        "paper_row_switches": rows,
        "project_defaults": sorted(set(values) - set(stated) - set(rows)),
        "model": MODEL_NOTE,
        "training": TRAINING_NOTE,
    }
