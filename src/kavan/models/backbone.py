"""The frame encoder: a torchvision classification model cut at its last spatial feature map.

Frames go in as torchvision classifiers expect them: RGB scaled to [0, 1] and normalised with the ImageNet mean
and standard deviation, which ``kavan.data.transforms.FrameTransform`` does. The output is the feature block X_t of
K×K cells with C channels: ResNet-50 at 224×224 gives (2048, 7, 7).

Where the cut falls, per torchvision family (the rest of the classifier is dropped):
ResNet / ResNeXt / Wide ResNet through ``layer4``; RegNet through ``trunk_output``; ShuffleNetV2 through
``conv5``; MNASNet ``layers``; DenseNet ``features`` plus the ReLU its forward applies; Swin ``features``,
``norm`` and the permute back to channels-first; every other model with a ``features`` module (MobileNet V2/V3,
EfficientNet, VGG, AlexNet, ConvNeXt, SqueezeNet) its ``features``. Models whose last stage is not a
channels-first map behind a plain chain of modules (ViT, GoogLeNet, Inception v3, MaxViT) are refused.

``cut_after`` moves the cut earlier, to an intermediate map: the dotted name of the last module kept, such as
``features.13`` (MobileNetV2's last stride-16 block: 96 channels, 14×14 at 224²) or ``layer3`` (ResNet, stride 16).
"""

from __future__ import annotations

import functools
import logging
import os
from collections import OrderedDict
from pathlib import Path

import torch
import torchvision.models as tvm
from torch import nn

from kavan.core.errors import KavanError
from kavan.models.weights import (
    NONE,
    OFFLINE_MOBILENET_V2,
    OFFLINE_MOBILENET_V2_SHA256,
    TORCHVISION,
    offline_mobilenet_v2_path,
    read_state_dict,
    torchvision_weights,
)

log = logging.getLogger(__name__)

class Backbone(nn.Module):
    """Normalised frames (N, 3, H, W) → feature blocks (N, C, K, K).

    The trunk may be split in two: a frozen part (``frozen`` True: all of it; ``frozen_until``: the modules up to
    that dotted name) and the trainable rest. The frozen part's parameters get requires_grad False, its BatchNorm
    stays in eval mode (keeping the running statistics that came with the weights even while the rest trains) and
    it runs without building a graph. Its output is what a feature cache stores (``encode_frozen``); ``tail``
    finishes the map from there. Both parts are views of ``body``, so checkpoint keys do not depend on the split.
    """

    def __init__(self, name: str = "resnet50", weights: str = NONE, frozen: bool = False, cut_after: str = "",
                 frozen_until: str = ""):
        super().__init__()
        self.name = name
        self.frozen = frozen
        self.body = build_trunk(name, weights, cut_after)
        self.frozen_until = "" if frozen else frozen_until
        self._split: tuple[nn.Module, nn.Module, nn.Sequential] | None = None
        if frozen or frozen_until:
            self.stem.requires_grad_(False)
            self.stem.eval()

    def _parts(self) -> tuple[nn.Module, nn.Sequential]:
        """(frozen part, trainable part) of the current ``body`` (recomputed if ``body`` is replaced). Plain
        attributes, not registered submodules: the modules are registered once, under ``body``."""
        if self._split is None or self._split[0] is not self.body:
            if self.frozen:
                stem, tail = self.body, nn.Sequential()
            elif self.frozen_until:
                stem, tail = split_after(self.body, self.frozen_until, self.name)
                if not len(tail):
                    raise KavanError(f"backbone {self.name}: nothing is left to train after {self.frozen_until!r}; "
                                     "use model.frozen: true to freeze the whole backbone")
            else:
                stem, tail = nn.Sequential(), self.body
            self._split = (self.body, stem, tail)
        return self._split[1], self._split[2]

    @property
    def stem(self) -> nn.Module:
        """The frozen part (empty when the whole backbone trains)."""
        return self._parts()[0]

    @property
    def tail(self) -> nn.Sequential:
        """The trainable part (empty when the whole backbone is frozen)."""
        return self._parts()[1]

    @property
    def partly_frozen(self) -> bool:
        """Whether the backbone has both a frozen and a trainable part."""
        return bool(self.frozen_until)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        if self.frozen or self.frozen_until:
            self.stem.eval()
        return self

    def encode_frozen(self, frames: torch.Tensor) -> torch.Tensor:
        """The frozen part's output (the frames themselves when nothing is frozen), without a graph."""
        if not (self.frozen or self.frozen_until):
            return frames
        with torch.no_grad():
            return (self.body if self.frozen else self.stem)(frames)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            return self.encode_frozen(frames)
        if self.frozen_until:
            return self.tail(self.encode_frozen(frames))
        return self.body(frames)


