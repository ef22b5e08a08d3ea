"""The typed experiment configuration: frozen dataclasses read from one YAML file.

A config file has one mapping per section (``model``, ``loss``, ``data``, ``train``); every key is optional and falls back to the
dataclass default. A file may instead name a ``base`` (a shipped config's name, or a file relative to its own folder)
and state only what differs from it: ``read_mapping`` merges it onto the base's own resolved mapping, section by
section and key by key (a list or scalar replaces the base's whole value). Every shipped row is written that way. Unknown keys and wrongly typed values are errors that name the file and the dotted key.
The loader knows nothing about the sections themselves: it walks the dataclass fields and their type hints,
so a new section is a new dataclass plus one field on ``KavanConfig``.

The defaults are the full model of the paper's last ablation row (MTL Soft-Att + HS-LSTM) except the backbone
weights, which default to ``none`` so that nothing is ever downloaded unless a config asks for it. Of the
defaults only the architecture (ResNet-50 trained end to end, T = 8 TSN frames, 224 px, 2-tier HS-LSTM with 2
segments of 4 frames) and the split protocol (5 random 80/20 splits) are the paper's; the rest are project
defaults. The numbers the paper lost (attention size, hidden size, loss weights, margin, dropout) are justified
in docs/model.md; the ``data`` and ``train`` sections (batches, augmentation, feature cache, optimiser), none of
whose numbers the paper gives, in docs/training.md. kavan.showcase.config_sources says for a config which values
are which.

May import: kavan.core. The heatmap settings of Eq. 8 (``HeatmapConfig``) are defined here, as a section of the
config, and kavan.keypoints.heatmaps reads them from here, so every layer above core can read a config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from kavan.core.checks import at_least, one_of, positive, within
from kavan.core.errors import KavanError
from kavan.core.overrides import set_overrides
from kavan.core.yamlfile import load_yaml

C = TypeVar("C")


@dataclass(frozen=True)
class HeatmapConfig:
    """Eq. 8's free numbers (the paper's own were lost in its text).

    grid: side G of the fine grid the Gaussians are drawn on.
    sigma: Gaussian standard deviation, in fine-grid cells.
    mouth_weight: extra factor (< 1) on the amplitude of the 20 lip points, which are packed much
        more densely than the rest of the face and would otherwise pull the map onto the mouth.
    temperature: softmax temperature on the (normalised) pooled overlay; lower is more peaked.
    normalise: ``peak`` divides each face's pooled overlay by the peak its points would give at full
        confidence before the softmax, so the target is equally focused for a tiny face and a close-up;
        ``none`` is the unnormalised overlay (the formula before ``normalise`` existed, whose default
        temperature was 0.6).
    """

    grid: int = 56
    sigma: float = 1.5
    mouth_weight: float = 0.5
    temperature: float = 0.1
    normalise: Literal["peak", "none"] = "peak"

    def __post_init__(self) -> None:
        at_least(self, ("grid",), 1, "heatmap ")
        positive(self, ("sigma",), "heatmap ")
        within(self, ("mouth_weight",), "(0, 1]", "heatmap ")
        positive(self, ("temperature",), "heatmap ")
        one_of(self, "normalise", ("peak", "none"), "heatmap ")


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
        at_least(self, ("size",), 1, "model.attention.")


@dataclass(frozen=True)
class GlimpseConfig:
    """Face glimpses, beyond the paper (kavan.models.glimpse, docs/model.md "Face glimpses"): per frame, the face cut
    out of the decoded frame, read by the FER2013 network and fed to the temporal module beside x̃_t.

    enabled: off (the default) is the paper's network. boxes: where the face is cut: ``localiser`` (the face
    localiser's peak in every frame, in training as in prediction) or ``keypoints`` (a frame's estimated keypoints
    when it has them, the localiser's peak otherwise). crop: side of the grey crop the reader sees (FER2013's 64).
    localiser_size: the width k of the localiser's W_x. localiser_epochs and localiser_frames: its fit (passes,
    and at most this many frames with keypoints, drawn with the split seed).
    """

    enabled: bool = False
    boxes: Literal["localiser", "keypoints"] = "localiser"
    crop: int = 64
    localiser_size: int = 32
    localiser_epochs: int = 30
    localiser_frames: int = 30000

    def __post_init__(self) -> None:
        one_of(self, "boxes", ("localiser", "keypoints"), "model.glimpse.")
        at_least(self, ("crop", "localiser_size", "localiser_epochs", "localiser_frames"), 1, "model.glimpse.")


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
        at_least(self, ("hidden", "tiers", "segments", "node_length"), 1, "model.temporal.")


@dataclass(frozen=True)
class ModelConfig:
    """The network: backbone, attention, temporal module and heads.

    weights: ``none``, ``torchvision`` / ``torchvision:<ENUM>`` (downloads), ``offline-mobilenet-v2``, or the
    path of a local .pth / .safetensors classification checkpoint (see kavan.models.weights).
    frozen: backbone parameters fixed and its BatchNorm kept in eval mode (for cached-feature training).
    frozen_until: with frozen false, the dotted name of the last backbone module kept frozen (``features.12`` on
    MobileNetV2): the modules up to it are fixed (and may be cached), the ones after it train with the rest of
    KAVAN; empty: the whole backbone trains (the paper's end-to-end setting).
    cut_after: empty for the backbone's last spatial feature map (the paper's); else the dotted name of the last
    backbone module kept, for an earlier, finer map (``features.13`` on MobileNetV2: 96 channels, stride 16).
    t: frames sampled per GIF (TSN). glimpse: face glimpses, beyond the paper (off by default). multitask: add the 4-way quadrant head that also feeds the regression head.
    dropout: on the GIF representation, before the heads.
    """

    backbone: str = "resnet50"
    weights: str = "none"
    frozen: bool = False
    frozen_until: str = ""
    cut_after: str = ""
    input_size: int = 224
    t: int = 8
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    glimpse: GlimpseConfig = field(default_factory=GlimpseConfig)
    multitask: bool = True
    dropout: float = 0.5

    def __post_init__(self) -> None:
        at_least(self, ("input_size", "t"), 1, "model.")
        within(self, ("dropout",), "[0, 1)", "model.")
        if self.frozen and self.frozen_until:
            raise KavanError("model.frozen_until names where a partly trainable backbone's frozen part ends; with "
                             "model.frozen: true the whole backbone is frozen: set one of them")
        temporal = self.temporal
        if temporal.kind == "hslstm" and self.t != temporal.segments * temporal.node_length:
            raise KavanError(
                f"HS-LSTM needs model.t = segments * node_length, got t={self.t}, "
                f"segments={temporal.segments}, node_length={temporal.node_length}"
            )


@dataclass(frozen=True)
class LossConfig:
    """Weights of L = L_nMSE + λ_ce L_CE + λ_rank L_rank + λ_kp L_kp, the ranking margin m, and which nMSE the
    regression term is: ``nmse_per_gif`` (default: the project's reading of the paper's nMSE loss) or
    ``nmse_per_emotion`` (the Table 2 metric's own normalisation; it overfits small sets, docs/training.md);
    kavan.training.losses."""

    regression: Literal["nmse_per_gif", "nmse_per_emotion"] = "nmse_per_gif"
    lambda_ce: float = 1.0
    lambda_rank: float = 1.0
    rank_margin: float = 0.01
    lambda_kp: float = 1.0

    def __post_init__(self) -> None:
        one_of(self, "regression", ("nmse_per_emotion", "nmse_per_gif"), "loss.")
        at_least(self, ("lambda_ce", "lambda_rank", "rank_margin", "lambda_kp"), 0, "loss.")

    @property
    def keypoint_supervision(self) -> bool:
        """Whether the attention masks are trained against keypoint heatmaps (Eq. 7)."""
        return self.lambda_kp > 0


@dataclass(frozen=True)
class DataConfig:
    """How a dataset becomes batches: splits, augmentation, keypoint heatmaps, which frames a feature cache holds.

    n_splits, split_seed, train_fraction, split_mode: the evaluation protocol's seeded splits (kavan.data.splits).
    split_mode ``random`` (the paper's "5 random 80/20 splits"): every split is drawn independently, so test sets
    may overlap; ``folds``: one permutation cut into arcs, with 5 × 20 % disjoint folds (5-fold cross-validation,
    the only construction before this key existed).
    val_fraction: share of each split's training GIFs held out (seeded) for per-epoch validation curves; 0 trains
    on all of them. The test set is never looked at before training ends.
    augment: training clips get FrameTransform.training (random crop of crop_scale area, flip with
    flip_probability); evaluation always resizes the whole frame (FrameTransform.evaluation). End-to-end training
    only: a feature cache holds the features of the un-augmented frames.
    heatmap: Eq. 8's numbers (kavan.config.HeatmapConfig).
    cache_frames: with a feature cache, ``all`` caches every frame (training keeps TSN's random frame per
    segment), ``eval`` only the T evaluation frames (cheap for long GIFs; training then sees fixed frames).
    cache_dtype: storage type of cached features; float16 halves the disk and memory traffic.
    """

    n_splits: int = 5
    split_seed: int = 0
    train_fraction: float = 0.8
    split_mode: Literal["random", "folds"] = "random"
    val_fraction: float = 0.0
    augment: bool = True
    crop_scale: tuple[float, ...] = (0.6, 1.0)
    flip_probability: float = 0.5
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)
    cache_frames: Literal["all", "eval"] = "all"
    cache_dtype: Literal["float16", "float32"] = "float16"

    def __post_init__(self) -> None:
        at_least(self, ("n_splits",), 1, "data.")
        within(self, ("train_fraction",), "(0, 1)", "data.")
        within(self, ("val_fraction",), "[0, 1)", "data.")
        if len(self.crop_scale) != 2 or not 0.0 < self.crop_scale[0] <= self.crop_scale[1] <= 1.0:
            raise KavanError(f"data.crop_scale must be [min, max] with 0 < min <= max <= 1, got {list(self.crop_scale)}")
        within(self, ("flip_probability",), "[0, 1]", "data.")


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation: epochs, global batch, optimiser and schedule, checkpoints, device and precision.

    Every default here is a project default: the paper gives no training hyper-parameters.

    batch_size: the GLOBAL batch; with torchrun each of the W processes takes batch_size / W GIFs of it, so a
    config trains the same way on any number of processes. optimizer: adam or adamw (decoupled weight decay).
    schedule: per-step learning rate, ``constant`` or ``cosine`` (to 0 at the last step), after a linear warm-up
    of warmup_epochs. grad_clip: largest gradient norm (0: no clipping). seed: model initialisation, dropout,
    batch order and per-clip frame/crop draws. workers: DataLoader worker processes.
    backbone_lr_scale: the learning rate of the backbone's trainable part is lr × this (the rest of KAVAN trains
    at lr); 1: one learning rate for everything.
    feature_cache: train on cached features of the backbone's frozen part (needs model.frozen or
    model.frozen_until). checkpoint_every: also save a
    resumable checkpoint every this many optimiser steps (0: at epoch ends only).
    device: auto (cuda when available), cpu or cuda. amp: autocast precision, off, bf16 (CPU and GPU) or fp16
    (GPU only, with gradient scaling).
    min_steps: the run takes at least this many optimiser steps: the number of epochs is raised to
    max(epochs, ceil(min_steps / batches per epoch)), so a small training set is not under-trained by an epoch
    count chosen for a large one (0: exactly ``epochs``).
    select: which weights the run keeps and tests: ``last`` (the last epoch's) or ``best_val`` (the epoch with the
    lowest validation nMSE per emotion; needs data.val_fraction > 0). The choice is made on the validation hold-out
    of the training split only; the test set is never looked at before it. docs/training.md has the measurements.
    readout: ``head`` (the regression head as gradient descent left it) or ``ridge``: after the epochs, the head's
    last linear layer is refitted in closed form, a ridge regression of logit(y) on its inputs over the training
    GIFs with the penalty chosen by generalised cross-validation (kavan.training.readout; the small-set recipe,
    docs/training.md).
    """

    epochs: int = 30
    min_steps: int = 0
    select: Literal["last", "best_val"] = "last"
    readout: Literal["head", "ridge"] = "head"
    batch_size: int = 16
    optimizer: Literal["adam", "adamw"] = "adamw"
    lr: float = 1e-4
    backbone_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    schedule: Literal["constant", "cosine"] = "cosine"
    warmup_epochs: float = 1.0
    grad_clip: float = 5.0
    seed: int = 0
    workers: int = 2
    feature_cache: bool = False
    checkpoint_every: int = 200
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "bf16", "fp16"] = "off"

    def __post_init__(self) -> None:
        at_least(self, ("epochs", "batch_size"), 1, "train.")
        one_of(self, "select", ("last", "best_val"), "train.")
        one_of(self, "readout", ("head", "ridge"), "train.")
        at_least(self, ("lr", "backbone_lr_scale", "weight_decay", "warmup_epochs", "grad_clip", "workers",
                        "checkpoint_every", "min_steps"), 0, "train.")
        if self.lr == 0:
            raise KavanError("train.lr must be > 0")


@dataclass(frozen=True)
class KavanConfig:
    """One experiment: every section of the YAML file."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.train.feature_cache and not (self.model.frozen or self.model.frozen_until):
            raise KavanError("train.feature_cache needs a frozen backbone or frozen part: set model.frozen: true "
                             "or model.frozen_until")
        if self.train.feature_cache and self.data.augment:
            raise KavanError("train.feature_cache stores the features of un-augmented frames: set data.augment: "
                             "false (or train end to end without the cache)")
        if self.train.select == "best_val" and self.data.val_fraction <= 0:
            raise KavanError("train.select best_val chooses an epoch on validation GIFs: set data.val_fraction > 0 "
                             "(or train.select: last)")
        if self.loss.lambda_kp > 0 and not self.model.attention.enabled:
            raise KavanError("loss.lambda_kp > 0 (keypoint supervision) needs model.attention.enabled: true")
        if self.loss.lambda_ce > 0 and not self.model.multitask:
            raise KavanError("loss.lambda_ce > 0 needs the quadrant head: set model.multitask: true")
        if self.model.glimpse.enabled and not (self.train.feature_cache and self.model.frozen):
            raise KavanError("model.glimpse trains on cached features and cached glimpses: set model.frozen: true "
                             "and train.feature_cache: true")

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (tuples become lists), ready for JSON or YAML."""
        return dataclasses.asdict(self, dict_factory=lambda items: {key: _plain(value) for key, value in items})


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


SHIPPED_DIR = Path(str(importlib.resources.files("kavan").joinpath("configs")))
SETTINGS = ("paper", "bench", "bench-trainable")


def shipped_configs() -> dict[str, Path]:
    """The row configs that ship inside the package, by name (``bench/mtl-softatt-hslstm``), in name order."""
    return {f"{path.parent.name}/{path.stem}": path
            for setting in SETTINGS for path in sorted((SHIPPED_DIR / setting).glob("*.yaml"))}


def config_file(name: str | os.PathLike[str]) -> Path:
    """The YAML file that ``name`` means: an existing file as given, else a shipped config's name
    (``bench/mtl-softatt-hslstm``, ``.yaml`` optional; the source tree's old ``configs/bench/...`` and
    ``configs/<row>.yaml`` spellings too). KavanError when it is neither."""
    path = Path(name)
    if path.is_file():
        return path
    key = path.as_posix().removesuffix(".yaml").removeprefix("configs/")
    key = key if "/" in key else f"paper/{key}"
    shipped = shipped_configs()
    if key in shipped:
        return shipped[key]
    raise KavanError("cannot read config: no such file, nor a shipped config of that name (kavan configs list "
                     "shows them)", path)


BASE_KEY = "base"


def read_mapping(path: str | os.PathLike[str], _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The parsed YAML mapping of a config file (or a shipped config's name), its ``base`` chain resolved: the
    file's keys merged onto its base's resolved mapping. KavanError naming the file for unreadable YAML, a base
    that does not exist, or a chain that comes back to a file it has passed."""
    path = config_file(path)
    if path.resolve() in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path.resolve()))
        raise KavanError(f"the base chain comes back to a file it has passed ({chain})", path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise KavanError(f"cannot read config: {err.strerror}", path) from None
    except yaml.YAMLError as err:
        raise KavanError(f"not valid YAML: {err}", path) from None
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise KavanError("the top level must be a mapping", path)
    data = dict(data)
    if BASE_KEY not in data:
        return data
    base = data.pop(BASE_KEY)
    if not isinstance(base, str) or not base:
        raise KavanError(f"'{BASE_KEY}' must name a config (a shipped name or a file), got {base!r}", path)
    beside = path.parent / base
    source = beside if beside.is_file() else shipped_configs().get(base.removesuffix(".yaml"))
    if source is None:  # never a file of the working directory: a shipped row means the same everywhere
        raise KavanError(f"its base '{base}' is neither a file beside it nor a shipped config", path)
    return merge_mappings(read_mapping(source, (*_seen, path.resolve())), data)


def merge_mappings(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` on top: mappings merge key by key, anything else replaces the base's value."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = value
    return out


def base_of(path: str | os.PathLike[str]) -> str | None:
    """The ``base`` a config file names (None when it names none)."""
    data = load_yaml(config_file(path).read_text(encoding="utf-8"))
    return data.get(BASE_KEY) if isinstance(data, Mapping) else None


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> KavanConfig:
    """Read a KavanConfig from a YAML file or a shipped config's name (``config_file``); every problem is a
    KavanError naming the file.

    overrides: ``dotted.key=value`` strings applied on top of the file (the value is read as YAML, so
    ``train.epochs=3``, ``data.crop_scale=[0.8, 1.0]`` and ``model.weights=none`` all work), then validated
    like the file itself.
    """
    path = config_file(path)
    data = read_mapping(path)
    if overrides:
        data = apply_overrides(data, overrides, path)
    return from_mapping(KavanConfig, data, path)


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str],
                    path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A copy of the parsed YAML mapping ``data`` with each ``dotted.key=value`` override set (kavan.core.overrides)."""
    return set_overrides(data, overrides, path)


def config_hash(config: KavanConfig) -> str:
    """SHA-256 (hex) of the config's canonical JSON: equal configs, equal hashes, whatever file they came from."""
    data = config.to_dict()
    if config.model.glimpse == GlimpseConfig():
        # the paper's network: hashed as before the glimpse section existed, so earlier run folders still resume
        del data["model"]["glimpse"]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    if hint is float and not math.isfinite(value):
        raise KavanError(f"{key} must be a finite number, got {value!r}")
    return value
