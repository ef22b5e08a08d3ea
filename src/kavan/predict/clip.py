"""From a file or an array of frames to the model's input: TSN evaluation frames, resized and normalised.

The same steps as evaluation in training (kavan.data.loader): T segment-centre frames (kavan.media.sampling), each
whole frame resized to S x S and normalised with the ImageNet statistics (FrameTransform.evaluation). Only the
sampled frames are decoded (kavan.media.decode.read_frames keeps one canvas, whatever the file's length). The steps
live in a small frozen dataclass so DataLoader workers can run them (it pickles).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kavan.core.errors import KavanError
from kavan.data.transforms import FrameTransform
from kavan.media import decode
from kavan.media.sampling import tsn_indices
from kavan.models.glimpse import grey_frames

Source = str | os.PathLike | np.ndarray | Sequence[np.ndarray]


@dataclass(frozen=True)
class PreparedClip:
    """One clip ready for the model.

    inputs: (T, 3, S, S) float32, normalised. frames_used: the sampled indices. frames: the sampled frames as
    decoded, (T, H, W, 3) uint8, or None when not kept (they are only needed for pictures). grey: the sampled
    frames in grey at their own size, (T, H, W) uint8, for a glimpse model (kavan.models.glimpse), else None.
    """

    inputs: torch.Tensor
    frames_used: list[int]
    frames: np.ndarray | None
    grey: torch.Tensor | None = None


@dataclass(frozen=True)
class ClipPreparer:
    """Samples and transforms clips for a model with ``t`` frames of side ``size``."""

    t: int
    size: int
    limits: decode.Limits = decode.DEFAULT_LIMITS
    keep_frames: bool = False
    keep_grey: bool = False

    def from_path(self, path: str | os.PathLike[str]) -> PreparedClip:
        """Probe the file, decode its T evaluation frames, transform them. A bad file is a KavanError."""
        info = decode.probe(path, self.limits)
        indices = tsn_indices(info.n_frames, self.t, train=False)
        return self._prepare(decode.read_frames(path, indices, self.limits), indices)

    def from_frames(self, frames: np.ndarray | Sequence[np.ndarray]) -> PreparedClip:
        """TSN-sample frames given in memory: (N, H, W, 3) or (H, W, 3) uint8 RGB, or a list of (H, W, 3)."""
        clip = as_frame_array(frames)
        indices = tsn_indices(len(clip), self.t, train=False)
        return self._prepare(clip[indices], indices)

    def __call__(self, source: Source) -> PreparedClip:
        if isinstance(source, (str, os.PathLike)):
            return self.from_path(source)
        return self.from_frames(source)

    def _prepare(self, sampled: np.ndarray, indices: list[int]) -> PreparedClip:
        inputs, _ = FrameTransform.evaluation(self.size)(sampled)
        return PreparedClip(inputs, indices, sampled if self.keep_frames else None,
                            grey_frames(sampled) if self.keep_grey else None)


def as_frame_array(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Frames as one (N, H, W, 3) uint8 array; anything else is a KavanError saying what was expected."""
    expected = "frames must be uint8 RGB: an (N, H, W, 3) or (H, W, 3) array, or a list of (H, W, 3) arrays"
    if isinstance(frames, np.ndarray):
        array = frames[None] if frames.ndim == 3 else frames
    elif isinstance(frames, Sequence) and frames and all(isinstance(f, np.ndarray) for f in frames):
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise KavanError(f"{expected}; got frames of different shapes {sorted(shapes)}")
        array = np.stack(frames)
    else:
        raise KavanError(f"{expected}; got {type(frames).__name__}")
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise KavanError(f"{expected}; got shape {array.shape} dtype {array.dtype}")
    return array
