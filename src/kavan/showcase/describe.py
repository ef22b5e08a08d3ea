"""What a config builds: the resolved config, parameter counts per module, which modules train, the backbone's
feature shape, and which values the paper states (kavan.showcase.config_sources); for a model file (or a
training checkpoint), the same for its config plus where its weights come from.

The model is built with backbone weights ``none`` whatever the config says, so describing a config never
downloads or reads a weights file; the counts do not depend on the weights. A model file is read through its
header only (its metadata: config and training record), never its tensors. ``kavan describe`` prints this report.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from kavan.config import KavanConfig, from_mapping, load_config
from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_header, sha256_of
from kavan.models import KAVAN, parameter_counts, trainable_modules
from kavan.models.storage import MODEL_FORMAT
from kavan.showcase.config_sources import config_sources
from kavan.training.checkpoint import CHECKPOINT_FORMAT
from kavan.training.init_weights import lineage, lineage_text


def describe(config_path: str | os.PathLike[str]) -> dict:
    """The report `kavan describe --config` prints, for the experiment config at ``config_path``."""
    return describe_config(load_config(config_path))


def describe_config(config: KavanConfig) -> dict[str, Any]:
    """The report of a resolved config (see the module docstring)."""
    model = KAVAN(dataclasses.replace(config.model, weights="none"))
    return {
        "config": config.to_dict(),
        "parameters": parameter_counts(model),
        "trains": trainable_modules(model),
        "backbone_lr": (config.train.lr * config.train.backbone_lr_scale
                        if any(p.requires_grad for p in model.backbone.parameters()) else None),
        "feature_shape": {"channels": model.channels, "cells": model.cells},
        "cached_shape": ({"channels": model.cached_channels, "cells": model.cached_cells}
                         if config.train.feature_cache else None),
        "sources": config_sources(config),
        "note": "parameters counted on a model built with backbone weights 'none'; nothing was downloaded",
    }


def describe_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The report `kavan describe --model` prints: the file (path, format, SHA-256), its config's report, its
    ``trained_on`` record, and ``weights_from``: the chain of fine-tunings its weights went through, newest first
    (kavan.training.init_weights.lineage), with ``weights_summary``, the same in one sentence."""
    path = Path(path)
    header = read_header(path)
    found = header.metadata.get("format")
    if found not in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        raise KavanError(f"expected a kavan model file ({MODEL_FORMAT}) or training checkpoint "
                         f"({CHECKPOINT_FORMAT}), found format {found!r}", path)
    try:
        config = from_mapping(KavanConfig, json.loads(header.metadata["config"]), path)
        trained_on = json.loads(header.metadata.get("trained_on", "{}"))
    except (KeyError, ValueError) as err:
        raise KavanError(f"damaged {found} file: {err!r}", path) from None
    chain = lineage(trained_on)
    return {
        "file": {"path": str(path.resolve()), "format": found, "sha256": sha256_of(path)},
        "trained_on": trained_on,
        "weights_from": chain,
        "weights_summary": lineage_text(chain),
        **describe_config(config),
    }
