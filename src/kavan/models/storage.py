"""A trained model as one safetensors file: the weights plus, as JSON metadata, the config and a record of what the
model was trained on (dataset path, name, fingerprint, whether it is SynthGIF, split), so a prediction can say
where its model came from.

Reading and writing go through kavan.core.tensorfile: safetensors only, never unpickling (a pickle
(``torch.save``) file, a truncated file or a file with foreign tensors is refused with a KavanError), and
atomic writes. ``read_safetensors`` is importable from here too, for the callers that read model files.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

import torch

from kavan.config import KavanConfig, from_mapping
from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_safetensors, write_safetensors

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
    write_safetensors(path, cpu_tensors(dict(model.state_dict())), metadata)


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


def cpu_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