@functools.cache
def feature_shape(name: str, input_size: int, cut_after: str = "") -> tuple[int, int]:
    """(C, K) of the feature block for square frames of side ``input_size``, computed on the meta device.

    Nothing is downloaded or allocated: the model is built without weights and traced with a meta tensor. The
    answer depends on the three arguments alone, so it is computed once per process (a ResNet-50 trace takes
    most of a second on the CPU, and every KAVAN built asks for it).
    """
    trunk = cut_at_feature_map(_meta_classifier(name), name, cut_after)
    with torch.device("meta"):
        try:
            out = trunk(torch.empty(1, 3, input_size, input_size))
        except RuntimeError as err:
            raise KavanError(f"{name} cannot encode {input_size}x{input_size} frames: {err}") from None
    if out.dim() != 4 or out.shape[2] != out.shape[3]:
        raise KavanError(f"{name} does not end in a square spatial feature map (got shape {tuple(out.shape)})")
    return int(out.shape[1]), int(out.shape[2])


def build_trunk(name: str, weights: str = NONE, cut_after: str = "") -> nn.Sequential:
    """The cut classifier with the requested weights (see kavan.models.weights for the options)."""
    if weights == NONE:
        return cut_at_feature_map(_classifier(name), name, cut_after)
    if weights == TORCHVISION or weights.startswith(TORCHVISION + ":"):
        chosen = torchvision_weights(name, weights)
        log.info("loading torchvision weights %s (downloaded on first use)", chosen)
        try:
            return cut_at_feature_map(tvm.get_model(name, weights=chosen), name, cut_after)
        except OSError as err:  # no network, or a damaged download in torch's hub cache
            raise KavanError(f"cannot fetch torchvision weights {chosen} ({err}); offline, set model.weights to "
                             "a local checkpoint file") from None
    if weights == OFFLINE_MOBILENET_V2:
        if name != "mobilenet_v2":
            raise KavanError(f"weights {OFFLINE_MOBILENET_V2!r} fit backbone mobilenet_v2, not {name}")
        path = offline_mobilenet_v2_path()
        state = read_state_dict(path, sha256=OFFLINE_MOBILENET_V2_SHA256)
    else:
        path = Path(weights)
        state = read_state_dict(path)
    model = _classifier(name)
    trunk = cut_at_feature_map(model, name, cut_after)
    load_trunk_state(model, trunk, state, path)
    log.info("loaded %s backbone weights from %s", name, path)
    return trunk


def load_trunk_state(model: nn.Module, trunk: nn.Module, state: dict[str, torch.Tensor],
                     source: str | os.PathLike[str]) -> None:
    """Load a classification checkpoint into the trunk cut from ``model``.

    The keys of the dropped classifier (whatever of ``model`` is not in ``trunk``) are ignored, so a checkpoint
    fine-tuned for another number of classes still loads; every other missing, unexpected or misshapen key is
    an error.
    """
    head_keys = set(model.state_dict()) - set(trunk.state_dict())
    kept = {key: value for key, value in state.items() if key not in head_keys}
    try:
        result = trunk.load_state_dict(kept, strict=False)
    except RuntimeError as err:
        raise KavanError(f"checkpoint does not fit the backbone: {err}", source) from None
    if result.missing_keys or result.unexpected_keys:
        raise KavanError(
            f"checkpoint does not fit the backbone: missing keys {_listing(result.missing_keys)}, "
            f"unexpected keys {_listing(result.unexpected_keys)}",
            source,
        )


