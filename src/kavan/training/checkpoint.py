"""Resumable training checkpoints as safetensors files: tensors plus JSON, never pickle.

A **checkpoint** (``checkpoint.safetensors`` in a run folder) holds everything a killed run needs to go on
exactly where it was: the model weights (``model.*``), the optimiser's tensors (``optimizer.<param>.<name>``,
e.g. Adam's moments), the random number generators' states (``rng.torch``, ``rng.cuda.<i>``) and, as JSON in
the safetensors metadata, the config, the optimiser's parameter groups and scalar state, the learning-rate
schedule's and gradient scaler's state, the run's progress (epoch, batch within the epoch, step, the epoch's
running loss sums, the history of finished epochs) and what the model is trained on (as in a model file).

A trained model file is kavan.models.storage's: inference needs it without the training code.

Reading and writing go through kavan.core.tensorfile, as for model files: safetensors only, never unpickling (a
pickle (``torch.save``) file, a truncated file or a file with foreign tensors is refused with a KavanError), and
atomic writes, so a kill during a save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch

from kavan.config import KavanConfig, from_mapping
from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_safetensors, write_safetensors
from kavan.models.storage import check_finite, cpu_tensors

CHECKPOINT_FORMAT = "kavan-checkpoint/1"


@dataclass
class Checkpoint:
    """A checkpoint's contents, as read back: state dicts ready for ``load_state_dict`` and the JSON parts."""

    config: KavanConfig
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any] | None
    rng: dict[str, torch.Tensor]
    progress: dict[str, Any]
    trained_on: dict[str, Any]


def save_checkpoint(path: str | os.PathLike[str], *, config: KavanConfig, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any | None,
                    progress: dict[str, Any], trained_on: dict[str, Any] | None = None) -> None:
    """Write a resumable checkpoint atomically (see the module docstring for the layout); weights that are not all
    finite are refused (NonFiniteWeights) and nothing is written."""
    check_finite(model, path)
    tensors = {f"model.{name}": value for name, value in model.state_dict().items()}
    optim_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for param, entries in optim_state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{param}.{name}"] = value
            else:
                scalars.setdefault(str(param), {})[name] = value
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "optimizer": json.dumps({"param_groups": optim_state["param_groups"], "scalars": scalars}),
        "scheduler": json.dumps(scheduler.state_dict()),
        "scaler": json.dumps(scaler.state_dict() if scaler is not None and scaler.is_enabled() else None),
        "progress": json.dumps(progress),
        "trained_on": json.dumps(trained_on or {}, sort_keys=True),
    }
    write_safetensors(path, cpu_tensors(tensors), metadata)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``; KavanError naming the file for anything else."""
    tensors, meta = read_safetensors(path, CHECKPOINT_FORMAT)
    try:
        optim_meta = json.loads(meta["optimizer"])
        state: dict[int, dict[str, Any]] = {}
        for param, entries in optim_meta["scalars"].items():
            state.setdefault(int(param), {}).update(entries)
        for name, value in tensors.items():
            if name.startswith("optimizer."):
                _, param, key = name.split(".", 2)
                state.setdefault(int(param), {})[key] = value
        return Checkpoint(
            config=from_mapping(KavanConfig, json.loads(meta["config"]), path),
            model={name[6:]: value for name, value in tensors.items() if name.startswith("model.")},
            optimizer={"state": state, "param_groups": [_groups_from_json(group)
                                                        for group in optim_meta["param_groups"]]},
            scheduler=json.loads(meta["scheduler"]),
            scaler=json.loads(meta["scaler"]),
            rng={name[4:]: value for name, value in tensors.items() if name.startswith("rng.")},
            progress=json.loads(meta["progress"]),
            trained_on=json.loads(meta.get("trained_on", "{}")),
        )
    except (KeyError, ValueError, TypeError) as err:
        raise KavanError(f"damaged checkpoint: {err!r}", path) from None


def _groups_from_json(group: dict[str, Any]) -> dict[str, Any]:
    """A parameter group as the optimiser wrote it: JSON made its tuples (Adam's betas) lists."""
    return {key: tuple(value) if isinstance(value, list) and key != "params" else value
            for key, value in group.items()}


def restore_rng(rng: dict[str, torch.Tensor]) -> None:
    """Put the generators back in the state a checkpoint recorded."""
    torch.set_rng_state(rng["torch"])
    cuda = [rng[f"cuda.{i}"] for i in range(len(rng)) if f"cuda.{i}" in rng]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


