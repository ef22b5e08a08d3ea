"""Where backbone weights come from, and the checks made before any of them is trusted.

A weights option is one string:

- ``none``: random initialisation (tests, ``kavan describe``, training from scratch);
- ``torchvision`` or ``torchvision:<ENUM>``: torchvision's weights API (``DEFAULT`` or e.g. ``IMAGENET1K_V1``);
  torchvision downloads the file on first use, so this is for machines that are online;
- ``offline-mobilenet-v2``: torchvision's own ImageNet MobileNetV2 file, ``mobilenet_v2-b0353104.pth``, installed
  once by ``kavan assets fetch`` (kavan.assets) and checked against its SHA-256 before loading;
- anything else: the path of a local classification checkpoint, ``.pth``/``.pt`` (read with
  ``torch.load(weights_only=True)``, which never unpickles code) or ``.safetensors``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from kavan.assets import ASSETS, asset_path
from kavan.core.errors import KavanError
from kavan.core.tensorfile import sha256_of

NONE = "none"
TORCHVISION = "torchvision"
OFFLINE_MOBILENET_V2 = "offline-mobilenet-v2"

OFFLINE_MOBILENET_V2_ASSET = "mobilenet-v2"
OFFLINE_MOBILENET_V2_SHA256 = ASSETS[OFFLINE_MOBILENET_V2_ASSET].sha256


def torchvision_weights(model_name: str, option: str):
    """The torchvision ``WeightsEnum`` member that ``torchvision`` / ``torchvision:<ENUM>`` names for a model."""
    from torchvision.models import get_model_weights

    _, _, member = option.partition(":")
    enum = get_model_weights(model_name)
    member = member or "DEFAULT"
    try:
        return enum[member]
    except KeyError:
        known = ", ".join(["DEFAULT", *enum.__members__])
        raise KavanError(f"torchvision has no weights {member!r} for {model_name} (known: {known})") from None


def offline_mobilenet_v2_path() -> Path:
    """The checked MobileNetV2 ImageNet file; a KavanError saying how to fetch it when it is missing or altered."""
    return asset_path(OFFLINE_MOBILENET_V2_ASSET)


def read_state_dict(path: str | os.PathLike[str], sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a local checkpoint (.pth/.pt or .safetensors), optionally verified against a SHA-256 first.

    A .pth may hold the state dict itself or wrap it under ``model`` (torchvision's reference training
    scripts) or ``state_dict``.
    """
    path = Path(path)
    if not path.is_file():
        raise KavanError("weights file not found", path)
    if sha256 is not None and (actual := sha256_of(path)) != sha256:
        raise KavanError(f"SHA-256 mismatch: expected {sha256}, got {actual}; the file is damaged", path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except SafetensorError as err:
            raise KavanError(f"cannot read safetensors file: {err}", path) from None
    if suffix not in (".pth", ".pt"):
        raise KavanError("weights file must be .pth, .pt or .safetensors", path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike for a bad file
        raise KavanError(f"cannot read checkpoint: {err}", path) from None
    for wrapper in ("model", "state_dict"):
        if isinstance(content, Mapping) and isinstance(content.get(wrapper), Mapping):
            content = content[wrapper]
    if not isinstance(content, Mapping) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise KavanError("checkpoint is not a state dict of tensors", path)
    return dict(content)
