"""`kavan describe`: the resolved config, parameter counts per module, which modules train, and the backbone's
feature shape, as JSON; with ``--model FILE``, the same for a model file's config plus what the model was trained
on and where its weights come from (``weights_from``, ``weights_summary``: the chain of ``kavan train --init``).

The model is built with backbone weights ``none`` whatever the config says, so describing a config never
downloads or reads a weights file; the counts do not depend on the weights. ``sources`` says which config
values the paper states (and whether this config follows them), which switches make the config one of the
paper's table rows, and which values are project defaults: all training hyper-parameters are
(kavan.showcase.config_sources).
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "describe"
HELP = ("print a config's (or a model file's) resolved settings, parameter counts per module, what trains and "
        "feature shape as JSON; for a model file, where its weights come from")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", help="experiment YAML file, or a shipped config's name (e.g. paper/mtl-softatt-hslstm)")
    which.add_argument("--model", metavar="FILE",
                       help="a trained model file (or training checkpoint): its config's report, what it was "
                            "trained on, and where its weights come from (the chain of --init fine-tunings)")


def run(args: argparse.Namespace) -> int:
    from kavan.showcase.describe import describe, describe_model

    report = describe(args.config) if args.config is not None else describe_model(args.model)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
