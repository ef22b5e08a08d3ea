"""One geometric transform for a clip's frames and its keypoints: (random) crop, resize to S x S, flip.

Frames and keypoints go through the same crop box, scale and flip, drawn once per clip, so the
keypoint heatmaps stay on the faces the backbone sees. Image ops are torchvision's
``transforms.v2.functional``; the keypoint arithmetic uses the same geometry they do: pixel centres at
integer coordinates (the image spans [-0.5, W - 0.5]) and half-pixel-centred resampling, so

    crop at (top, left):     x -> x - left
    resize crop width w->S:  x -> (x + 0.5) * S / w - 0.5
    horizontal flip:         x -> S - 1 - x, and the points swap sides (kavan.keypoints.landmarks.MIRROR)

and likewise for y (without the flip). Keypoints that end outside the S x S output keep their
coordinates but get confidence 0: they are not in the picture, so they must not supervise attention.

Evaluation resizes the whole frame to S x S (no crop): GIFs come in every aspect ratio (500 x 281 is
common), a centre crop of a wide frame would cut off faces near its sides, and the heatmap grid covers
the whole image anyway; ResNet's 224 x 224 input then sees a slightly stretched but complete frame.
Training (``FrameTransform.training``) adds a mild random crop (area fraction and aspect ratio drawn as
in torchvision's RandomResizedCrop) and a random horizontal flip. Reasons and tests: docs/heatmaps.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from kavan.core.errors import KavanError
from kavan.keypoints.landmarks import MIRROR, validate_keypoints

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CropParams:
    """The random draw for one clip: crop box in input pixels and whether to flip."""

    top: int
    left: int
    height: int
    width: int
    flip: bool


@dataclass(frozen=True)
class FrameTransform:
    """Crop / resize / flip / normalise a clip and its keypoints alike.

    size: output side S. crop_scale: (min, max) area fraction of a random crop for training, or None
    for the whole frame. crop_ratio: (min, max) aspect ratio (width / height) of that crop.
    flip_probability: chance of a horizontal flip per clip. mean, std: per-channel normalisation
    of the [0, 1] image (ImageNet statistics, for ImageNet-trained backbones).
    """

    size: int = 224
    crop_scale: tuple[float, float] | None = None
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_probability: float = 0.0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if self.size < 1:
            raise KavanError(f"transform size must be >= 1, got {self.size}")
        if self.crop_scale is not None and not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise KavanError(f"crop_scale must satisfy 0 < min <= max <= 1, got {self.crop_scale}")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise KavanError(f"crop_ratio must satisfy 0 < min <= max, got {self.crop_ratio}")
        if not 0 <= self.flip_probability <= 1:
            raise KavanError(f"flip_probability must be in [0, 1], got {self.flip_probability}")

    @classmethod
    def training(cls, size: int = 224, crop_scale: tuple[float, float] = (0.6, 1.0),
                 flip_probability: float = 0.5) -> FrameTransform:
        """Training augmentation: mild random crops (a crop keeps >= ~60 % of the area, so a face
        is rarely cut away and its keypoint loss kept) and a left-right flip half the time."""
        return cls(size=size, crop_scale=crop_scale, flip_probability=flip_probability)

    @classmethod
    def evaluation(cls, size: int = 224) -> FrameTransform:
        """Deterministic: the whole frame resized to size x size."""
        return cls(size=size)

    @property
    def is_random(self) -> bool:
        """Whether calls draw from a generator (random crop or flip configured)."""
        return self.crop_scale is not None or self.flip_probability > 0

    def sample(self, height: int, width: int, generator: np.random.Generator | None) -> CropParams:
        """Draw the crop box and flip for a clip of height x width frames (one draw per clip)."""
        if not self.is_random:
            return CropParams(0, 0, height, width, False)
        if generator is None:
            raise ValueError("a random FrameTransform needs a numpy Generator")
        top, left, crop_h, crop_w = 0, 0, height, width
        if self.crop_scale is not None:
            top, left, crop_h, crop_w = self._random_crop(height, width, generator)
        flip = bool(generator.random() < self.flip_probability)
        return CropParams(top, left, crop_h, crop_w, flip)

    def _random_crop(self, height: int, width: int,
                     generator: np.random.Generator) -> tuple[int, int, int, int]:
        """RandomResizedCrop's box, drawn from a numpy Generator: area fraction uniform in
        crop_scale, log aspect ratio uniform in crop_ratio, ten tries, then the central crop."""
        area = height * width
        log_ratio = (math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]))
        for _ in range(10):
            target = area * generator.uniform(*self.crop_scale)
            ratio = math.exp(generator.uniform(*log_ratio))
            crop_w = int(round(math.sqrt(target * ratio)))
            crop_h = int(round(math.sqrt(target / ratio)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                top = int(generator.integers(0, height - crop_h + 1))
                left = int(generator.integers(0, width - crop_w + 1))
                return top, left, crop_h, crop_w
        ratio = width / height
        if ratio < self.crop_ratio[0]:
            crop_w, crop_h = width, int(round(width / self.crop_ratio[0]))
        elif ratio > self.crop_ratio[1]:
            crop_h, crop_w = height, int(round(height * self.crop_ratio[1]))
        else:
            crop_w, crop_h = width, height
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def __call__(self, frames: np.ndarray, keypoints: np.ndarray | None = None,
                 generator: np.random.Generator | None = None) -> tuple[torch.Tensor, np.ndarray | None]:
        """Transform a clip: frames (T, H, W, 3) uint8 -> (T, 3, S, S) float32, normalised; keypoints
        (T, P, 3) or (T, N, P, 3) in input pixels -> the same shape in output pixels (or None).

        The random parameters are drawn once from ``generator`` and used for every frame.
        """
        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 \
                or frames.dtype != np.uint8 or 0 in frames.shape:
            shape = getattr(frames, "shape", None)
            raise KavanError(f"frames must be a non-empty (T, H, W, 3) uint8 array, got shape {shape} "
                             f"dtype {getattr(frames, 'dtype', type(frames).__name__)}")
        params = self.sample(frames.shape[1], frames.shape[2], generator)
        return self.apply_frames(frames, params), (
            None if keypoints is None else self.apply_keypoints(keypoints, params, len(frames)))

    def apply_frames(self, frames: np.ndarray, params: CropParams) -> torch.Tensor:
        """Crop, resize (bilinear, antialiased), flip and normalise (T, H, W, 3) uint8 frames."""
        images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        images = TF.resized_crop(images, params.top, params.left, params.height, params.width,
                                 [self.size, self.size], antialias=True)
        if params.flip:
            images = TF.horizontal_flip(images)
        images = TF.to_dtype(images, torch.float32, scale=True)
        return TF.normalize(images, list(self.mean), list(self.std))

    def apply_keypoints(self, keypoints: np.ndarray, params: CropParams, n_frames: int) -> np.ndarray:
        """Map keypoints (T, P, 3) or (T, N, P, 3) into output pixels; see the module docstring."""
        points = np.array(keypoints, dtype=np.float32)
        n_points = validate_keypoints(points.shape)
        if points.shape[0] != n_frames:
            raise KavanError(f"keypoints have {points.shape[0]} frames but the clip has {n_frames}")
        # float64, multiply before dividing: image edges (-0.5, W - 0.5) land exactly on the output's.
        x = (points[..., 0].astype(np.float64) - params.left + 0.5) * self.size / params.width - 0.5
        y = (points[..., 1].astype(np.float64) - params.top + 0.5) * self.size / params.height - 0.5
        if params.flip:
            x = self.size - 1 - x
        points[..., 0], points[..., 1] = x, y
        outside = ~((x >= -0.5) & (x <= self.size - 0.5) & (y >= -0.5) & (y <= self.size - 0.5))
        points[..., 2] = np.where(outside, 0.0, points[..., 2])
        if params.flip:
            points = points[..., MIRROR[:n_points], :]
        return points