def cut_at_feature_map(model: nn.Module, name: str, cut_after: str = "") -> nn.Sequential:
    """The modules of ``model`` up to its last spatial feature map (or up to ``cut_after``), under the names they
    have in ``model``.

    Keeping the names means the classifier's checkpoint keys (``layer4.2.conv3.weight``, ``features.18.0.weight``)
    address the trunk unchanged.
    """
    if isinstance(model, tvm.ResNet):
        names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    elif isinstance(model, tvm.RegNet):
        names = ["stem", "trunk_output"]
    elif isinstance(model, tvm.ShuffleNetV2):
        names = ["conv1", "maxpool", "stage2", "stage3", "stage4", "conv5"]
    elif isinstance(model, tvm.MNASNet):
        names = ["layers"]
    elif isinstance(model, tvm.SwinTransformer):
        names = ["features", "norm", "permute"]  # Swin's stages are channels-last; its forward permutes back
    elif isinstance(getattr(model, "features", None), nn.Module):
        names = ["features"]
    else:
        raise KavanError(
            f"cannot cut {name} at a spatial feature map; use a CNN such as resnet50, mobilenet_v2, "
            "efficientnet_b0, convnext_tiny, densenet121, regnet_y_800mf or vgg16"
        )
    parts = [(part, getattr(model, part)) for part in names]
    if isinstance(model, tvm.DenseNet):
        parts.append(("relu", nn.ReLU()))  # DenseNet.forward applies ReLU after `features`
    trunk = nn.Sequential(OrderedDict(parts))
    return truncate(trunk, cut_after, name) if cut_after else trunk


def truncate(chain: nn.Sequential, cut_after: str, name: str) -> nn.Sequential:
    """``chain`` without the modules after the dotted path ``cut_after`` (nested Sequentials are cut too).

    The kept modules are the same objects under the same names, so checkpoint keys still address them.
    """
    return split_after(chain, cut_after, name, purpose="cut after")[0]


def split_after(chain: nn.Sequential, last: str, name: str, within: str = "",
                purpose: str = "freeze up to") -> tuple[nn.Sequential, nn.Sequential]:
    """``chain`` cut in two after the dotted path ``last``: (the modules up to it, the modules after it).

    Both are new Sequentials holding the same module objects under the same names (nested Sequentials are split
    too), so ``chain`` still owns and names every parameter. ``within`` is the dotted path of ``chain`` itself in
    the trunk and ``purpose`` what the cut is for, both for messages.
    """
    head, _, rest = last.partition(".")
    path = f"{within}.{head}" if within else head
    names = [child for child, _ in chain.named_children()]
    if head not in names:
        raise KavanError(f"backbone {name} has no module {path!r} to {purpose} "
                         f"(modules {'in ' + repr(within) if within else 'at the top'}: {', '.join(names)})")
    at = names.index(head)
    before = OrderedDict((child, chain.get_submodule(child)) for child in names[:at])
    after = OrderedDict((child, chain.get_submodule(child)) for child in names[at + 1:])
    inner = chain.get_submodule(head)
    if rest:
        if not isinstance(inner, nn.Sequential):
            raise KavanError(f"backbone {name}: cannot cut inside {path!r}, a {type(inner).__name__}")
        inner_before, inner_after = split_after(inner, rest, name, path, purpose)
        before[head] = inner_before
        if len(inner_after):
            after = OrderedDict([(head, inner_after), *after.items()])
    else:
        before[head] = inner
    return nn.Sequential(before), nn.Sequential(after)


def _classifier(name: str) -> nn.Module:
    """torchvision classification model ``name``, randomly initialised."""
    if name not in tvm.list_models(module=tvm):
        raise KavanError(f"unknown backbone {name!r}: expected a torchvision classification model name")
    return tvm.get_model(name, weights=None)


def _meta_classifier(name: str) -> nn.Module:
    """``_classifier(name)`` with meta tensors: built on the meta device where the builder allows it."""
    try:
        with torch.device("meta"):
            return _classifier(name)
    except NotImplementedError:  # RegNet's builder computes its stage widths with real tensors
        return _classifier(name).to("meta")


def _listing(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit]) or "none"
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
