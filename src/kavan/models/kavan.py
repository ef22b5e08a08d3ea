"""KAVAN, the Keypoint Attended Visual Attention Network (Yang, Zhang & Luo, ICME 2019), assembled from a config.

    frames (B, T, 3, H, W) ──backbone──▶ X_t (B, T, C, K, K) ──temporal (+ facial attention)──▶ r ──heads──▶ ŷ, z

Beyond the paper, with ``model.glimpse``: a face glimpse g_t per frame (kavan.models.glimpse: the face cut out of
the decoded grey frame where the localiser finds it, read by the FER2013 network) joins x̃_t in every step of the
temporal module. It is computed from the clips' grey frames (``grey``) or read from a cache (``glimpses``).

The backbone can be skipped by passing its output as ``features``, or its frozen part by passing that part's
cached output as ``cached`` (the trainable rest of the backbone then runs on it); every path gives the same
numbers.
Which pieces are used is the config's business: attention on/off, LSTM or HS-LSTM, multi-task on/off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from kavan.config import ModelConfig
from kavan.core.errors import KavanError
from kavan.models.attention import FacialSoftAttention
from kavan.models.backbone import Backbone, feature_shape
from kavan.models.glimpse import GLIMPSE_SIZE, FaceGlimpses
from kavan.models.heads import EmotionHeads
from kavan.models.hslstm import HSLSTM
from kavan.models.temporal import FrameLSTM


@dataclass
class KavanOutput:
    """What the network predicts for a batch of B GIFs of T frames.

    intensities: (B, 17) in [0, 1], EMOTIONS order. quadrant_logits: (B, 4), QUADRANTS order, or None without
    the multi-task head. attention: (B, T, K, K) masks M_t (each sums to 1), or None without attention.
    representation: (B, R) the GIF representation the heads read.
    """

    intensities: torch.Tensor
    quadrant_logits: torch.Tensor | None
    attention: torch.Tensor | None
    representation: torch.Tensor


class KAVAN(nn.Module):
    """The full network described by a ``ModelConfig``."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.channels, self.cells = feature_shape(config.backbone, config.input_size, config.cut_after)  # C, K
        self.backbone = Backbone(config.backbone, config.weights, config.frozen, config.cut_after,
                                 config.frozen_until)
        # (C, K) of what the backbone's frozen part outputs: a feature cache's blocks
        self.cached_channels, self.cached_cells = (
            feature_shape(config.backbone, config.input_size, config.frozen_until) if config.frozen_until
            else (self.channels, self.cells))
        temporal = config.temporal
        self.glimpses = (FaceGlimpses(self.channels, config.glimpse, pretrained=config.weights != "none")
                         if config.glimpse.enabled else None)
        extra = GLIMPSE_SIZE if self.glimpses is not None else 0
        attention = (
            FacialSoftAttention(self.channels, temporal.hidden, config.attention.size, config.attention.residual_init)
            if config.attention.enabled
            else None
        )
        if temporal.kind == "lstm":
            self.temporal: FrameLSTM | HSLSTM = FrameLSTM(self.channels, temporal.hidden, attention, extra)
        else:
            self.temporal = HSLSTM(self.channels, temporal.hidden, temporal.tiers, temporal.segments,
                                   temporal.node_length, attention, extra)
        self.heads = EmotionHeads(self.temporal.representation_size, config.multitask, config.dropout)

    @property
    def attention(self) -> FacialSoftAttention | None:
        """The facial soft attention module (owned by the temporal module's last tier), or None."""
        return self.temporal.attention

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Backbone feature blocks (B, T, C, K, K) of normalised frames (B, T, 3, H, W): what a feature cache stores."""
        self._check_frames(frames)
        return self.backbone(frames.flatten(0, 1)).unflatten(0, frames.shape[:2])

    def _check_frames(self, frames: torch.Tensor) -> None:
        size = self.config.input_size
        if frames.dim() != 5 or frames.shape[2] != 3 or frames.shape[3:] != (size, size):
            raise KavanError(f"frames must have shape (B, T, 3, {size}, {size}), got {tuple(frames.shape)}")

    def encode_frozen(self, frames: torch.Tensor) -> torch.Tensor:
        """The output (B, T, C', K', K') of the backbone's frozen part for frames (B, T, 3, H, W): what a feature
        cache stores. The whole backbone's output when it is frozen."""
        self._check_frames(frames)
        return self.backbone.encode_frozen(frames.flatten(0, 1)).unflatten(0, frames.shape[:2])

    def forward(self, frames: torch.Tensor | None = None, *, features: torch.Tensor | None = None,
                cached: torch.Tensor | None = None, glimpses: torch.Tensor | None = None,
                grey: list[torch.Tensor] | None = None) -> KavanOutput:
        """Predict from frames (B, T, 3, H, W), normalised as kavan.data.transforms gives them, from the backbone's
        output ``features``, or from its frozen part's output ``cached`` (encode_frozen).

        A glimpse model also needs, per clip, its glimpses (B, T, GLIMPSE_SIZE) as cached, or the T sampled frames
        in grey at their own size, ``grey[b]`` (T, H_b, W_b) uint8 (kavan.models.glimpse.grey_frames)."""
        if sum(x is not None for x in (frames, features, cached)) != 1:
            raise KavanError("pass exactly one of frames, features and cached")
        if cached is not None:
            expected = (self.config.t, self.cached_channels, self.cached_cells, self.cached_cells)
            if cached.dim() != 5 or tuple(cached.shape[1:]) != expected:
                raise KavanError(f"cached features must have shape (B, {', '.join(map(str, expected))}), "
                                 f"got {tuple(cached.shape)}")
            tail = self.backbone.tail
            features = tail(cached.flatten(0, 1)).unflatten(0, cached.shape[:2]) if len(tail) else cached
        elif frames is not None:
            features = self.encode_frames(frames)
        expected = (self.config.t, self.channels, self.cells, self.cells)
        if features.dim() != 5 or tuple(features.shape[1:]) != expected:
            raise KavanError(f"features must have shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(features.shape)}")
        cells = features.flatten(3).transpose(2, 3)  # X_t as K² cells of C channels: (B, T, K², C)
        extra = None
        if self.glimpses is not None:
            if glimpses is None:
                if grey is None:
                    raise KavanError("a glimpse model needs the clips' grey frames (grey=) or their cached "
                                     "glimpses (glimpses=)")
                glimpses = self.glimpses(features, grey)
            extra = self.glimpses.norm(glimpses.to(features.dtype))  # g_t, beyond the paper
        temporal = self.temporal(cells, extra)
        intensities, logits = self.heads(temporal.representation)
        attention = None
        if temporal.attention is not None:
            attention = temporal.attention.unflatten(2, (self.cells, self.cells))
        return KavanOutput(intensities=intensities, quadrant_logits=logits, attention=attention,
                           representation=temporal.representation)


def parameter_counts(model: KAVAN) -> dict[str, int]:
    """Parameters per part: backbone, attention, temporal (without the attention it owns), heads, total, trainable,
    and backbone_trainable (those of the backbone's trainable part); a glimpse model adds glimpses (its
    localiser, FER2013 reader and norm)."""
    def count(module: nn.Module | None) -> int:
        return 0 if module is None else sum(p.numel() for p in module.parameters())

    attention = count(model.attention)
    return {
        "backbone": count(model.backbone),
        "attention": attention,
        "temporal": count(model.temporal) - attention,
        "heads": count(model.heads),
        "total": count(model),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "backbone_trainable": sum(p.numel() for p in model.backbone.parameters() if p.requires_grad),
    } | ({"glimpses": count(model.glimpses)} if model.glimpses is not None else {})


def trainable_modules(model: KAVAN) -> list[str]:
    """The top-most modules whose parameters all train (``backbone.body.features.13``, ``temporal``, ``heads``):
    which parts of a config's network learn."""
    names: list[str] = []

    def visit(module: torch.nn.Module, prefix: str) -> None:
        params = list(module.parameters())
        if params and all(p.requires_grad for p in params):
            names.append(prefix)
            return
        for child_name, child in module.named_children():
            visit(child, f"{prefix}.{child_name}")

    for name, child in model.named_children():
        visit(child, name)
    return names
