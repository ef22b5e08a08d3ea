"""Checkpoints and trained models as safetensors files: tensors plus JSON, never pickle.

A **checkpoint** (``checkpoint.safetensors`` in a run folder) holds everything a killed run needs to go on
exactly where it was: the model weights (``model.*``), the optimiser's tensors (``optimizer.<param>.<name>``,
e.g. Adam's moments), the random number generators' states (``rng.torch``, ``rng.cuda.<i>``) and, as JSON in
the safetensors metadata, the config, the optimiser's parameter groups and scalar state, the learning-rate
schedule's and gradient scaler's state, the run's progress (epoch, batch within the epoch, step, the epoch's
running loss sums, the history of finished epochs) and what the model is trained on (as in a model file).

A **model file** (``model.safetensors``) holds the weights and, as metadata, the config and a record of what the
model was trained on (dataset path, name, fingerprint, whether it is SynthGIF, split), so a prediction can say
where its model came from.

Reading goes through safetensors only, which parses a JSON header and raw tensor bytes and never unpickles:
a pickle (``torch.save``) file, a truncated file or a file with foreign tensors is refused with a KavanError.
Writing is atomic (kavan.atomic), so a kill during a save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from kavan.config import KavanConfig, from_mapping
from kavan.errors import KavanError
from kavan.atomic import write_bytes

CHECKPOINT_FORMAT = "kavan-checkpoint/1"
MODEL_FORMAT = "kavan-model/1"


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


class NonFiniteWeights(KavanError):
    """A model's weights hold NaN or infinity (a diverged run): they are never written."""


def check_finite(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Raise NonFiniteWeights naming the first tensor of ``model`` with a NaN or infinite value."""
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise NonFiniteWeights(f"not written: weight {name} holds NaN or infinite values (the training "
                                   "diverged; lower train.lr)", path)


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
        "scaler": json.dumps(scaler.state_dict() if scaler is not None else None),
        "progress": json.dumps(progress),
        "trained_on": json.dumps(trained_on or {}, sort_keys=True),
    }
    write_bytes(path, st_save(_cpu(tensors), metadata=metadata))


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


def save_model(path: str | os.PathLike[str], model: torch.nn.Module, config: KavanConfig,
               trained_on: dict[str, Any]) -> None:
    """Write a trained model: weights, the config, and ``trained_on`` (dataset record, split, run). Weights that
    are not all finite are refused (NonFiniteWeights) and nothing is written: no model file ever holds NaN."""
    check_finite(model, path)
    metadata = {
        "format": MODEL_FORMAT,
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "trained_on": json.dumps(trained_on, sort_keys=True),
    }
    write_bytes(path, st_save(_cpu(dict(model.state_dict())), metadata=metadata))


@dataclass
class LoadedModel:
    """A model read from a model file, in eval mode, with its config and training record."""

    model: torch.nn.Module
    config: KavanConfig
    trained_on: dict[str, Any]


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the KAVAN of a model file (no backbone weights are read or downloaded: the file has them all)."""
    from kavan.models import KAVAN

    tensors, meta = read_safetensors(path, MODEL_FORMAT)
    try:
        config = from_mapping(KavanConfig, json.loads(meta["config"]), path)
        trained_on = json.loads(meta["trained_on"])
    except (KeyError, ValueError) as err:
        raise KavanError(f"damaged model file: {err!r}", path) from None
    model = KAVAN(dataclasses.replace(config.model, weights="none"))
    load_weights(model, tensors, path)
    return LoadedModel(model.to(device).eval(), config, trained_on)


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str | os.PathLike[str]) -> None:
    """``model.load_state_dict(state)`` with every mismatch as a KavanError naming ``source``."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise KavanError(f"weights do not fit the model of its config: {err}", source) from None


def read_safetensors(path: str | os.PathLike[str], expected_format: str) -> tuple[dict[str, torch.Tensor],
                                                                                   dict[str, str]]:
    """Tensors and metadata of a safetensors file of ``expected_format``; never unpickles anything."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise KavanError(f"cannot read: {err.strerror or err}", path) from None
    try:
        tensors = st_load(blob)
        metadata = _metadata(blob)
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        if blob[:4] == b"PK\x03\x04" or blob[:1] == b"\x80":
            raise KavanError("this is a pickle / torch.save file, not safetensors; kavan never unpickles "
                             "files (unpickling can run code)", path) from None
        raise KavanError(f"not a safetensors file ({err})", path) from None
    if metadata.get("format") != expected_format:
        raise KavanError(f"expected a {expected_format} file, found format {metadata.get('format')!r}", path)
    return tensors, metadata


def _metadata(blob: bytes) -> dict[str, str]:
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
