"""A trained model as one safetensors file: the weights plus, as JSON metadata, the config and a record of what the
model was trained on (dataset path, name, fingerprint, whether it is SynthGIF, split), so a prediction can say
where its model came from.

Reading goes through safetensors only, which parses a JSON header and raw tensor bytes and never unpickles:
a pickle (``torch.save``) file, a truncated file or a file with foreign tensors is refused with a KavanError.
Writing is atomic (kavan.core.atomic). Training checkpoints (kavan.training.checkpoint) are read the same way.
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
from kavan.core.atomic import write_bytes
from kavan.core.errors import KavanError

MODEL_FORMAT = "kavan-model/1"


class NonFiniteWeights(KavanError):
    """A model's weights hold NaN or infinity (a diverged run): they are never written."""


def check_finite(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Raise NonFiniteWeights naming the first tensor of ``model`` with a NaN or infinite value."""
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise NonFiniteWeights(f"not written: weight {name} holds NaN or infinite values (the training "
                                   "diverged; lower train.lr)", path)


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
    write_bytes(path, st_save(cpu_tensors(dict(model.state_dict())), metadata=metadata))


@dataclass
class LoadedModel:
    """A model read from a model file, in eval mode, with its config and training record."""

    model: torch.nn.Module
    config: KavanConfig
    trained_on: dict[str, Any]


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the KAVAN of a model file (no backbone weights are read or downloaded: the file has them all)."""
    from kavan.models.kavan import KAVAN

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


def cpu_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
