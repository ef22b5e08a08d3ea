"""`kavan describe`: the resolved config, parameter counts per module, which modules train, and the backbone's
feature shape, as JSON.

The model is built with backbone weights ``none`` whatever the config says, so describing a config never
downloads or reads a weights file; the counts do not depend on the weights. ``sources`` says which config
values the paper states (and whether this config follows them), which switches make the config one of the
paper's table rows, and which values are project defaults: all training hyper-parameters are
(kavan.experiments.config_sources).
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "describe"
HELP = "print a config's resolved settings, parameter counts per module, what trains and feature shape as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file, or a shipped config's name (e.g. paper/mtl-softatt-hslstm)")


def run(args: argparse.Namespace) -> int:
    from kavan.experiments.describe import describe

    json.dump(describe(args.config), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
