"""`kavan describe`: the resolved config, parameter counts per module, which modules train, and the backbone's
feature shape, as JSON.

The model is built with backbone weights ``none`` whatever the config says, so describing a config never
downloads or reads a weights file; the counts do not depend on the weights. ``sources`` says which config
values the paper states (and whether this config follows them), which switches make the config one of the
paper's table rows, and which values are project defaults: all training hyper-parameters are
(kavan.config_sources).
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "describe"
HELP = "print a config's resolved settings, parameter counts per module, what trains and feature shape as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file (e.g. configs/mtl-softatt-hslstm.yaml)")


def describe(config_path) -> dict:
    """The report `kavan describe` prints, for the experiment config at ``config_path``."""
    import dataclasses

    from kavan.config import load_config
    from kavan.config_sources import config_sources
    from kavan.models import KAVAN, parameter_counts, trainable_modules

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


def run(args: argparse.Namespace) -> int:
    json.dump(describe(args.config), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
