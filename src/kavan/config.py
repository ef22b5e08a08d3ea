"""The typed experiment configuration: frozen dataclasses read from one YAML file.

A config file has one mapping per section (``model``, ``loss``); every key is optional and falls back to the
dataclass default. Unknown keys and wrongly typed values are errors that name the file and the dotted key.
The loader knows nothing about the sections themselves: it walks the dataclass fields and their type hints,
so a new section is a new dataclass plus one field on ``KavanConfig``.

The defaults are the full model of the paper's last ablation row (MTL Soft-Att + HS-LSTM) except the backbone
weights, which default to ``none`` so that nothing is ever downloaded unless a config asks for it. The numbers
the paper lost (attention size, hidden size, loss weights, margin, dropout) are justified in docs/model.md.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar

import yaml

from kavan.errors import KavanError

C = TypeVar("C")

@dataclass(frozen=True)
class AttentionConfig:
    """Facial soft attention (Eqs. 5–6).

    enabled: off gives the "ResNet-50 + ..." rows, whose frame feature is global average pooling.
    size: k, the width of W_h (d×k), W_x (C×k) and w (k).
    residual_init: initial value of α, the learnable weight of the residual (mean-pooled) link.
    """

    enabled: bool = True
    size: int = 512
    residual_init: float = 1.0

    def __post_init__(self) -> None:
        if self.size < 1:
            raise KavanError(f"model.attention.size must be >= 1, got {self.size}")


@dataclass(frozen=True)
class TemporalConfig:
    """The temporal module: one LSTM over the frames, or HS-LSTM (Sec. 3.2).

    hidden: d, the size of every LSTM state. tiers, segments (S) and node_length (n) are used by HS-LSTM only,
    which needs T = S·n.
    """

    kind: Literal["lstm", "hslstm"] = "hslstm"
    hidden: int = 512
    tiers: int = 2
    segments: int = 2
    node_length: int = 4

    def __post_init__(self) -> None:
        for name in ("hidden", "tiers", "segments", "node_length"):
            if getattr(self, name) < 1:
                raise KavanError(f"model.temporal.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ModelConfig:
    """The network: backbone, attention, temporal module and heads.

    weights: ``none``, ``torchvision`` / ``torchvision:<ENUM>`` (downloads), ``offline-mobilenet-v2``, or the
    path of a local .pth / .safetensors classification checkpoint (see kavan.models.weights).
    frozen: backbone parameters fixed and its BatchNorm kept in eval mode (for cached-feature training).
    t: frames sampled per GIF (TSN). multitask: add the 4-way quadrant head that also feeds the regression head.
    dropout: on the GIF representation, before the heads.
    """

    backbone: str = "resnet50"
    weights: str = "none"
    frozen: bool = False
    input_size: int = 224
    t: int = 8
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    multitask: bool = True
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.input_size < 1 or self.t < 1:
            raise KavanError(f"model.input_size and model.t must be >= 1, got {self.input_size} and {self.t}")
        if not 0.0 <= self.dropout < 1.0:
            raise KavanError(f"model.dropout must be in [0, 1), got {self.dropout}")
        temporal = self.temporal
        if temporal.kind == "hslstm" and self.t != temporal.segments * temporal.node_length:
            raise KavanError(
                f"HS-LSTM needs model.t = segments * node_length, got t={self.t}, "
                f"segments={temporal.segments}, node_length={temporal.node_length}"
            )


@dataclass(frozen=True)
class LossConfig:
    """Weights of L = L_nMSE + λ_ce L_CE + λ_rank L_rank + λ_kp L_kp, and the ranking margin m."""

    lambda_ce: float = 1.0
    lambda_rank: float = 1.0
    rank_margin: float = 0.01
    lambda_kp: float = 1.0

    def __post_init__(self) -> None:
        for name in ("lambda_ce", "lambda_rank", "rank_margin", "lambda_kp"):
            if getattr(self, name) < 0:
                raise KavanError(f"loss.{name} must be >= 0, got {getattr(self, name)}")

    @property
    def keypoint_supervision(self) -> bool:
        """Whether the attention masks are trained against keypoint heatmaps (Eq. 7)."""
        return self.lambda_kp > 0


@dataclass(frozen=True)
class KavanConfig:
    """One experiment: every section of the YAML file."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if self.loss.lambda_kp > 0 and not self.model.attention.enabled:
            raise KavanError("loss.lambda_kp > 0 (keypoint supervision) needs model.attention.enabled: true")
        if self.loss.lambda_ce > 0 and not self.model.multitask:
            raise KavanError("loss.lambda_ce > 0 needs the quadrant head: set model.multitask: true")

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts, ready for JSON or YAML."""
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike[str]) -> KavanConfig:
    """Read a KavanConfig from a YAML file; every problem is a KavanError naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise KavanError(f"cannot read config: {err.strerror}", path) from None
    except yaml.YAMLError as err:
        raise KavanError(f"not valid YAML: {err}", path) from None
    return from_mapping(KavanConfig, {} if data is None else data, path)


def from_mapping(cls: type[C], data: Any, path: str | os.PathLike[str] | None = None) -> C:
    """Build config dataclass ``cls`` (nested dataclasses included) from parsed YAML/JSON mappings.

    Missing keys take the dataclass defaults; ``path`` names the source in every error.
    """
    try:
        return _build(cls, data, "")
    except KavanError as err:
        raise KavanError(err.reason, path if err.path is None else err.path) from None


def _build(cls: type, data: Any, prefix: str) -> Any:
    """Instantiate dataclass ``cls`` from mapping ``data``; ``prefix`` is its dotted key plus a dot ("" at the top)."""
    if not isinstance(data, Mapping):
        raise KavanError(f"{prefix[:-1] or 'the top level'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise KavanError(f"unknown key '{prefix}{key}' (known here: {', '.join(names)})")
    values = {key: _convert(hints[key], value, f"{prefix}{key}") for key, value in data.items()}
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    """Check and convert one YAML value against a field's type hint."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{key}.")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(inner, value, key)
    if origin is Literal:
        if value not in args:
            raise KavanError(f"{key} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise KavanError(f"{key} must be a list, got {value!r}")
        return tuple(_convert(args[0], item, f"{key}[{i}]") for i, item in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (bool, int, float, str) and (type(value) is not hint):
        raise KavanError(f"{key} must be {hint.__name__}, got {value!r}")
    return value
