"""What a config builds: the resolved config, parameter counts per module, which modules train, the backbone's
feature shape, and which values the paper states (kavan.experiments.config_sources).

The model is built with backbone weights ``none`` whatever the config says, so describing a config never
downloads or reads a weights file; the counts do not depend on the weights. ``kavan describe`` prints this report.
"""

from __future__ import annotations

import dataclasses
import os

from kavan.config import load_config
from kavan.experiments.config_sources import config_sources
from kavan.models import KAVAN, parameter_counts, trainable_modules


def describe(config_path: str | os.PathLike[str]) -> dict:
    """The report `kavan describe` prints, for the experiment config at ``config_path``."""
    config = load_config(config_path)
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
